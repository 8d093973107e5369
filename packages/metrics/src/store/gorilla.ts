/**
 * Gorilla compression (Pelkonen et al., VLDB 2015) of one series' chunk of points: timestamps as
 * delta-of-delta in variable-width buckets, values as the XOR with the previous value, written as
 * only its meaningful bits (reusing the previous leading/trailing-zero window when it fits).
 */
import { BitReader, BitWriter } from './bits.js'

const f64 = new Float64Array(1)
const u32 = new Uint32Array(f64.buffer)
// little-endian machines (every platform Node runs on): u32[0] is the low word
const LO = 0
const HI = 1

const TWO32 = 4294967296
const POW10 = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000] as const
const MAX_DOD = 2 ** 31 - 1

/** Count of trailing zero bits of a non-zero 32-bit word. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x)
}

/** Encodes points appended in time order into one chunk. */
export class GorillaEncoder {
  private readonly w = new BitWriter(128)
  count = 0
  firstT = 0
  lastT = 0
  private prevDelta = 0
  private prevHi = 0
  private prevLo = 0
  private prevLeading = -1
  private prevTrailing = 0
  /**
   * A hint for the store: -1 once a value is no integer at any decimal scale 0–6, else the
   * largest scale the values needed so far (checked again, exactly, when the chunk is sealed).
   */
  decimal = 0

  /** Whether `t` can follow the last point in this chunk (the delta-of-delta fits 32 bits). */
  fits(t: number): boolean {
    if (this.count === 0) return true
    const dod = t - this.lastT - this.prevDelta
    return dod <= MAX_DOD && dod >= -MAX_DOD
  }

  /** Append a point; `t` (integer ms ≥ 0) must be after the last one and {@link fits}. */
  append(t: number, v: number): void {
    if (this.decimal >= 0) {
      let k = this.decimal
      while (k <= 6 && Math.round(v * POW10[k]) / POW10[k] !== v) k++
      this.decimal = k > 6 ? -1 : k
    }
    const w = this.w
    f64[0] = v
    const hi = u32[HI] as number
    const lo = u32[LO] as number
    if (this.count === 0) {
      this.firstT = t
      w.write(Math.floor(t / TWO32), 32)
      w.write(t >>> 0, 32)
      w.write(hi, 32)
      w.write(lo, 32)
    } else {
      const delta = t - this.lastT
      const dod = delta - this.prevDelta
      this.prevDelta = delta
      if (dod === 0) w.write(0, 1)
      else if (dod >= -63 && dod <= 64) {
        w.write(0b10, 2)
        w.write((dod + 63) & 0x7f, 7)
      } else if (dod >= -255 && dod <= 256) {
        w.write(0b110, 3)
        w.write((dod + 255) & 0x1ff, 9)
      } else if (dod >= -2047 && dod <= 2048) {
        w.write(0b1110, 4)
        w.write((dod + 2047) & 0xfff, 12)
      } else {
        w.write(0b1111, 4)
        w.write(dod >>> 0, 32)
      }
      const xhi = (hi ^ this.prevHi) >>> 0
      const xlo = (lo ^ this.prevLo) >>> 0
      if (xhi === 0 && xlo === 0) w.write(0, 1)
      else {
        const leading = xhi !== 0 ? Math.clz32(xhi) : 32 + Math.clz32(xlo)
        const trailing = xlo !== 0 ? ctz32(xlo) : 32 + ctz32(xhi)
        let lead: number
        let trail: number
        if (this.prevLeading >= 0 && leading >= this.prevLeading && trailing >= this.prevTrailing) {
          w.write(0b10, 2)
          lead = this.prevLeading
          trail = this.prevTrailing
        } else {
          lead = Math.min(leading, 31)
          trail = trailing
          const len = 64 - lead - trail
          w.write(0b11, 2)
          w.write(lead, 5)
          w.write(len & 63, 6) // 64 is written as 0
          this.prevLeading = lead
          this.prevTrailing = trail
        }
        writeMeaningful(w, xhi, xlo, trail, 64 - lead - trail)
      }
    }
    this.prevHi = hi
    this.prevLo = lo
    this.lastT = t
    this.count++
  }

