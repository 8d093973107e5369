/** Byzantine attack models for evaluating robust aggregation. @module */
import { checkShapes } from '../aggregators/validate.js'
import { ConfigError } from '../errors.js'
import { normalQuantile } from '../privacy/special.js'
import { createRng } from '../random.js'

/**
 * An attack, applied by the simulation to the clients chosen as attackers. A data-poisoning
 * attack maps the attackers' labels before local training (`poisonLabels`); a model-poisoning
 * attack replaces their updates after training (`poisonUpdates`), possibly using what the
 * honest clients sent (an omniscient attacker, the standard worst case in the literature).
 *
 * @example
 * ```ts
 * import { applyAttack, littleIsEnough } from '@vain/fl'
 * const { updates, attackers } = applyAttack(littleIsEnough(), honestDeltas, { fraction: 0.2, seed: 1 })
 * ```
 */
export interface Attack {
  /** Kebab-case name, as used by {@link createAttack}. */
  readonly name: string
  /** Data poisoning: the labels an attacker trains on instead of its true ones (a new array). */
  poisonLabels?(labels: Int32Array, numClasses: number): Int32Array
  /**
   * Model poisoning: returns a new list where each index in `attackers` holds the malicious
   * update and every other entry is the honest update unchanged (same object). `updates` holds
   * every client's honest update, the attackers' included.
   */
  poisonUpdates?(updates: readonly Float32Array[], attackers: readonly number[]): Float32Array[]
}

function checkAttackers(n: number, attackers: readonly number[]): Set<number> {
  const set = new Set<number>()
  for (const a of attackers) {
    if (!(Number.isInteger(a) && a >= 0 && a < n))
      throw new ConfigError(`attacker index ${a} is not a client (0..${n - 1})`)
    set.add(a)
  }
  return set
}

/** Float64 per-coordinate mean and (population) standard deviation over `rows`. */
function stats(
  updates: readonly Float32Array[],
  rows: readonly number[],
  d: number,
): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(d)
  const std = new Float64Array(d)
  for (const i of rows) {
    const u = updates[i]!
    for (let j = 0; j < d; j++) mean[j] = mean[j]! + u[j]!
  }
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / rows.length
  for (const i of rows) {
    const u = updates[i]!
    for (let j = 0; j < d; j++) {
      const t = u[j]! - mean[j]!
      std[j] = std[j]! + t * t
    }
  }
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]! / rows.length)
  return { mean, std }
}

function honestRows(n: number, attackers: Set<number>): number[] {
  const rows: number[] = []
  for (let i = 0; i < n; i++) if (!attackers.has(i)) rows.push(i)
  return rows.length > 0 ? rows : Array.from({ length: n }, (_, i) => i)
}

function replace(
  updates: readonly Float32Array[],
  attackers: Set<number>,
  make: (i: number) => Float32Array,
): Float32Array[] {
  return updates.map((u, i) => (attackers.has(i) ? make(i) : u))
}

/**
 * Sign flipping: each attacker sends `−scale ×` its honest update (scale 1 by default;
 * Damaskinos et al. 2018 and most robust-aggregation benchmarks).
 *
 * @example
 * ```ts
 * import { signFlip } from '@vain/fl'
 * const poisoned = signFlip({ scale: 4 }).poisonUpdates!(deltas, [0, 3])
 * ```
 */
export function signFlip(init: { scale?: number } = {}): Attack {
  const scale = init.scale ?? 1
  if (!Number.isFinite(scale)) throw new ConfigError(`signFlip scale must be finite, got ${scale}`)
  return {
    name: 'sign-flip',
    poisonUpdates(updates, attackers) {
      checkShapes(updates)
      const set = checkAttackers(updates.length, attackers)
      return replace(updates, set, (i) => updates[i]!.map((x) => -scale * x))
    },
  }
}

/**
 * Gaussian noise: each attacker sends a vector of i.i.d. N(0, std²) values instead of its update
 * (`mode: 'replace'`, default), or adds that noise to it (`mode: 'add'`). Seeded: the draws
 * continue from call to call.
 *
 * @example
 * ```ts
 * import { gaussianAttack } from '@vain/fl'
 * const attack = gaussianAttack({ std: 1, seed: 7 })
 * ```
 */
export function gaussianAttack(init: { std?: number; mode?: 'replace' | 'add'; seed?: number } = {}): Attack {
  const std = init.std ?? 1
  if (!(Number.isFinite(std) && std >= 0)) throw new ConfigError(`gaussianAttack std must be >= 0, got ${std}`)
  const mode = init.mode ?? 'replace'
  const rng = createRng(init.seed ?? 1)
  return {
    name: 'gaussian',
    poisonUpdates(updates, attackers) {
      checkShapes(updates)
      const set = checkAttackers(updates.length, attackers)
      return replace(updates, set, (i) => {
        const u = updates[i]!
        const out = new Float32Array(u.length)
        for (let j = 0; j < u.length; j++) out[j] = (mode === 'add' ? u[j]! : 0) + std * rng.normal()
        return out
      })
    },
  }
}

/**
 * The `z` of "a little is enough" for `n` clients of which `f` attack (Baruch et al. 2019,
 * §4): with `s = ⌊n/2 + 1⌋ − f` honest supporters needed, `z = Φ⁻¹((n − s)/n)`.
 *
 * @example
 * ```ts
 * import { alieZ } from '@vain/fl'
 * alieZ(50, 12) // ≈ 0.58: s = 26 − 12 = 14 supporters, Φ⁻¹(36/50)
 * ```
 */
