/**
 * The versioned binary format of an encoded update (v1), little-endian:
 *
 * ```
 * 0  'V' 'U'            magic
 * 2  u8 version         = 1
 * 3  u8 kind            high nibble: layout (0 dense, 1 sparse)
 *                       low nibble:  values (0 fp32, 1 fp16, 2 int8, 3 int4)
 * 4  varint length      parameters in the model
 *    [sparse] varint count, then `count` varints: first index, then gaps (each >= 1)
 *    [int8/int4] varint blockSize (>= 1), then ⌈count / blockSize⌉ float32 scales (finite, >= 0)
 *    values             `count` of them (count = length when dense):
 *                       fp32: 4 bytes · fp16: 2 bytes (finite) · int8: 1 byte ·
 *                       int4: two's-complement nibbles, low nibble first, padding nibble 0
 * ```
 *
 * Varints are canonical unsigned LEB128 (< 2^32, no overlong forms); nothing may follow the
 * values. A quantized value is `q · scale` of its block.
 * @module
 */
import { InvalidUpdateError } from '../errors.js'
import type { Rng } from '../random.js'
import {
  InvalidIndexError,
  MalformedUpdateError,
  UnsupportedCodecError,
  UpdateLengthMismatchError,
  UpdateTooLargeError,
} from './errors.js'
import { halfTable, toHalfBits } from './half.js'
import { ByteReader, ByteWriter } from './wire.js'

/** Format version written by this library. */
export const UPDATE_FORMAT_VERSION = 1
const MAGIC0 = 0x56
const MAGIC1 = 0x55
const MAX_LENGTH = 0xffffffff

/** How values are stored. */
export type ValueEncoding = 'fp32' | 'fp16' | 'int8' | 'int4'
const VALUE_CODES: Record<ValueEncoding, number> = { fp32: 0, fp16: 1, int8: 2, int4: 3 }
const VALUE_NAMES: ValueEncoding[] = ['fp32', 'fp16', 'int8', 'int4']
const LEVELS = { int8: 127, int4: 7 } as const

/** Quantization settings of int8/int4 values. */
export interface QuantizeOptions {
  /** Values sharing one float32 scale (default 256). */
  blockSize: number
  /** Stochastic (unbiased) rounding from this generator; nearest rounding when absent. */
  rng?: Rng | undefined
}

/** What to encode: a dense vector, or the values at strictly increasing `indices`. */
export interface Payload {
  length: number
  values: Float32Array
  indices?: Uint32Array | undefined
}

/** Throws `InvalidUpdateError` unless every value is finite. */
export function assertFiniteUpdate(update: Float32Array): void {
  if (!(update instanceof Float32Array)) throw new InvalidUpdateError('update must be a Float32Array')
  for (let j = 0; j < update.length; j++) {
    const v = update[j]!
    if (v - v !== 0) throw new InvalidUpdateError(`update has a non-finite value (${v}) at index ${j}`)
  }
}

/** Encodes a payload in format v1. */
export function encodePayload(payload: Payload, encoding: ValueEncoding, quantize: QuantizeOptions): Uint8Array {
  const { length, values, indices } = payload
  if (length > MAX_LENGTH) throw new InvalidUpdateError(`updates are limited to ${MAX_LENGTH} parameters`)
  const count = values.length
  const bytesPerValue = encoding === 'fp32' ? 4 : encoding === 'fp16' ? 2 : 1
  const w = new ByteWriter(16 + count * (bytesPerValue + (indices ? 2 : 0)))
  w.u8(MAGIC0)
  w.u8(MAGIC1)
  w.u8(UPDATE_FORMAT_VERSION)
  w.u8(((indices ? 1 : 0) << 4) | VALUE_CODES[encoding])
  w.varint(length)
  if (indices) {
    w.varint(count)
    let prev = 0
    for (let k = 0; k < count; k++) {
      const idx = indices[k]!
      w.varint(k === 0 ? idx : idx - prev)
      prev = idx
    }
  }
  switch (encoding) {
    case 'fp32': {
      for (let k = 0; k < count; k++) w.f32(values[k]!)
      break
    }
    case 'fp16': {
      for (let k = 0; k < count; k++) w.u16(toHalfBits(values[k]!))
      break
    }
    case 'int8':
    case 'int4': {
      const levels = LEVELS[encoding]
      const bs = quantize.blockSize
      w.varint(bs)
      const blocks = Math.ceil(count / bs)
      const scales = new Float32Array(blocks)
      for (let b = 0; b < blocks; b++) {
        let max = 0
        for (let k = b * bs, end = Math.min(count, k + bs); k < end; k++) {
          const a = Math.abs(values[k]!)
          if (a > max) max = a
        }
        scales[b] = max / levels
        w.f32(scales[b]!)
      }
      const q = new Int8Array(count)
      const rng = quantize.rng
      for (let b = 0; b < blocks; b++) {
        const s = scales[b]!
        if (s === 0) continue
        for (let k = b * bs, end = Math.min(count, k + bs); k < end; k++) {
          const x = values[k]! / s
          let r = rng === undefined ? Math.round(x) : Math.floor(x + rng.next())
          if (r > levels) r = levels
          else if (r < -levels) r = -levels
          q[k] = r
        }
      }
      if (encoding === 'int8') {
        w.reserve(count).set(new Uint8Array(q.buffer))
      } else {
        const out = w.reserve((count + 1) >> 1)
        for (let k = 0; k < count; k += 2) {
          const lo = q[k]! & 0xf
          const hi = k + 1 < count ? q[k + 1]! & 0xf : 0
          out[k >> 1] = lo | (hi << 4)
        }
      }
      break
    }
  }
  return w.finish()
}

