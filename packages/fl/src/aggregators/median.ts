/** Coordinate-wise median and trimmed mean. @module */
import { ConfigError } from '../errors.js'
import { allRows, reduceCoordinates } from './coordinate.js'
import { selectRange } from './select.js'
import type { Aggregator } from './types.js'
import { checkNumber, checkShapes } from './validate.js'

/** Median of buf[off..off+m) (reorders it); the mean of the two middle values when m is even. */
export function medianOf(buf: Float64Array, off: number, m: number): number {
  const hi = off + m
  const k = off + ((m - 1) >> 1)
  const lower = selectRange(buf, off, hi, k)
  if ((m & 1) === 1) return lower
  // the upper middle value is the smallest of the right part
  let upper = buf[k + 1]!
  for (let i = k + 2; i < hi; i++) if (buf[i]! < upper) upper = buf[i]!
  return (lower + upper) / 2
}

/**
 * Coordinate-wise median (Yin et al. 2018): each output coordinate is the median of that
 * coordinate over all updates (mean of the two middle values for an even count). Tolerates
 * up to ⌈n/2⌉ − 1 arbitrary updates per coordinate. Weights are ignored (one update, one vote).
 * Works block by block with one reusable buffer and a selection algorithm (no sort, no
 * per-coordinate allocation).
 *
 * @example
 * ```ts
 * import { median } from '@vain/fl'
 * median().aggregate([new Float32Array([1, 0]), new Float32Array([2, 0]), new Float32Array([1e9, 5])]) // [2, 0]
 * ```
 */
export function median(): Aggregator {
  return {
    name: 'median',
    aggregate(updates) {
      const d = checkShapes(updates)
      return reduceCoordinates(updates, allRows(updates.length), d, medianOf)
    },
    reset() {},
  }
}

/** Options of {@link trimmedMean}. */
export interface TrimmedMeanInit {
  /**
   * Fraction trimmed from **each** end, in [0, 0.5): with `n` updates, ⌊beta·n⌋ smallest and as
   * many largest values of every coordinate are dropped. Default 0.1.
   */
  beta?: number
  /** Alternatively the exact number trimmed from each end (overrides `beta`). */
  trim?: number
}

/**
 * Coordinate-wise trimmed mean (Yin et al. 2018): for every coordinate drop the `k` smallest and
 * `k` largest values (`k = ⌊beta·n⌋`, or `trim`) and average the rest. Tolerates up to `k`
 * Byzantine updates. Weights are ignored. Throws `ConfigError` when `2k >= n`.
 *
 * @example
 * ```ts
 * import { trimmedMean } from '@vain/fl'
 * const agg = trimmedMean({ beta: 0.2 }) // with 10 updates: drop 2 low + 2 high per coordinate
 * const out = agg.aggregate(deltas)
 * ```
 */
export function trimmedMean(init: TrimmedMeanInit = {}): Aggregator {
  const beta = checkNumber('trimmedMean beta', init.beta ?? 0.1, 0, 0.5)
  if (beta >= 0.5) throw new ConfigError(`trimmedMean beta must be < 0.5, got ${beta}`)
  const fixedTrim = init.trim
  if (fixedTrim !== undefined && !(Number.isInteger(fixedTrim) && fixedTrim >= 0)) {
    throw new ConfigError(`trimmedMean trim must be an integer >= 0, got ${fixedTrim}`)
  }
  return {
    name: 'trimmed-mean',
    aggregate(updates) {
      const d = checkShapes(updates)
      const n = updates.length
      const k = fixedTrim ?? Math.floor(beta * n)
      if (2 * k >= n) throw new ConfigError(`trimmedMean cannot trim ${k} from each end of ${n} updates`)
      if (k === 0) {
        return reduceCoordinates(updates, allRows(n), d, (buf, off, m) => {
          let s = 0
          for (let i = off; i < off + m; i++) s += buf[i]!
          return s / m
        })
      }
      const kept = n - 2 * k
      return reduceCoordinates(updates, allRows(n), d, (buf, off, m) => {
        const hi = off + m
        // after these two selections buf[off+k .. hi-k) holds exactly the kept values
        selectRange(buf, off, hi, off + k)
        selectRange(buf, off + k, hi, hi - k - 1)
        let s = 0
        for (let i = off + k; i < hi - k; i++) s += buf[i]!
        return s / kept
      })
    },
    reset() {},
  }
}
