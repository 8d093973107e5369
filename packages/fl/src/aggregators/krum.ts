/** Krum, Multi-Krum and Bulyan: distance-based Byzantine-robust selection. @module */
import { ConfigError } from '../errors.js'
import { reduceCoordinates } from './coordinate.js'
import { BulyanPreconditionError, KrumPreconditionError } from './errors.js'
import { sortInto, sortRange } from './select.js'
import { SORT_BLOCK, SORT_ROW, wasmDistances, wasmSortColumns } from './simd.js'
import type { Aggregator } from './types.js'
import { assertFinite, checkInt, checkShapes } from './validate.js'

/** Coordinates per block of the distance computation: n × 1024 float32 stay in L2 cache. */
const DISTANCE_BLOCK = 1024

/**
 * All pairwise squared L2 distances as an n×n float64 matrix (row-major, zero diagonal).
 * O(n²·d), computed block by block over the coordinates so each block of every update stays in
 * cache. Every distance is Σ (a_k − b_k)² with the differences taken exactly as float64, summed in
 * coordinate order within a block and the block sums added in block order — deterministic, and
 * independent of the tiling (which only decides how many pairs share each load). Runs on the
 * WebAssembly SIMD kernel of `simd.ts` (2 rows × 8 partners, f64x2 lanes = partners, the same
 * float64 operations per lane) where available, else on the JavaScript loop below (2 rows × 4
 * partners); both give the same bits, and the tests compare them.
 */
export function pairwiseSquaredDistances(updates: readonly Float32Array[]): Float64Array {
  const n = updates.length
  const d = checkShapes(updates)
  // the SIMD kernel checks finiteness as it copies; on a bad value assertFinite names it
  const simd = wasmDistances(updates, d, DISTANCE_BLOCK, () => {
    assertFinite(updates)
    throw new Error('unreachable: a non-finite value was seen but not found')
  })
  if (simd !== undefined) return simd
  assertFinite(updates)
  const D = new Float64Array(n * n)
  for (let start = 0; start < d; start += DISTANCE_BLOCK) {
    const end = Math.min(start + DISTANCE_BLOCK, d)
    let i = 0
    for (; i + 1 < n; i += 2) {
      const a0 = updates[i]!
      const a1 = updates[i + 1]!
      const r0 = i * n
      const r1 = r0 + n
      D[r0 + i + 1] = D[r0 + i + 1]! + squaredDistance(a0, a1, start, end)
      let j = i + 2
      for (; j + 3 < n; j += 4) {
        const b0 = updates[j]!
        const b1 = updates[j + 1]!
        const b2 = updates[j + 2]!
        const b3 = updates[j + 3]!
        let s00 = 0
        let s01 = 0
        let s02 = 0
        let s03 = 0
        let s10 = 0
        let s11 = 0
        let s12 = 0
        let s13 = 0
        for (let k = start; k < end; k++) {
          const x0 = a0[k]!
          const x1 = a1[k]!
          const y0 = b0[k]!
          const y1 = b1[k]!
          const y2 = b2[k]!
          const y3 = b3[k]!
          let t = x0 - y0
          s00 += t * t
          t = x0 - y1
          s01 += t * t
          t = x0 - y2
          s02 += t * t
          t = x0 - y3
          s03 += t * t
          t = x1 - y0
          s10 += t * t
          t = x1 - y1
          s11 += t * t
          t = x1 - y2
          s12 += t * t
          t = x1 - y3
          s13 += t * t
        }
        D[r0 + j] = D[r0 + j]! + s00
        D[r0 + j + 1] = D[r0 + j + 1]! + s01
        D[r0 + j + 2] = D[r0 + j + 2]! + s02
        D[r0 + j + 3] = D[r0 + j + 3]! + s03
        D[r1 + j] = D[r1 + j]! + s10
        D[r1 + j + 1] = D[r1 + j + 1]! + s11
        D[r1 + j + 2] = D[r1 + j + 2]! + s12
        D[r1 + j + 3] = D[r1 + j + 3]! + s13
      }
      for (; j < n; j++) {
        const b = updates[j]!
        let s0 = 0
        let s1 = 0
        for (let k = start; k < end; k++) {
          const y = b[k]!
          let t = a0[k]! - y
          s0 += t * t
          t = a1[k]! - y
          s1 += t * t
        }
        D[r0 + j] = D[r0 + j]! + s0
        D[r1 + j] = D[r1 + j]! + s1
      }
    }
    // an odd n leaves the last row, which has no partners above it
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) D[j * n + i] = D[i * n + j]!
  return D
}

