/** Turning client updates into one server-side delta (internal). @module */
import { NoUpdatesError } from '../aggregators/errors.js'
import type { Aggregator } from '../aggregators/types.js'
import { ConfigError, InvalidUpdateError, ShapeMismatchError } from '../errors.js'
import { StrategyStateError } from './errors.js'
import type { ClientUpdate, StalenessFunction, StrategyState } from './types.js'

/** How client updates are weighted before they are combined. */
export type Weighting = 'samples' | 'uniform'

/** Options shared by the synchronous strategies. */
export interface CombineOptions {
  /**
   * Robust aggregator that combines the client deltas (e.g. `trimmedMean({ beta: 0.1 })`);
   * default: the weighted mean, computed without materializing the deltas.
   */
  aggregator?: Aggregator
  /** `'samples'` (default: weight = numSamples, as FedAvg) or `'uniform'`. */
  weighting?: Weighting
  /** Multiplies each weight by `s(staleness)` (e.g. `polynomialStaleness(0.5)`); default none. */
  staleness?: StalenessFunction
}

/** Checks one update against the global model; returns its delta/params array. */
export function checkUpdate(global: Float32Array, u: ClientUpdate, i: number): Float32Array {
  if (u === null || typeof u !== 'object') throw new InvalidUpdateError(`update ${i} is not an object`)
  const arr = u.delta ?? u.params
  if (!(arr instanceof Float32Array))
    throw new InvalidUpdateError(`update ${i} has neither a delta nor params Float32Array`)
  if (u.delta !== undefined && u.params !== undefined)
    throw new InvalidUpdateError(`update ${i} has both delta and params`)
  if (arr.length !== global.length) throw new ShapeMismatchError(`update ${i} length`, [global.length], [arr.length])
  if (!(typeof u.numSamples === 'number' && Number.isFinite(u.numSamples) && u.numSamples >= 0)) {
    throw new InvalidUpdateError(`update ${i} numSamples must be a finite number >= 0, got ${u.numSamples}`)
  }
  const tau = u.staleness
  if (tau !== undefined && !(typeof tau === 'number' && Number.isFinite(tau) && tau >= 0)) {
    throw new InvalidUpdateError(`update ${i} staleness must be a finite number >= 0, got ${tau}`)
  }
  return arr
}

/** Raw (unnormalized) weight of an update. */
export function rawWeight(u: ClientUpdate, weighting: Weighting, staleness: StalenessFunction | undefined): number {
  const base = weighting === 'samples' ? u.numSamples : 1
  const s = staleness === undefined ? 1 : staleness(u.staleness ?? 0)
  if (!(Number.isFinite(s) && s >= 0)) throw new ConfigError(`staleness weighting returned ${s}`)
  return base * s
}

/** The delta of an update as float32 (a new array for params updates, the same array for deltas). */
export function deltaOf(global: Float32Array, u: ClientUpdate): Float32Array {
  if (u.delta !== undefined) return u.delta
  const p = u.params!
  const out = new Float32Array(global.length)
  for (let j = 0; j < out.length; j++) out[j] = p[j]! - global[j]!
  return out
}

/**
 * The combined server-side delta Δ (float64): the weighted mean of the client deltas, or the
 * output of `options.aggregator` over them. Validates everything; throws on non-finite results.
 */
export function combineUpdates(
  global: Float32Array,
  updates: readonly ClientUpdate[],
  options: CombineOptions,
): Float64Array {
  if (!(global instanceof Float32Array)) throw new InvalidUpdateError('global parameters must be a Float32Array')
  if (updates.length === 0) throw new NoUpdatesError('no client updates to aggregate')
  const weighting = options.weighting ?? 'samples'
  const weights = updates.map((u, i) => {
    checkUpdate(global, u, i)
    return rawWeight(u, weighting, options.staleness)
  })
  const total = weights.reduce((a, b) => a + b, 0)
  if (!(total > 0 && Number.isFinite(total))) {
    throw new InvalidUpdateError(`update weights must have a positive finite sum, got ${total} (all numSamples 0?)`)
  }
  const d = global.length
  let acc: Float64Array
  if (options.aggregator !== undefined) {
    const deltas = updates.map((u) => deltaOf(global, u))
    acc = Float64Array.from(options.aggregator.aggregate(deltas, { weights }))
    if (acc.length !== d) throw new ShapeMismatchError('aggregator output', [d], [acc.length])
  } else {
    acc = new Float64Array(d)
    for (let i = 0; i < updates.length; i++) {
      const w = weights[i]! / total
      if (w === 0) continue
      const u = updates[i]!
      if (u.delta !== undefined) {
        const x = u.delta
        for (let j = 0; j < d; j++) acc[j] = acc[j]! + w * x[j]!
      } else {
        const p = u.params!
        for (let j = 0; j < d; j++) acc[j] = acc[j]! + w * (p[j]! - global[j]!)
      }
    }
  }
  for (let j = 0; j < d; j++) {
    const v = acc[j]!
    if (v - v !== 0)
      throw new InvalidUpdateError(`combined update is not finite at index ${j} (a client sent NaN/Infinity?)`)
  }
  return acc
}

/** `global + step` rounded to float32, as a new array. */
export function applyStep(global: Float32Array, step: ArrayLike<number>, scale = 1): Float32Array {
  const out = new Float32Array(global.length)
  for (let j = 0; j < out.length; j++) out[j] = global[j]! + scale * step[j]!
  return out
}

/** A lazily sized float64 state buffer, checked against the model length. */
export class StateBuffer {
  value: Float64Array | undefined
  constructor(
    readonly name: string,
    private readonly init: number = 0,
  ) {}
  get(length: number): Float64Array {
    if (this.value === undefined) {
      this.value = new Float64Array(length)
      if (this.init !== 0) this.value.fill(this.init)
    } else if (this.value.length !== length) {
      throw new ShapeMismatchError(
        `strategy state '${this.name}' length (call reset() for a new model)`,
        [this.value.length],
        [length],
      )
    }
    return this.value
  }
}

/** Builds a `StrategyState` from buffers (copied). */
export function saveState(
  strategy: string,
  round: number,
  buffers: StateBuffer[],
  scalars: Record<string, number> = {},
): StrategyState {
  const out: Record<string, Float64Array> = {}
  for (const b of buffers) if (b.value !== undefined) out[b.name] = b.value.slice()
  return { strategy, round, buffers: out, scalars: { ...scalars } }
}

/** Restores buffers from a `StrategyState` (copied); returns its round. */
export function loadState(strategy: string, state: StrategyState, buffers: StateBuffer[]): number {
  if (state === null || typeof state !== 'object' || state.strategy !== strategy) {
    throw new StrategyStateError(`state was saved by '${(state as StrategyState | null)?.strategy}', not '${strategy}'`)
  }
  if (!(Number.isInteger(state.round) && state.round >= 0)) throw new StrategyStateError(`invalid round ${state.round}`)
  const names = new Set(buffers.map((b) => b.name))
  for (const key of Object.keys(state.buffers ?? {})) {
    if (!names.has(key)) throw new StrategyStateError(`unknown buffer '${key}' for strategy '${strategy}'`)
  }
  let length: number | undefined
  for (const b of buffers) {
    const v = state.buffers[b.name]
    if (v !== undefined && !(v instanceof Float64Array))
      throw new StrategyStateError(`buffer '${b.name}' must be a Float64Array`)
    if (v !== undefined) {
      if (length !== undefined && v.length !== length)
        throw new StrategyStateError('state buffers have different lengths')
      length = v.length
    }
  }
  for (const b of buffers) b.value = state.buffers[b.name]?.slice()
  return state.round
}
