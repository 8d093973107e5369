/**
 * The self-describing compressed frame:
 *
 * ```text
 * byte 0      magic/version  0xA1 (format version 1)
 * byte 1      codec          0 = none, 1 = deflate (zlib format), 2 = brotli
 * byte 2      level          deflate 0..9, brotli quality 0..11, 0 for none
 * bytes 3..   varint         original (decompressed) length, unsigned LEB128, minimal, ≤ 2^53 - 1
 * then        data           the codec's output
 * ```
 *
 * Any header problem is an {@link InvalidMessageError}; nothing else is thrown.
 * @module
 */
import { InvalidMessageError } from '../errors.js'
import { CODEC_BY_ID, CODEC_IDS, type CodecName, isValidLevel } from './codecs.js'

/** The first byte of every frame: a magic value that also carries the format version (1). */
export const FRAME_MAGIC = 0xa1

/** Longest varint accepted for the original length (8 bytes carry 56 bits ≥ 2^53 - 1). */
const MAX_VARINT_BYTES = 8

/** A decoded frame header. */
export interface FrameHeader {
  codec: CodecName
  level: number
  /** Length of the payload once decompressed, as the sender declared it. */
  originalLength: number
  /** Offset of the codec data within the frame. */
  dataOffset: number
}

/**
 * Encode a frame header.
 *
 * @example
 * ```ts
 * encodeFrameHeader('deflate', 6, 1000) // Uint8Array [0xa1, 1, 6, 0xe8, 0x07]
 * ```
 */
export function encodeFrameHeader(codec: CodecName, level: number, originalLength: number): Uint8Array {
  const varint = encodeVarint(originalLength)
  const header = new Uint8Array(3 + varint.byteLength)
  header[0] = FRAME_MAGIC
  header[1] = CODEC_IDS[codec]
  header[2] = level
  header.set(varint, 3)
  return header
}

/**
 * Decode and validate a frame header.
 *
 * @throws {InvalidMessageError} bad magic/version, unknown codec, level out of range for the
 *   codec, or a truncated, overlong or oversized varint
 * @example
 * ```ts
 * const { codec, level, originalLength, dataOffset } = decodeFrameHeader(frame)
 * ```
 */
export function decodeFrameHeader(bytes: Uint8Array): FrameHeader {
  if (bytes.byteLength < 4) {
    throw new InvalidMessageError(`compressed frame: ${bytes.byteLength} bytes is shorter than a header`)
  }
  if (bytes[0] !== FRAME_MAGIC) {
    throw new InvalidMessageError(
      `compressed frame: bad magic/version byte 0x${(bytes[0] as number).toString(16).padStart(2, '0')}`,
    )
  }
  const codecId = bytes[1] as number
  const codec = CODEC_BY_ID[codecId]
  if (codec === undefined) {
    throw new InvalidMessageError(`compressed frame: unknown codec id ${codecId}`)
  }
  const level = bytes[2] as number
  if (!isValidLevel(codec, level)) {
    throw new InvalidMessageError(`compressed frame: level ${level} is not valid for codec ${codec}`)
  }
  const { value, length } = decodeVarint(bytes, 3)
  return { codec, level, originalLength: value, dataOffset: 3 + length }
}

/**
 * Unsigned LEB128 of a safe non-negative integer.
 *
 * @example
 * ```ts
 * encodeVarint(300) // Uint8Array [0xac, 0x02]
 * ```
 */
export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`varint: ${value} is not a non-negative safe integer`)
  }
  const out: number[] = []
  let rest = value
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80)
    rest = Math.floor(rest / 0x80)
  }
  out.push(rest)
  return Uint8Array.from(out)
}

/**
 * Decode an unsigned LEB128 at `offset`. Rejects truncated, overlong (non-minimal) and
 * unsafe (> 2^53 - 1) encodings.
 *
 * @throws {InvalidMessageError} when the varint is malformed
 * @example
 * ```ts
 * decodeVarint(Uint8Array.of(0xac, 0x02), 0) // { value: 300, length: 2 }
 * ```
 */
export function decodeVarint(bytes: Uint8Array, offset: number): { value: number; length: number } {
  let value = 0
  let scale = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = bytes[offset + i]
    if (byte === undefined) {
      throw new InvalidMessageError('compressed frame: truncated length varint')
    }
    value += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) {
        throw new InvalidMessageError('compressed frame: overlong length varint')
      }
      if (!Number.isSafeInteger(value)) {
        throw new InvalidMessageError('compressed frame: length varint exceeds 2^53 - 1')
      }
      return { value, length: i + 1 }
    }
    scale *= 0x80
  }
  throw new InvalidMessageError(`compressed frame: length varint longer than ${MAX_VARINT_BYTES} bytes`)
}