  /** The chunk's bytes so far. */
  bytes(): Uint8Array {
    return this.w.bytes()
  }

  /** Bits written so far. */
  get bits(): number {
    return this.w.bits
  }
}

/** Write the `len` bits of (hi:lo) above its `trail` trailing bits. */
function writeMeaningful(w: BitWriter, hi: number, lo: number, trail: number, len: number): void {
  let sh: number
  let sl: number
  if (trail === 0) {
    sh = hi
    sl = lo
  } else if (trail < 32) {
    sl = ((lo >>> trail) | (hi << (32 - trail))) >>> 0
    sh = hi >>> trail
  } else {
    sl = hi >>> (trail - 32)
    sh = 0
  }
  if (len > 32) {
    w.write(sh, len - 32)
    w.write(sl, 32)
  } else w.write(len === 32 ? sl : sl & (((1 << len) - 1) >>> 0), len)
}

/** Thrown by {@link decodeChunk} on bytes that are not a chunk of `count` points. */
export class ChunkDecodeError extends Error {
  static override readonly name = 'ChunkDecodeError'
  override name = 'ChunkDecodeError'
}

/**
 * Decode a chunk of `count` points into `ts`/`vs` (appended). Any bytes give the points or a
 * {@link ChunkDecodeError}, never another kind of throw.
 */
export function decodeChunk(
  bytes: Uint8Array,
  count: number,
  ts: number[] = [],
  vs: number[] = [],
): { ts: number[]; vs: number[] } {
  if (!Number.isSafeInteger(count) || count < 0) throw new ChunkDecodeError(`bad point count ${count}`)
  if (count > bytes.length * 8) throw new ChunkDecodeError(`${count} points cannot fit in ${bytes.length} bytes`)
  if (count === 0) return { ts, vs }
  const r = new BitReader(bytes)
  try {
    let t = r.read(32) * TWO32 + r.read(32)
    u32[HI] = r.read(32)
    u32[LO] = r.read(32)
    let hi = u32[HI] as number
    let lo = u32[LO] as number
    ts.push(t)
    vs.push(f64[0] as number)
    let delta = 0
    let lead = 0
    let trail = 0
    for (let i = 1; i < count; i++) {
      // the bucket: as many 1 bits as its index (at most 4), ended by a 0 below 4
      let ones = 0
      while (ones < 4 && r.bit() === 1) ones++
      const dod =
        ones === 0
          ? 0
          : ones === 1
            ? r.read(7) - 63
            : ones === 2
              ? r.read(9) - 255
              : ones === 3
                ? r.read(12) - 2047
                : r.read(32) | 0
      delta += dod
      t += delta
      if (r.bit() === 1) {
        if (r.bit() === 1) {
          lead = r.read(5)
          const len = r.read(6) || 64
          trail = 64 - lead - len
          if (trail < 0) throw new ChunkDecodeError('bad XOR window')
        }
        const len = 64 - lead - trail
        let xh = 0
        let xl: number
        if (len > 32) {
          xh = r.read(len - 32)
          xl = r.read(32)
        } else xl = r.read(len)
        // shift (xh:xl) left by trail
        let h: number
        let l: number
        if (trail === 0) {
          h = xh
          l = xl
        } else if (trail < 32) {
          h = ((xh << trail) | (xl >>> (32 - trail))) >>> 0
          l = (xl << trail) >>> 0
        } else {
          h = (xl << (trail - 32)) >>> 0
          l = 0
        }
        hi = (hi ^ h) >>> 0
        lo = (lo ^ l) >>> 0
      }
      if (!Number.isSafeInteger(t) || delta <= 0) throw new ChunkDecodeError('timestamps not increasing')
      u32[HI] = hi
      u32[LO] = lo
      ts.push(t)
      vs.push(f64[0] as number)
    }
  } catch (err) {
    if (err instanceof ChunkDecodeError) throw err
    throw new ChunkDecodeError((err as Error).message)
  }
  return { ts, vs }
}