/** Options of {@link decodeUpdate}. */
export interface DecodeOptions {
  /** Parameters the model has; an update of another length is rejected (nothing larger is allocated). */
  expectedLength: number
  /**
   * Largest accepted encoding in bytes, checked before parsing. Default `64 + 10·expectedLength`,
   * above every valid encoding of that length.
   */
  maxBytes?: number
}

/** Fields of an encoded update's header. */
export interface UpdateHeader {
  version: number
  layout: 'dense' | 'sparse'
  values: ValueEncoding
  length: number
}

function readHeader(r: ByteReader): UpdateHeader {
  const m0 = r.u8('magic')
  const m1 = r.u8('magic')
  if (m0 !== MAGIC0 || m1 !== MAGIC1) throw new MalformedUpdateError('not an encoded update (bad magic)')
  const version = r.u8('version')
  if (version !== UPDATE_FORMAT_VERSION) {
    throw new UnsupportedCodecError(
      `update format version ${version} is not supported (this decoder reads ${UPDATE_FORMAT_VERSION})`,
    )
  }
  const kind = r.u8('kind')
  const layoutCode = kind >> 4
  const valueCode = kind & 0xf
  if (layoutCode > 1) throw new UnsupportedCodecError(`unknown layout ${layoutCode}`)
  const values = VALUE_NAMES[valueCode]
  if (values === undefined) throw new UnsupportedCodecError(`unknown value encoding ${valueCode}`)
  const length = r.varint('length')
  return { version, layout: layoutCode === 1 ? 'sparse' : 'dense', values, length }
}

/**
 * Reads the header of an encoded update without decoding it (for logs and routing). Throws a
 * `CodecError` subclass when the header is malformed.
 *
 * @example
 * ```ts
 * import { readUpdateHeader } from '@vain/fl'
 * readUpdateHeader(bytes) // { version: 1, layout: 'sparse', values: 'int8', length: 101770 }
 * ```
 */
export function readUpdateHeader(bytes: Uint8Array): UpdateHeader {
  if (!(bytes instanceof Uint8Array)) throw new MalformedUpdateError('update must be a Uint8Array')
  return readHeader(new ByteReader(bytes))
}

/**
 * Decodes any update in format v1 (dense or sparse; fp32, fp16, int8 or int4 values) into a dense
 * Float32Array of `expectedLength`. Rejects oversized input (`UpdateTooLargeError`), unknown
 * versions or encodings (`UnsupportedCodecError`), wrong lengths (`UpdateLengthMismatchError`),
 * truncated input (`TruncatedUpdateError`), bad or non-increasing indices (`InvalidIndexError`)
 * and every other deviation (`MalformedUpdateError`) — never anything but a `CodecError`.
 *
 * @example
 * ```ts
 * import { decodeUpdate, CodecError } from '@vain/fl'
 * try {
 *   const delta = decodeUpdate(bytes, { expectedLength: model.params.length, maxBytes: 1 << 20 })
 * } catch (err) {
 *   if (err instanceof CodecError) console.warn('dropping update:', err.message)
 * }
 * ```
 */