/** Σ_{k in [start, end)} (a_k − b_k)² in float64, in coordinate order. */
function squaredDistance(a: Float32Array, b: Float32Array, start: number, end: number): number {
  let s = 0
  for (let k = start; k < end; k++) {
    const t = a[k]! - b[k]!
    s += t * t
  }
  return s
}

/**
 * Krum scores of the candidates `set` (indices into the n×n matrix `D`): the sum of squared
 * distances from each candidate to its `neighbors` nearest other candidates, summed in
 * ascending order (deterministic).
 */
export function krumScores(D: Float64Array, n: number, set: readonly number[], neighbors: number): Float64Array {
  const scores = new Float64Array(set.length)
  const scratch = new Float64Array(Math.max(1, set.length - 1))
  for (let a = 0; a < set.length; a++) {
    const i = set[a]!
    let c = 0
    for (let b = 0; b < set.length; b++) if (b !== a) scratch[c++] = D[i * n + set[b]!]!
    sortRange(scratch, 0, c)
    let s = 0
    for (let k = 0; k < Math.min(neighbors, c); k++) s += scratch[k]!
    scores[a] = s
  }
  return scores
}

/** Lexicographic order of two updates by value (equal contents compare 0). */
function compareContent(a: Float32Array, b: Float32Array): number {
  for (let j = 0; j < a.length; j++) {
    const x = a[j]!
    const y = b[j]!
    if (x < y) return -1
    if (x > y) return 1
  }
  return 0
}

/**
 * Positions of `set` in ascending score order. Ties (common: mutual nearest neighbours have the
 * same score) are broken by the updates' contents, not their positions, so the ranking — and
 * everything built on it — does not depend on the order the updates arrived in.
 */
function rank(scores: Float64Array, updates: readonly Float32Array[], set: readonly number[]): number[] {
  return Array.from(scores.keys()).sort(
    (x, y) => scores[x]! - scores[y]! || compareContent(updates[set[x]!]!, updates[set[y]!]!) || x - y,
  )
}

/** Unweighted float64 mean of the selected updates, in the given order. */
function meanOf(updates: readonly Float32Array[], selected: readonly number[], d: number): Float32Array {
  const acc = new Float64Array(d)
  for (const i of selected) {
    const u = updates[i]!
    for (let j = 0; j < d; j++) acc[j] = acc[j]! + u[j]!
  }
  const out = new Float32Array(d)
  const m = selected.length
  for (let j = 0; j < d; j++) out[j] = acc[j]! / m
  return out
}

/** Options of {@link krum}. */
export interface KrumInit {
  /** Number of Byzantine updates to tolerate; needs `n >= 2f + 3`. */
  f: number
}

/** Options of {@link multiKrum}. */
export interface MultiKrumInit extends KrumInit {
  /** How many best-scored updates to average; default `n - f`. */
  m?: number
}

function krumCheck(name: string, n: number, f: number): void {
  if (n < 2 * f + 3) throw new KrumPreconditionError(name, n, f, 2 * f + 3)
}

/**
 * Multi-Krum (Blanchard et al. 2017): score every update by the sum of squared distances to its
 * `n − f − 2` nearest neighbours, average the `m` best-scored ones (unweighted; score ties are
 * broken by the updates' contents and the sum runs in rank order, so the result is exactly
 * invariant to the order of the inputs). Throws `KrumPreconditionError` when `n < 2f + 3`.
 * O(n²·d) for the distances.
 *
 * @example
 * ```ts
 * import { multiKrum } from '@vain/fl'
 * const out = multiKrum({ f: 2, m: 5 }).aggregate(deltas) // needs >= 7 updates
 * ```
 */
export function multiKrum(init: MultiKrumInit): Aggregator {
  const f = checkInt('multiKrum f', init.f, 0)
  const m0 = init.m === undefined ? undefined : checkInt('multiKrum m', init.m, 1)
  const name = m0 === 1 ? 'krum' : 'multi-krum'
  return {
    name,
    aggregate(updates) {
      const d = checkShapes(updates)
      const n = updates.length
      krumCheck(name, n, f)
      const m = m0 ?? n - f
      if (m > n) throw new ConfigError(`multiKrum m = ${m} exceeds the ${n} updates`)
      const D = pairwiseSquaredDistances(updates)
      const all = Array.from({ length: n }, (_, i) => i)
      // summed in rank order: the result does not depend on the order of the inputs
      const selected = rank(krumScores(D, n, all, n - f - 2), updates, all).slice(0, m)
      return meanOf(updates, selected, d)
    },
    reset() {},
  }
}