export function alieZ(n: number, f: number): number {
  const s = Math.floor(n / 2 + 1) - f
  const p = (n - s) / n
  // p <= 0.5 would ask for a shift towards the mean; clamp to 0 (attackers then send the mean)
  return p <= 0.5 ? 0 : normalQuantile(Math.min(p, 1 - 1e-12))
}

/**
 * "A little is enough" (Baruch, Baruch & Goldberg 2019): every attacker sends
 * `mean − z·std`, per coordinate over the honest updates — small enough to pass as honest
 * under median, trimmed mean, Krum and Bulyan, consistently biased enough to stall or steer
 * training. `z` defaults to {@link alieZ}(n, number of attackers).
 *
 * @example
 * ```ts
 * import { littleIsEnough } from '@vain/fl'
 * const attack = littleIsEnough() // or littleIsEnough({ z: 1.5 })
 * ```
 */
export function littleIsEnough(init: { z?: number } = {}): Attack {
  if (init.z !== undefined && !Number.isFinite(init.z))
    throw new ConfigError(`littleIsEnough z must be finite, got ${init.z}`)
  return {
    name: 'little-is-enough',
    poisonUpdates(updates, attackers) {
      const d = checkShapes(updates)
      const set = checkAttackers(updates.length, attackers)
      if (set.size === 0) return [...updates]
      const z = init.z ?? alieZ(updates.length, set.size)
      const { mean, std } = stats(updates, honestRows(updates.length, set), d)
      const bad = new Float32Array(d)
      for (let j = 0; j < d; j++) bad[j] = mean[j]! - z * std[j]!
      return replace(updates, set, () => bad.slice())
    },
  }
}

/**
 * Inner-product manipulation (Xie, Koyejo & Gupta 2019, "Fall of Empires"): every attacker
 * sends `−ε ×` the mean of the honest updates, so the aggregate's inner product with the true
 * gradient turns negative. Small ε (default 0.1) slips past median/Krum-style defenses; large ε
 * (e.g. 100) overwhelms the mean.
 *
 * @example
 * ```ts
 * import { innerProductManipulation } from '@vain/fl'
 * const attack = innerProductManipulation({ epsilon: 0.5 })
 * ```
 */
export function innerProductManipulation(init: { epsilon?: number } = {}): Attack {
  const eps = init.epsilon ?? 0.1
  if (!(Number.isFinite(eps) && eps >= 0))
    throw new ConfigError(`innerProductManipulation epsilon must be >= 0, got ${eps}`)
  return {
    name: 'inner-product',
    poisonUpdates(updates, attackers) {
      const d = checkShapes(updates)
      const set = checkAttackers(updates.length, attackers)
      if (set.size === 0) return [...updates]
      const { mean } = stats(updates, honestRows(updates.length, set), d)
      const bad = new Float32Array(d)
      for (let j = 0; j < d; j++) bad[j] = -eps * mean[j]!
      return replace(updates, set, () => bad.slice())
    },
  }
}

/**
 * Label flipping (data poisoning; Biggio et al. 2012, Tolpegin et al. 2020): attackers train on
 * relabelled data. By default `y → numClasses − 1 − y` (MNIST: 0↔9, 1↔8, …); or give a
 * `mapping` (`mapping[y]` is the new label; classes it does not cover keep theirs). The
 * returned attack has `poisonLabels`, and {@link flipLabels} is the plain function.
 *
 * @example
 * ```ts
 * import { labelFlip } from '@vain/fl'
 * const attack = labelFlip()                    // reverse all classes
 * const sevensAsOnes = labelFlip({ mapping: { 7: 1 } })
 * const poisoned = attack.poisonLabels!(clientData.labels, 10)
 * ```
 */
export function labelFlip(init: { mapping?: Readonly<Record<number, number>> } = {}): Attack {
  const mapping = init.mapping
  return {
    name: 'label-flip',
    poisonLabels: (labels, numClasses) => flipLabels(labels, numClasses, mapping),
  }
}

/**
 * Relabels `labels` (a new array): `mapping[y]` where given, else `numClasses − 1 − y` when no
 * mapping is given at all, else `y`. Every output label is checked to be a class.
 *
 * @example
 * ```ts
 * import { flipLabels } from '@vain/fl'
 * flipLabels(Int32Array.from([0, 1, 9]), 10) // Int32Array [9, 8, 0]
 * ```
 */
export function flipLabels(
  labels: Int32Array,
  numClasses: number,
  mapping?: Readonly<Record<number, number>>,
): Int32Array {
  if (!(Number.isInteger(numClasses) && numClasses >= 2))
    throw new ConfigError(`numClasses must be an integer >= 2, got ${numClasses}`)
  const out = new Int32Array(labels.length)
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!
    if (!(y >= 0 && y < numClasses)) throw new ConfigError(`label ${y} at ${i} is not a class in 0..${numClasses - 1}`)
    const m = mapping === undefined ? numClasses - 1 - y : (mapping[y] ?? y)
    if (!(Number.isInteger(m) && m >= 0 && m < numClasses))
      throw new ConfigError(`mapping sends ${y} to ${m}, not a class`)
    out[i] = m
  }
  return out
}
