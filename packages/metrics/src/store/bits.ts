/** A growable MSB-first bit writer over a Uint8Array (the Gorilla encoder's output). */
export class BitWriter {
  buf: Uint8Array
  /** Bits written. */
  bits = 0

  constructor(initialBytes = 64) {
    this.buf = new Uint8Array(initialBytes)
  }

  private grow(needBits: number): void {
    const need = (needBits + 7) >>> 3
    if (need <= this.buf.length) return
    const next = new Uint8Array(Math.max(need, this.buf.length * 2))
    next.set(this.buf)
    this.buf = next
  }

  /** Write the low `n` (0–32) bits of `value`, most significant first. */
  write(value: number, n: number): void {
    if (n === 0) return
    this.grow(this.bits + n)
    const buf = this.buf
    let pos = this.bits
    let left = n
    while (left > 0) {
      const free = 8 - (pos & 7)
      const take = Math.min(free, left)
      const chunk = (value >>> (left - take)) & ((1 << take) - 1)
      buf[pos >>> 3] = (buf[pos >>> 3] as number) | (chunk << (free - take))
      pos += take
      left -= take
    }
    this.bits = pos
  }

  /** The bytes written so far (a copy, trimmed). */
  bytes(): Uint8Array {
    return this.buf.slice(0, (this.bits + 7) >>> 3)
  }
}

/** Thrown by {@link BitReader} past the end of its input. */
export class BitsExhaustedError extends Error {
  static override readonly name = 'BitsExhaustedError'
  override name = 'BitsExhaustedError'
}

/** Reads what {@link BitWriter} wrote. */
export class BitReader {
  pos = 0
  private readonly limit: number

  constructor(
    private readonly buf: Uint8Array,
    bits = buf.length * 8,
  ) {
    this.limit = Math.min(bits, buf.length * 8)
  }

  /** Read `n` (0–32) bits as an unsigned number. */
  read(n: number): number {
    if (this.pos + n > this.limit) throw new BitsExhaustedError('chunk data ends early')
    let out = 0
    let left = n
    let pos = this.pos
    const buf = this.buf
    while (left > 0) {
      const avail = 8 - (pos & 7)
      const take = Math.min(avail, left)
      const byte = buf[pos >>> 3] as number
      const chunk = (byte >>> (avail - take)) & ((1 << take) - 1)
      out = out * (1 << take) + chunk
      pos += take
      left -= take
    }
    this.pos = pos
    return out
  }

  bit(): number {
    if (this.pos >= this.limit) throw new BitsExhaustedError('chunk data ends early')
    const b = ((this.buf[this.pos >>> 3] as number) >>> (7 - (this.pos & 7))) & 1
    this.pos++
    return b
  }
}
