/** Byte-level reading and writing for the update format (internal). @module */
import { MalformedUpdateError, TruncatedUpdateError } from './errors.js'

/** Growable little-endian byte writer. */
export class ByteWriter {
  private buf: Uint8Array
  private view: DataView
  pos = 0
  constructor(capacity = 64) {
    this.buf = new Uint8Array(Math.max(16, capacity))
    this.view = new DataView(this.buf.buffer)
  }
  private ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return
    let cap = this.buf.length * 2
    while (cap < this.pos + extra) cap *= 2
    const next = new Uint8Array(cap)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.pos++] = v
  }
  /** Unsigned LEB128 of an integer in [0, 2^32). */
  varint(v: number): void {
    this.ensure(5)
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80
      v = Math.floor(v / 128)
    }
    this.buf[this.pos++] = v
  }
  f32(v: number): void {
    this.ensure(4)
    this.view.setFloat32(this.pos, v, true)
    this.pos += 4
  }
  u16(v: number): void {
    this.ensure(2)
    this.view.setUint16(this.pos, v, true)
    this.pos += 2
  }
  /** Reserves `n` bytes and returns a view on them (to fill in place). */
  reserve(n: number): Uint8Array {
    this.ensure(n)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  /** The written bytes (a right-sized copy). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }
}

/** Bounds-checked little-endian byte reader; throws typed errors. */
export class ByteReader {
  pos = 0
  private readonly view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  get remaining(): number {
    return this.bytes.length - this.pos
  }
  need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new TruncatedUpdateError(
        `truncated update: ${what} needs ${n} bytes at offset ${this.pos}, ${this.remaining} left`,
      )
    }
  }
  u8(what: string): number {
    this.need(1, what)
    return this.bytes[this.pos++]!
  }
  u16(what: string): number {
    this.need(2, what)
    const v = this.view.getUint16(this.pos, true)
    this.pos += 2
    return v
  }
  f32(what: string): number {
    this.need(4, what)
    const v = this.view.getFloat32(this.pos, true)
    this.pos += 4
    return v
  }
  /** Canonical unsigned LEB128 of at most 5 bytes, value < 2^32 (no overlong encodings). */
  varint(what: string): number {
    let result = 0
    let mul = 1
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.bytes.length)
        throw new TruncatedUpdateError(`truncated update: ${what} varint at offset ${this.pos}`)
      const b = this.bytes[this.pos++]!
      result += (b & 0x7f) * mul
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw new MalformedUpdateError(`${what}: overlong varint at offset ${this.pos - 1}`)
        if (result > 0xffffffff) throw new MalformedUpdateError(`${what}: varint exceeds 2^32 - 1`)
        return result
      }
      mul *= 128
    }
    throw new MalformedUpdateError(`${what}: varint longer than 5 bytes at offset ${this.pos}`)
  }
  bytesView(n: number, what: string): Uint8Array {
    this.need(n, what)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}
