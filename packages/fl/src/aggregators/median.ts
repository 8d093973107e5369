/** Coordinate-wise median and trimmed mean. @module */
import { ConfigError } from '../errors.js'
import { allRows, copyRows, reduceCoordinates } from './coordinate.js'
import { orderStats, selectRange, splitOnce } from './select.js'
import { SORT_BLOCK, SORT_ROW, wasmSortColumns } from './simd.js'
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
 * Sum of the values of ranks k..m−k−1 of buf[off..off+m), given the values `lo` < `hi` of ranks
 * k and m−k−1: the values strictly between `lo` and `hi` summed in update order (float64), then
 * the kept copies of `lo` and of `hi` (counted, multiplied: exact) added in that order. A
 * definition that needs no particular arrangement of the values, so any selection algorithm
 * gives the same bits.
 */
export function trimmedSum(buf: Float64Array, off: number, m: number, k: number, lo: number, hi: number): number {
  let s = 0
  let inside = 0
  for (let i = off; i < off + m; i++) {
    const v = buf[i]!
    // branch-free: v·1 = v and s + (±0) = s (s starts at +0, so it is never −0)
    const t = Number(v > lo) * Number(v < hi)
    s += v * t
    inside += t
  }
  let loCopies = 1
  let hiCopies = 1
  if (inside !== m - 2 * k - 2) {
    // ties at a cut-off: count how many copies of each are kept
    let atMostLo = 0
    let belowHi = 0
    for (let i = off; i < off + m; i++) {
      atMostLo += Number(buf[i]! <= lo)
      belowHi += Number(buf[i]! < hi)
    }
    loCopies = atMostLo - k
    hiCopies = m - k - belowHi
  }
  return s + loCopies * lo + hiCopies * hi
}

/**
 * Coordinate-wise median (Yin et al. 2018): each output coordinate is the median of that
 * coordinate over all updates (mean of the two middle values for an even count). Tolerates
 * up to ⌈n/2⌉ − 1 arbitrary updates per coordinate. Weights are ignored (one update, one vote).
 * Works block by block with one reusable buffer and a branch-free selection (`orderStats`: no
 * sort, no per-coordinate allocation; the two middle values of an even count in one pass).
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
      const n = updates.length
      const k = (n - 1) >> 1
      const even = (n & 1) === 0
      const simd = wasmSortColumns(n, even ? [k, k + 1] : [k])
      if (simd !== undefined) {
        // a selection network on WebAssembly SIMD, two coordinates per f64x2
        const result = new Float32Array(d)
        const T = simd.T
        const rk = k * SORT_ROW
        for (let start = 0; start < d; start += SORT_BLOCK) {
          const count = Math.min(SORT_BLOCK, d - start)
          copyRows(updates, start, count, T, SORT_ROW)
          simd.sort(count)
          // `+ 0` turns −0 into +0
          if (even) for (let c = 0; c < count; c++) result[start + c] = (T[rk + c]! + T[rk + SORT_ROW + c]!) / 2 + 0
          else for (let c = 0; c < count; c++) result[start + c] = T[rk + c]! + 0
        }
        return result
      }
      const a = new Float64Array(n)
      const b = new Float64Array(n)
      const out = new Float64Array(2)
      return reduceCoordinates(updates, allRows(n), d, (buf, off, m) => {
        orderStats(buf, off, m, k, even, a, b, out)
        return even ? (out[0]! + out[1]!) / 2 : out[0]!
      })
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
 * The kept values are summed in float64 in a defined order — the values strictly between the two
 * cut-offs in update order, then the kept copies of each cut-off (see `trimmedSum`) — so the
 * result does not depend on how the cut-offs are found (two branch-free selections after one
 * shared partition pass). Float64 sums of float32 values are exact unless their magnitudes span
 * more than ~2^29, so this gives the same bits as any other summation order except in such
 * columns, where it may differ by an ulp; every node computes the same.
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
      const k2 = n - k - 1
      const simd = wasmSortColumns(n, [k, k2])
      if (simd !== undefined) return trimmedSimd(updates, d, k, simd)
      const a = new Float64Array(n)
      const b = new Float64Array(n)
      const c = new Float64Array(n)
      const out = new Float64Array(2)
      return reduceCoordinates(updates, allRows(n), d, (buf, off, m) => {
        let lo: number
        let hi: number
        // one shared first pass usually puts the two cut-offs on different sides of the pivot
        const cl = splitOnce(buf, off, m, c)
        if (k < cl && cl <= k2) {
          orderStats(c, 0, cl, k, false, a, b, out)
          lo = out[0]!
          orderStats(c, cl, m - cl, k2 - cl, false, a, b, out)
          hi = out[0]!
        } else {
          orderStats(buf, off, m, k, false, a, b, out)
          lo = out[0]!
          orderStats(buf, off, m, k2, false, a, b, out)
          hi = out[0]!
        }
        if (lo === hi) return lo
        return trimmedSum(buf, off, m, k, lo, hi) / kept
      })
    },
    reset() {},
  }
}

/**
 * The trimmed mean with the cut-offs from a selection network on WebAssembly SIMD, and the sum of
 * `trimmedSum` taken row by row (update order) for a block of coordinates at once — the same
 * operations in the same order per coordinate, so the same bits.
 */
function trimmedSimd(
  updates: readonly Float32Array[],
  d: number,
  k: number,
  simd: { T: Float64Array; sort: (count: number) => void },
): Float32Array {
  const n = updates.length
  const kept = n - 2 * k
  const result = new Float32Array(d)
  const T = simd.T
  const rLo = k * SORT_ROW
  const rHi = (n - k - 1) * SORT_ROW
  const sums = new Float64Array(SORT_BLOCK)
  const inside = new Int32Array(SORT_BLOCK)
  for (let start = 0; start < d; start += SORT_BLOCK) {
    const count = Math.min(SORT_BLOCK, d - start)
    copyRows(updates, start, count, T, SORT_ROW)
    simd.sort(count)
    sums.fill(0)
    inside.fill(0)
    for (let r = 0; r < n; r++) {
      const u = updates[r]!
      for (let c = 0; c < count; c++) {
        const v = u[start + c]!
        const t = Number(v > T[rLo + c]!) * Number(v < T[rHi + c]!)
        sums[c] = sums[c]! + v * t
        inside[c] = inside[c]! + t
      }
    }
    for (let c = 0; c < count; c++) {
      const lo = T[rLo + c]!
      const hi = T[rHi + c]!
      if (lo === hi) {
        result[start + c] = lo + 0
        continue
      }
      let loCopies = 1
      let hiCopies = 1
      if (inside[c] !== kept - 2) {
        let atMostLo = 0
        let belowHi = 0
        for (let r = 0; r < n; r++) {
          const v = updates[r]![start + c]!
          atMostLo += Number(v <= lo)
          belowHi += Number(v < hi)
        }
        loCopies = atMostLo - k
        hiCopies = n - k - belowHi
      }
      result[start + c] = (sums[c]! + loCopies * lo + hiCopies * hi) / kept + 0
    }
  }
  return result
}
