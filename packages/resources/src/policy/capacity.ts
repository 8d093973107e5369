/**
 * Spare capacity: what a node can still give, for load balancing. The app advertises it (in its
 * status, or its signed descriptor); a selection (trainers, committee) can weigh candidates by it
 * through {@link weighByCapacity}, an injected policy.
 * @module
 */
import type { ResourceLimits } from '../limits.js'
import type { ResourceSample } from '../sampling/sample.js'

/** What a node can still give. Figures it does not know are undefined (absent). */
export interface SpareCapacity {
  /** Cores free for this node's tasks: cores × min(maxCpu, 1 − others' share). */
  cpuCores: number | undefined
  /** Bytes this node may still use: min(available − reserve, maxMemory − own RSS). */
  memoryBytes: number | undefined
  /** Whether it runs on battery (undefined: no battery information). */
  onBattery: boolean | undefined
  gpus: number
  /** 0–1: the share of its CPU budget free, halved on battery (what {@link weighByCapacity} uses). */
  score: number
}

/** Spare capacity from a sample and the node's limits. */
export function spareCapacity(
  sample: ResourceSample | undefined,
  limits: Pick<ResourceLimits, 'maxCpu' | 'maxMemory' | 'minFreeMemory'>,
): SpareCapacity {
  if (sample === undefined)
    return { cpuCores: undefined, memoryBytes: undefined, onBattery: undefined, gpus: 0, score: 0.5 }
  const { cores, others } = sample.cpu
  const cpuCores = others === undefined ? undefined : cores * Math.max(0, Math.min(limits.maxCpu, 1 - others))
  const { availableBytes, totalBytes, process } = sample.memory
  let memoryBytes =
    availableBytes === undefined ? undefined : Math.max(0, availableBytes - limits.minFreeMemory * totalBytes)
  if (limits.maxMemory !== undefined) {
    const own = Math.max(0, limits.maxMemory - process.rssBytes)
    memoryBytes = memoryBytes === undefined ? own : Math.min(memoryBytes, own)
  }
  const onBattery = sample.power?.onBattery
  const cpuShare = cpuCores === undefined ? 0.5 : cpuCores / Math.max(1e-9, cores * limits.maxCpu)
  const score = Math.max(0, Math.min(1, cpuShare)) * (onBattery === true ? 0.5 : 1)
  return { cpuCores, memoryBytes, onBattery, gpus: sample.gpu?.length ?? 0, score }
}

/**
 * A selection weight from spare capacity: `weight × (floor + (1 − floor) × score)`. With the
 * default floor 0.5 a node with nothing to spare keeps half its weight (capacity tilts the
 * choice, it never excludes a node — stake and reputation stay what decides eligibility); a node
 * that advertises nothing counts as score 0.5.
 *
 * @example
 * ```ts
 * // candidates as the selection has them (e.g. stake-weighted), re-weighted by advertised capacity
 * const weighted = weighByCapacity(candidates, (c) => c.weight, (c) => capacityOf(c.id))
 * ```
 */
export function weighByCapacity<T>(
  items: readonly T[],
  weightOf: (item: T) => number,
  capacityOf: (item: T) => Pick<SpareCapacity, 'score'> | undefined,
  floor = 0.5,
): Array<{ item: T; weight: number }> {
  const f = Math.max(0, Math.min(1, floor))
  return items.map((item) => {
    const score = capacityOf(item)?.score
    const s = score === undefined || !Number.isFinite(score) ? 0.5 : Math.max(0, Math.min(1, score))
    return { item, weight: weightOf(item) * (f + (1 - f) * s) }
  })
}

/** What a node puts in its signed descriptor (the shape of `@vain/net`'s `CapacityAdvert`). */
export interface CapacityAdvert {
  score: number
  cpuCores?: number
  memoryBytes?: number
  gpus?: number
  onBattery?: boolean
}

/**
 * The coarse, stable form of {@link SpareCapacity} a node advertises: the score rounded down to a
 * quarter, cores to a quarter core, memory down to 64 MiB; unknown figures left out (absent, not
 * zero). Peers weigh candidates by it, and every peer must see the same figures, so a node
 * advertises it once (at start) rather than on every sample.
 *
 * @example
 * ```ts
 * const node = await createNode({ capacity: advertisedCapacity(spareCapacity(monitor.latest(), limits)) })
 * ```
 */
export function advertisedCapacity(spare: SpareCapacity): CapacityAdvert {
  const quarter = (x: number) => Math.floor(Math.max(0, x) * 4 + 1e-9) / 4
  const MiB64 = 64 * 1024 * 1024
  return {
    score: Math.min(1, quarter(Number.isFinite(spare.score) ? spare.score : 0)),
    ...(spare.cpuCores !== undefined && Number.isFinite(spare.cpuCores) ? { cpuCores: quarter(spare.cpuCores) } : {}),
    ...(spare.memoryBytes !== undefined && Number.isFinite(spare.memoryBytes)
      ? { memoryBytes: Math.floor(Math.max(0, spare.memoryBytes) / MiB64) * MiB64 }
      : {}),
    gpus: Math.max(0, Math.floor(spare.gpus)),
    ...(spare.onBattery !== undefined ? { onBattery: spare.onBattery } : {}),
  }
}