/**
 * Krum (Blanchard et al. 2017): returns (a copy of) the single update whose summed squared
 * distance to its `n − f − 2` nearest neighbours is smallest (ties broken by content).
 * Throws `KrumPreconditionError` when `n < 2f + 3`.
 *
 * @example
 * ```ts
 * import { krum } from '@vain/fl'
 * const chosen = krum({ f: 1 }).aggregate(deltas) // needs >= 5 updates
 * ```
 */
export function krum(init: KrumInit): Aggregator {
  return multiKrum({ f: init.f, m: 1 })
}

/** Options of {@link bulyan}. */
export interface BulyanInit {
  /** Number of Byzantine updates to tolerate; needs `n >= 4f + 3`. */
  f: number
}

/**
 * Bulyan (El Mhamdi et al. 2018): repeatedly applies Krum to the remaining updates to select
 * `θ = n − 2f` of them, then, for every coordinate, averages the `β = θ − 2f` selected values
 * closest to that coordinate's median. Throws `BulyanPreconditionError` when `n < 4f + 3`.
 * Weights are ignored. Pairwise distances are computed once (O(n²·d)) and reused by every Krum
 * pass; in the last passes Krum looks at no fewer than one neighbour.
 *
 * @example
 * ```ts
 * import { bulyan, BulyanPreconditionError } from '@vain/fl'
 * try { bulyan({ f: 2 }).aggregate(deltas) } catch (err) {
 *   if (err instanceof BulyanPreconditionError) console.warn(`need ${err.required} updates`)
 * }
 * ```
 */
export function bulyan(init: BulyanInit): Aggregator {
  const f = checkInt('bulyan f', init.f, 0)
  return {
    name: 'bulyan',
    aggregate(updates) {
      const d = checkShapes(updates)
      const n = updates.length
      if (n < 4 * f + 3) throw new BulyanPreconditionError('bulyan', n, f, 4 * f + 3)
      const theta = n - 2 * f
      const beta = theta - 2 * f
      const D = pairwiseSquaredDistances(updates)
      let remaining = Array.from({ length: n }, (_, i) => i)
      const selected: number[] = []
      while (selected.length < theta) {
        const neighbors = Math.max(1, remaining.length - f - 2)
        const scores = krumScores(D, n, remaining, neighbors)
        const best = rank(scores, updates, remaining)[0]!
        selected.push(remaining[best]!)
        remaining = remaining.filter((_, k) => k !== best)
      }
      selected.sort((x, y) => x - y)
      return bulyanCoordinates(updates, selected, d, beta)
    },
    reset() {},
  }
}

/**
 * Bulyan's coordinate step: for every coordinate, sort the selected updates' values, then average
 * the `beta` closest to the median, growing a window around it and taking the closer neighbour
 * first (ties: the lower), summed in that order. The inputs are known finite (the distances
 * checked them). Sorts 2 coordinates per f64x2 with the SIMD sorting network where available, else
 * with the branch-free merge sort; the same sorted values, so the same bits.
 */
function bulyanCoordinates(
  updates: readonly Float32Array[],
  selected: readonly number[],
  d: number,
  beta: number,
): Float32Array {
  const m = selected.length
  const sorter = wasmSortColumns(m)
  if (sorter === undefined) {
    const a = new Float64Array(m)
    const b = new Float64Array(m)
    return reduceCoordinates(updates, selected, d, (buf, off) => windowMean(sortInto(buf, off, m, a, b), 0, 1, m, beta))
  }
  const out = new Float32Array(d)
  const T = sorter.T
  for (let start = 0; start < d; start += SORT_BLOCK) {
    const count = Math.min(SORT_BLOCK, d - start)
    for (let r = 0; r < m; r++) {
      const u = updates[selected[r]!]!
      T.set(u.subarray(start, start + count), r * SORT_ROW)
    }
    sorter.sort(count)
    // four coordinates' walks interleaved: four independent chains of comparisons overlap
    let c = 0
    for (; c + 3 < count; c += 4) windowMean4(T, c, m, beta, out, start + c)
    // `+ 0` turns −0 into +0
    for (; c < count; c++) out[start + c] = windowMean(T, c, SORT_ROW, m, beta) + 0
  }
  return out
}

