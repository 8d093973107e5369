/** Input checks shared by the aggregators (internal). @module */
import { ConfigError, InvalidUpdateError, ShapeMismatchError } from '../errors.js'
import { NoUpdatesError } from './errors.js'

/** Throws unless there is at least one update and all have the same length; returns that length. */
export function checkShapes(updates: readonly Float32Array[], what = 'update'): number {
  if (updates.length === 0) throw new NoUpdatesError(`no ${what}s to aggregate`)
  const d = updates[0]!.length
  for (let i = 1; i < updates.length; i++) {
    const u = updates[i]!
    if (!(u instanceof Float32Array)) throw new InvalidUpdateError(`${what} ${i} is not a Float32Array`)
    if (u.length !== d) throw new ShapeMismatchError(`${what} ${i} length`, [d], [u.length])
  }
  if (!(updates[0] instanceof Float32Array)) throw new InvalidUpdateError(`${what} 0 is not a Float32Array`)
  return d
}

/** Throws `InvalidUpdateError` naming the first non-finite value of any update. */
export function assertFinite(updates: readonly Float32Array[], what = 'update'): void {
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i]!
    for (let j = 0; j < u.length; j++) {
      const v = u[j]!
      if (v - v !== 0) throw new InvalidUpdateError(`${what} ${i} has a non-finite value (${v}) at index ${j}`)
    }
  }
}

/**
 * Validates weights (finite, >= 0, positive sum, one per update) and returns them normalized to
 * sum 1 (float64), or uniform weights when none are given.
 */
export function normalizedWeights(n: number, weights: readonly number[] | undefined): Float64Array {
  const w = new Float64Array(n)
  if (weights === undefined) {
    w.fill(1 / n)
    return w
  }
  if (weights.length !== n) throw new ShapeMismatchError('weights', [n], [weights.length])
  let total = 0
  for (let i = 0; i < n; i++) {
    const x = weights[i]!
    if (!(typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
      throw new InvalidUpdateError(`weight ${i} must be a finite number >= 0, got ${x}`)
    }
    total += x
  }
  if (!(total > 0) || !Number.isFinite(total))
    throw new InvalidUpdateError(`weights must have a positive finite sum, got ${total}`)
  for (let i = 0; i < n; i++) w[i] = weights[i]! / total
  return w
}

/** Throws `ConfigError` unless `value` is an integer in [min, max]. */
export function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${value}`)
  }
  return value
}

/** Throws `ConfigError` unless `value` is a finite number in the (closed or open) range. */
export function checkNumber(name: string, value: number, min: number, max: number, openMin = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value > max || (openMin ? value <= min : value < min)) {
    throw new ConfigError(`${name} must be a number in ${openMin ? '(' : '['}${min}, ${max}], got ${value}`)
  }
  return value
}

/** Writes float64 `acc` into a new Float32Array; if a value is not finite, finds and names the culprit. */
export function toFloat32Checked(acc: Float64Array, updates: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(acc.length)
  let bad = false
  for (let j = 0; j < acc.length; j++) {
    const v = acc[j]!
    if (v - v !== 0) bad = true
    out[j] = v
  }
  if (bad) {
    assertFinite(updates)
    throw new InvalidUpdateError('aggregate is not finite')
  }
  return out
}