export function decodeUpdate(bytes: Uint8Array, options: DecodeOptions): Float32Array {
  const expected = options.expectedLength
  if (!(Number.isInteger(expected) && expected >= 0 && expected <= MAX_LENGTH)) {
    throw new RangeError(`expectedLength must be an integer in [0, 2^32), got ${expected}`)
  }
  if (!(bytes instanceof Uint8Array)) throw new MalformedUpdateError('update must be a Uint8Array')
  const maxBytes = options.maxBytes ?? 64 + 10 * expected
  if (bytes.length > maxBytes)
    throw new UpdateTooLargeError(`update is ${bytes.length} bytes, more than the ${maxBytes} allowed`)
  const r = new ByteReader(bytes)
  const header = readHeader(r)
  if (header.length !== expected) {
    throw new UpdateLengthMismatchError(`update has ${header.length} parameters, the model ${expected}`)
  }
  const out = new Float32Array(expected)
  let count = expected
  let indices: Uint32Array | undefined
  if (header.layout === 'sparse') {
    count = r.varint('count')
    if (count > expected)
      throw new MalformedUpdateError(`sparse update lists ${count} values for ${expected} parameters`)
    r.need(count, 'indices') // each index takes at least one byte: no huge allocation on a lie
    indices = new Uint32Array(count)
    let prev = -1
    for (let k = 0; k < count; k++) {
      const v = r.varint('index')
      if (k > 0 && v === 0) throw new InvalidIndexError(`index ${k} does not increase (gap 0)`)
      const idx = k === 0 ? v : prev + v
      if (idx >= expected) throw new InvalidIndexError(`index ${idx} is out of range (length ${expected})`)
      indices[k] = idx
      prev = idx
    }
  }
  const put = indices
    ? (k: number, v: number) => {
        out[indices[k]!] = v
      }
    : (k: number, v: number) => {
        out[k] = v
      }
  switch (header.values) {
    case 'fp32': {
      r.need(4 * count, 'fp32 values')
      for (let k = 0; k < count; k++) {
        const v = r.f32('value')
        if (v - v !== 0) throw new MalformedUpdateError(`value ${k} is not finite`)
        put(k, v)
      }
      break
    }
    case 'fp16': {
      r.need(2 * count, 'fp16 values')
      const table = halfTable()
      for (let k = 0; k < count; k++) {
        const v = table[r.u16('value')]!
        if (Number.isNaN(v)) throw new MalformedUpdateError(`value ${k} is not finite`)
        put(k, v)
      }
      break
    }
    case 'int8':
    case 'int4': {
      const bs = r.varint('blockSize')
      if (bs < 1) throw new MalformedUpdateError('blockSize must be >= 1')
      const blocks = Math.ceil(count / bs)
      r.need(4 * blocks, 'scales')
      const scales = new Float32Array(blocks)
      for (let b = 0; b < blocks; b++) {
        const s = r.f32('scale')
        if (!(s >= 0 && s < Number.POSITIVE_INFINITY))
          throw new MalformedUpdateError(`scale ${b} is ${s}, not finite and >= 0`)
        scales[b] = s
      }
      if (header.values === 'int8') {
        const q = r.bytesView(count, 'int8 values')
        for (let k = 0; k < count; k++) put(k, ((q[k]! << 24) >> 24) * scales[Math.floor(k / bs)]!)
      } else {
        const q = r.bytesView((count + 1) >> 1, 'int4 values')
        if ((count & 1) === 1 && q[q.length - 1]! >> 4 !== 0)
          throw new MalformedUpdateError('int4 padding nibble is not zero')
        for (let k = 0; k < count; k++) {
          const byte = q[k >> 1]!
          const nibble = (k & 1) === 0 ? byte & 0xf : byte >> 4
          put(k, ((nibble << 28) >> 28) * scales[Math.floor(k / bs)]!)
        }
      }
      break
    }
  }
  if (r.remaining !== 0) throw new MalformedUpdateError(`${r.remaining} unexpected bytes after the values`)
  for (let j = 0; j < out.length; j++) {
    const v = out[j]!
    if (v - v !== 0) throw new MalformedUpdateError(`decoded value ${j} overflows float32`)
  }
  return out
}

/** The quantized values of an int8 update, as {@link readQuantizedUpdate} reads them. */
export interface QuantizedUpdate {
  /** Parameters of the model. */
  length: number
  /** Ascending indices of the values (sparse layout); absent when dense. */
  indices: Uint32Array | undefined
  /** Values sharing one scale. */
  blockSize: number
  /** One float32 scale per block (`⌈values.length / blockSize⌉`). */
  scales: Float32Array
  /** The integers in [−127, 127] (a view of the encoded bytes). */
  values: Int8Array
}

/**
 * Reads the integers and scales of an int8-encoded update (dense or sparse) without
 * dequantizing: what a proof of the update's norm is about. Checks exactly what
 * {@link decodeUpdate} checks; throws a `CodecError` on anything else, and
 * `UnsupportedCodecError` when the values are not int8.
 *
 * @example
 * ```ts
 * import { int8, readQuantizedUpdate } from '@vain/fl'
 * const q = readQuantizedUpdate(int8({ blockSize: 256 }).encode(delta), { expectedLength: delta.length })
 * q.values.length // delta.length; q.scales.length = ⌈delta.length / 256⌉
 * ```
 */
export function readQuantizedUpdate(bytes: Uint8Array, options: DecodeOptions): QuantizedUpdate {
  // decodeUpdate validates the whole encoding (lengths, indices, scales, trailing bytes) first
  decodeUpdate(bytes, options)
  const r = new ByteReader(bytes)
  const header = readHeader(r)
  if (header.values !== 'int8') {
    throw new UnsupportedCodecError(`the update's values are ${header.values}, not int8`)
  }
  let count = header.length
  let indices: Uint32Array | undefined
  if (header.layout === 'sparse') {
    count = r.varint('count')
    indices = new Uint32Array(count)
    let prev = -1
    for (let k = 0; k < count; k++) {
      const v = r.varint('index')
      prev = k === 0 ? v : prev + v
      indices[k] = prev
    }
  }
  const blockSize = r.varint('blockSize')
  const blocks = Math.ceil(count / blockSize)
  const scales = new Float32Array(blocks)
  for (let b = 0; b < blocks; b++) scales[b] = r.f32('scale')
  const q = r.bytesView(count, 'int8 values')
  return {
    length: header.length,
    indices,
    blockSize,
    scales,
    values: new Int8Array(q.buffer, q.byteOffset, q.byteLength),
  }
}