/**
 * Mean of the `beta` sorted values v[off + r·stride] (r < m) closest to their median, taken from
 * a window grown around it (closer neighbour first, ties: the lower) and summed in that order.
 * Branch-free: the next index is picked arithmetically and reads are clamped into range.
 */
function windowMean(v: Float64Array, off: number, stride: number, m: number, beta: number): number {
  const mid = (m - 1) >> 1
  const med = (m & 1) === 1 ? v[off + mid * stride]! : (v[off + mid * stride]! + v[off + (mid + 1) * stride]!) / 2
  let lo = mid
  let hi = mid + 1
  let s = 0
  for (let taken = 0; taken < beta; taken++) {
    const cl = off + Math.max(lo, 0) * stride
    const ch = off + Math.min(hi, m - 1) * stride
    const t = Number(hi >= m) | (Number(lo >= 0) & Number(med - v[cl]! <= v[ch]! - med))
    s += v[ch + (cl - ch) * t]!
    lo -= t
    hi += 1 - t
  }
  return s / beta
}

/**
 * {@link windowMean} of the sorted columns c..c+3 of `T` (stride SORT_ROW), interleaved; each
 * column's operations are exactly those of `windowMean`. Writes the four means (+0 for −0) to
 * out[o..o+3].
 */
function windowMean4(T: Float64Array, c: number, m: number, beta: number, out: Float32Array, o: number): void {
  const R = SORT_ROW
  const mid = (m - 1) >> 1
  const odd = (m & 1) === 1
  const a = mid * R + c
  const med0 = odd ? T[a]! : (T[a]! + T[a + R]!) / 2
  const med1 = odd ? T[a + 1]! : (T[a + 1]! + T[a + R + 1]!) / 2
  const med2 = odd ? T[a + 2]! : (T[a + 2]! + T[a + R + 2]!) / 2
  const med3 = odd ? T[a + 3]! : (T[a + 3]! + T[a + R + 3]!) / 2
  let lo0 = mid
  let lo1 = mid
  let lo2 = mid
  let lo3 = mid
  let hi0 = mid + 1
  let hi1 = mid + 1
  let hi2 = mid + 1
  let hi3 = mid + 1
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  for (let taken = 0; taken < beta; taken++) {
    const l0 = Math.max(lo0, 0) * R + c
    const h0 = Math.min(hi0, m - 1) * R + c
    const t0 = Number(hi0 >= m) | (Number(lo0 >= 0) & Number(med0 - T[l0]! <= T[h0]! - med0))
    const l1 = Math.max(lo1, 0) * R + c + 1
    const h1 = Math.min(hi1, m - 1) * R + c + 1
    const t1 = Number(hi1 >= m) | (Number(lo1 >= 0) & Number(med1 - T[l1]! <= T[h1]! - med1))
    const l2 = Math.max(lo2, 0) * R + c + 2
    const h2 = Math.min(hi2, m - 1) * R + c + 2
    const t2 = Number(hi2 >= m) | (Number(lo2 >= 0) & Number(med2 - T[l2]! <= T[h2]! - med2))
    const l3 = Math.max(lo3, 0) * R + c + 3
    const h3 = Math.min(hi3, m - 1) * R + c + 3
    const t3 = Number(hi3 >= m) | (Number(lo3 >= 0) & Number(med3 - T[l3]! <= T[h3]! - med3))
    s0 += T[h0 + (l0 - h0) * t0]!
    s1 += T[h1 + (l1 - h1) * t1]!
    s2 += T[h2 + (l2 - h2) * t2]!
    s3 += T[h3 + (l3 - h3) * t3]!
    lo0 -= t0
    lo1 -= t1
    lo2 -= t2
    lo3 -= t3
    hi0 += 1 - t0
    hi1 += 1 - t1
    hi2 += 1 - t2
    hi3 += 1 - t3
  }
  out[o] = s0 / beta + 0
  out[o + 1] = s1 / beta + 0
  out[o + 2] = s2 / beta + 0
  out[o + 3] = s3 / beta + 0
}
