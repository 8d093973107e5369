/**
 * Coordinate-wise reduction over blocks (internal): copies a block of coordinates from each
 * selected update into one reusable float64 buffer laid out coordinate-major (the `m` values
 * of coordinate j are contiguous), then reduces each coordinate's values in place. No
 * allocation per coordinate; each update is read sequentially; non-finite values are rejected.
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
    for (let r = 0; r < m; r++) {
      const u = updates[rows[r]!]!
      for (let j = 0, o = r; j < count; j++, o += m) {
        const v = u[start + j]!
        if (v - v !== 0) {
          throw new InvalidUpdateError(`update ${rows[r]} has a non-finite value (${v}) at index ${start + j}`)
        }
        buf[o] = v
      }
    }
    // `+ 0` turns −0 into +0: equal inputs in any order give identical bytes
    for (let j = 0, off = 0; j < count; j++, off += m) out[start + j] = reduce(buf, off, m) + 0
  }
  return out
}

/** `[0, 1, ..., n - 1]`. */
export function allRows(n: number): Uint32Array {
  const rows = new Uint32Array(n)
  for (let i = 0; i < n; i++) rows[i] = i
  return rows
}
