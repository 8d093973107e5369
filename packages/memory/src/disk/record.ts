/**
 * The on-disk form of a key/value entry: a small header (format, flags, optional expiry) and the
 * value bytes. LMDB commits a record atomically, so a reader sees a whole record or none; the
 * header lets a reader tell a foreign or damaged record from a valid one.
 *
 * ```
 * byte 0     format (1)
 * byte 1     flags: bit 0 = has expiry; other bits must be 0
 * bytes 2-9  expiry, ms since the epoch, float64 big-endian (only with bit 0)
 * rest       value
 * ```
 * @module
 */
import { CorruptedValueError } from '../errors.js'

const FORMAT = 1
const FLAG_EXPIRES = 1

/** A decoded record: where the value starts in the bytes, and when it expires (0 = never). */
export interface RecordView {
  expiresAt: number
  offset: number
}

/**
 * Encode a value and its expiry into one new buffer. `pooled` (default) may place a small
 * record in Node's shared 8 KiB allocation pool — fine for bytes handed to disk, not for bytes
 * a cache keeps a view of (the view would keep the whole pool slab alive).
 *
 * @example
 * ```ts
 * const bytes = encodeRecord(new Uint8Array([1, 2]), 0) // [1, 0, 1, 2]
 * ```
 */
export function encodeRecord(value: Uint8Array, expiresAt: number, pooled = true): Uint8Array {
  const header = expiresAt > 0 ? 10 : 2
  const out = pooled ? Buffer.allocUnsafe(header + value.byteLength) : Buffer.allocUnsafeSlow(header + value.byteLength)
  out[0] = FORMAT
  if (expiresAt > 0) {
    out[1] = FLAG_EXPIRES
    out.writeDoubleBE(expiresAt, 2)
  } else {
    out[1] = 0
  }
  out.set(value, header)
  return out
}

/**
 * Decode a record header.
 *
 * @throws {CorruptedValueError} when the bytes are not a record of a known format
 * @example
 * ```ts
 * const { expiresAt, offset } = decodeRecord(bytes)
 * const value = bytes.subarray(offset)
 * ```
 */
export function decodeRecord(bytes: Uint8Array, label = 'record'): RecordView {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < 2) {
    throw new CorruptedValueError(`${label}: too short to be a record`)
  }
  if (bytes[0] !== FORMAT) throw new CorruptedValueError(`${label}: unknown record format ${bytes[0]}`)
  const flags = bytes[1] as number
  if (flags === 0) return { expiresAt: 0, offset: 2 }
  if (flags !== FLAG_EXPIRES) throw new CorruptedValueError(`${label}: unknown record flags ${flags}`)
  if (bytes.byteLength < 10) throw new CorruptedValueError(`${label}: truncated expiry`)
  const expiresAt = new DataView(bytes.buffer, bytes.byteOffset + 2, 8).getFloat64(0, false)
  if (!Number.isFinite(expiresAt) || expiresAt <= 0) {
    throw new CorruptedValueError(`${label}: invalid expiry ${expiresAt}`)
  }
  return { expiresAt, offset: 10 }
}
