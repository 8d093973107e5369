/** IEEE 754 binary16 conversion (internal; works on Node versions without Float16Array). @module */

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** Largest finite half-precision value. */
export const HALF_MAX = 65504

/**
 * Bits of the binary16 value nearest to `x` (round to nearest, ties to even). Finite values
 * beyond ±65504 saturate to ±65504 rather than becoming infinite. `x` must be finite.
 */
export function toHalfBits(x: number): number {
  f32[0] = x
  const b = u32[0]!
  const sign = (b >>> 16) & 0x8000
  const e = (b >>> 23) & 0xff
  const m = b & 0x7fffff
  const unbiased = e - 127
  if (unbiased > 15) return sign | 0x7bff
  if (unbiased >= -14) {
    let he = unbiased + 15
    let hm = m >>> 13
    const rem = m & 0x1fff
    if (rem > 0x1000 || (rem === 0x1000 && (hm & 1) === 1)) {
      hm++
      if (hm === 0x400) {
        hm = 0
        he++
      }
    }
    if (he >= 31) return sign | 0x7bff
    return sign | (he << 10) | hm
  }
  if (unbiased < -25) return sign
  // subnormal half: value = hm · 2^-24
  const mf = m | 0x800000
  const shift = -unbiased - 1 // 14..24
  let hm = mf >>> shift
  const rem = mf & ((1 << shift) - 1)
  const halfway = 1 << (shift - 1)
  if (rem > halfway || (rem === halfway && (hm & 1) === 1)) hm++
  return sign | hm
}

let table: Float32Array | undefined

/** Float value of every half bit pattern (NaN for infinities and NaNs, which the format rejects). */
export function halfTable(): Float32Array {
  if (table !== undefined) return table
  const t = new Float32Array(65536)
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1
    const e = (h >>> 10) & 0x1f
    const m = h & 0x3ff
    if (e === 0) t[h] = sign * m * 2 ** -24
    else if (e === 31) t[h] = Number.NaN
    else t[h] = sign * (1 + m / 1024) * 2 ** (e - 15)
  }
  table = t
  return t
}
