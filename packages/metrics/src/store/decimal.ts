/**
 * The store's second value encoding, chosen per chunk when it is smaller: values that are all
 * integers after scaling by 10^k (k = 0–6: counters, byte counts, gauges with a few decimals)
 * are stored as the delta-of-delta of those integers in variable-width buckets — a counter that
 * grows steadily costs a few bits a point, where XOR of its float64s costs 20–50.
 * Timestamps are encoded as in Gorilla.
 */
import { BitReader, BitWriter } from './bits.js'
import { ChunkDecodeError } from './gorilla.js'

const TWO32 = 4294967296
const MAX_DOD = 2 ** 31 - 1
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000]

/** The smallest k (0–6) with every value an exact integer times 10^-k, or -1. */
export function decimalScale(vs: readonly number[]): number {
  for (let k = 0; k < POW10.length; k++) {
    const p = POW10[k] as number
    let ok = true
    for (const v of vs) {
      const n = Math.round(v * p)
      if (!Number.isSafeInteger(n) || Math.abs(n) > 2 ** 50 || n / p !== v || Object.is(v, -0)) {
        ok = false
        break
      }
    }
    if (ok) return k
  }
  return -1
}

function writeDod(w: BitWriter, dod: number): void {
  if (dod === 0) w.write(0, 1)
  else if (dod >= -63 && dod <= 64) {
    w.write(0b10, 2)
    w.write(dod + 63, 7)
  } else if (dod >= -2047 && dod <= 2048) {
    w.write(0b110, 3)
    w.write(dod + 2047, 12)
  } else if (dod >= -524287 && dod <= 524288) {
    w.write(0b1110, 4)
    w.write(dod + 524287, 20)
  } else {
    w.write(0b1111, 4)
    w.write(dod >>> 0, 32)
  }
}

function readDod(r: BitReader): number {
  let ones = 0
  while (ones < 4 && r.bit() === 1) ones++
  return ones === 0
    ? 0
    : ones === 1
      ? r.read(7) - 63
      : ones === 2
        ? r.read(12) - 2047
        : ones === 3
          ? r.read(20) - 524287
          : r.read(32) | 0
}

/**
 * Encode points with scale `k` (from {@link decimalScale}); undefined when a delta-of-delta does
 * not fit 32 bits.
 */
export function encodeDecimal(ts: readonly number[], vs: readonly number[], k: number): Uint8Array | undefined {
  const p = POW10[k] as number
  const w = new BitWriter(64)
  let prevT = 0
  let prevDelta = 0
  let prevN = 0
  let prevNDelta = 0
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i] as number
    const n = Math.round((vs[i] as number) * p)
    if (i === 0) {
      w.write(Math.floor(t / TWO32), 32)
      w.write(t >>> 0, 32)
      const z = n < 0 ? -n * 2 - 1 : n * 2 // zigzag, ≤ 2^51
      w.write(Math.floor(z / TWO32), 32)
      w.write(z >>> 0, 32)
    } else {
      const delta = t - prevT
      const dod = delta - prevDelta
      if (dod > MAX_DOD || dod < -MAX_DOD) return undefined
      writeDod(w, dod)
      prevDelta = delta
      const nd = n - prevN
      const ndod = nd - prevNDelta
      if (ndod > MAX_DOD || ndod < -MAX_DOD) return undefined
      writeDod(w, ndod)
      prevNDelta = nd
    }
    prevT = t
    prevN = n
  }
  return w.bytes()
}

/** Decode what {@link encodeDecimal} wrote; any bytes give points or a `ChunkDecodeError`. */
export function decodeDecimal(
  bytes: Uint8Array,
  count: number,
  k: number,
  ts: number[] = [],
  vs: number[] = [],
): { ts: number[]; vs: number[] } {
  if (!Number.isSafeInteger(count) || count < 0) throw new ChunkDecodeError(`bad point count ${count}`)
  if (count > bytes.length * 8) throw new ChunkDecodeError(`${count} points cannot fit in ${bytes.length} bytes`)
  if (!(k >= 0 && k < POW10.length)) throw new ChunkDecodeError(`bad decimal scale ${k}`)
  if (count === 0) return { ts, vs }
  const p = POW10[k] as number
  const r = new BitReader(bytes)
  try {
    let t = r.read(32) * TWO32 + r.read(32)
    const z = r.read(32) * TWO32 + r.read(32)
    let n = z % 2 === 0 ? z / 2 : -(z + 1) / 2
    ts.push(t)
    vs.push(n / p)
    let delta = 0
    let nd = 0
    for (let i = 1; i < count; i++) {
      delta += readDod(r)
      t += delta
      nd += readDod(r)
      n += nd
      if (!Number.isSafeInteger(t) || delta <= 0) throw new ChunkDecodeError('timestamps not increasing')
      if (!Number.isSafeInteger(n)) throw new ChunkDecodeError('value out of range')
      ts.push(t)
      vs.push(n / p)
    }
  } catch (err) {
    if (err instanceof ChunkDecodeError) throw err
    throw new ChunkDecodeError((err as Error).message)
  }
  return { ts, vs }
}
