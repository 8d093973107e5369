/**
 * Coordinate-wise reduction over blocks (internal): copies a block of coordinates from each
 * selected update into one reusable float64 buffer laid out coordinate-major (the `m` values
 * of coordinate j are contiguous, in the order of `rows`), then reduces each coordinate's values.
 * No allocation per coordinate; each update is read sequentially, four updates at a time (so
 * the transposed writes fill whole cache lines); non-finite values are rejected.
 * @module
 */
import { InvalidUpdateError } from '../errors.js'

/** Reduces the `m` values buf[off..off+m) of one coordinate (may reorder them) to one number. */
export type CoordinateReducer = (buf: Float64Array, off: number, m: number) => number

/** Values per block buffer: ~256 KiB of float64, so a block stays in L2 cache. */
const BLOCK_VALUES = 32_768

/**
 * Applies `reduce` to every coordinate of the updates listed in `rows` (indices into
 * `updates`, in that order) and returns the results as float32.
 */
export function reduceCoordinates(
  updates: readonly Float32Array[],
  rows: ArrayLike<number>,
  length: number,
  reduce: CoordinateReducer,
): Float32Array {
  const m = rows.length
  const out = new Float32Array(length)
  const block = Math.max(16, Math.floor(BLOCK_VALUES / m))
  const buf = new Float64Array(block * m)
  for (let start = 0; start < length; start += block) {
    const count = Math.min(block, length - start)
    const end = start + count
    let r = 0
    for (; r + 3 < m; r += 4) {
      const u0 = updates[rows[r]!]!
      const u1 = updates[rows[r + 1]!]!
      const u2 = updates[rows[r + 2]!]!
      const u3 = updates[rows[r + 3]!]!
      // v - v is 0 for finite v and NaN otherwise: one check per four values
      let bad = 0
      for (let s = start, o = r; s < end; s++, o += m) {
        const v0 = u0[s]!
        const v1 = u1[s]!
        const v2 = u2[s]!
        const v3 = u3[s]!
        bad += v0 - v0 + (v1 - v1) + (v2 - v2) + (v3 - v3)
        buf[o] = v0
        buf[o + 1] = v1
        buf[o + 2] = v2
        buf[o + 3] = v3
      }
      if (bad !== 0) for (let q = r; q < r + 4; q++) checkFinite(updates, rows[q]!, start, end)
    }
    for (; r < m; r++) {
      const u = updates[rows[r]!]!
      let bad = 0
      for (let s = start, o = r; s < end; s++, o += m) {
        const v = u[s]!
        bad += v - v
        buf[o] = v
      }
      if (bad !== 0) checkFinite(updates, rows[r]!, start, end)
    }
    // `+ 0` turns −0 into +0: equal inputs in any order give identical bytes
    for (let j = 0, off = 0; j < count; j++, off += m) out[start + j] = reduce(buf, off, m) + 0
  }
  return out
}

/** Throws `InvalidUpdateError` naming the first non-finite value of updates[row][start..end). */
export function checkFinite(updates: readonly Float32Array[], row: number, start: number, end: number): void {
  const u = updates[row]!
  for (let s = start; s < end; s++) {
    const v = u[s]!
    if (v - v !== 0) throw new InvalidUpdateError(`update ${row} has a non-finite value (${v}) at index ${s}`)
  }
}

/** `[0, 1, ..., n - 1]`. */
export function allRows(n: number): Uint32Array {
  const rows = new Uint32Array(n)
  for (let i = 0; i < n; i++) rows[i] = i
  return rows
}

/**
 * Copies updates[r][start..start+count) for every r < n into row r of `T` (row stride `stride`,
 * float64), checking finiteness as it goes (the same error as {@link reduceCoordinates}).
 */
export function copyRows(
  updates: readonly Float32Array[],
  start: number,
  count: number,
  T: Float64Array,
  stride: number,
): void {
  const end = start + count
  for (let r = 0; r < updates.length; r++) {
    const u = updates[r]!
    let bad = 0
    for (let s = start, o = r * stride; s < end; s++, o++) {
      const v = u[s]!
      bad += v - v
      T[o] = v
    }
    if (bad !== 0) checkFinite(updates, r, start, end)
  }
}
