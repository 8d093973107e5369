import { HashMismatchError, InvalidModelError, ShapeMismatchError } from '../errors.js'
import { sha256Hex } from '../internal/hash.js'
import { parseJsonBounded } from '../internal/json-depth.js'
import { type Architecture, architectureKey, parseArchitecture } from './architecture.js'
import { assertParams, type Model, modelLayout } from './model.js'

/** First four bytes of a serialized model: ASCII `VNMD`. */
export const MODEL_MAGIC = Uint8Array.of(0x56, 0x4e, 0x4d, 0x44)
/** The serialization format version this library writes (and the only one it reads). */
export const MODEL_FORMAT_VERSION = 1
const DTYPE_FLOAT32 = 1
const MAX_ARCH_BYTES = 64 * 1024
/** Deepest JSON nesting of the architecture header (architectures nest 2 or 3 levels). */
const MAX_ARCH_DEPTH = 16
const MAX_RANK = 4
/** Default upper bound on the size of a serialized model accepted by {@link decodeModel} (256 MiB). */
export const DEFAULT_MAX_MODEL_BYTES = 256 * 1024 * 1024

/**
 * Serializes a model into the versioned binary format (all integers little-endian):
 *
 * ```
 * 0   4 bytes  magic "VNMD"
 * 4   u8       format version (1)
 * 5   u8       dtype (1 = float32)
 * 6   u16      reserved, 0
 * 8   u32      A = byte length of the architecture JSON
 * 12  A bytes  architecture as canonical JSON (UTF-8)
 *     u32      T = number of tensors
 *     T ×      u8 rank, then rank × u32 dims   (must equal the architecture's layout)
 *     0–3      zero bytes, to align the data to 4 bytes
 *     P × f32  the flat parameters, P = sum of the tensors' sizes; nothing follows
 * ```
 *
 * The encoding is canonical: equal models give equal bytes, so {@link modelHash} identifies a model.
 *
 * @example
 * ```ts
 * const bytes = encodeModel(model)
 * const same = decodeModel(bytes)
 * ```
 */
export function encodeModel(model: Model): Uint8Array {
  const arch = parseArchitecture(model.architecture)
  assertParams(arch, model.params)
  const archBytes = new TextEncoder().encode(architectureKey(arch))
  const layout = modelLayout(arch)
  const dataOffset = dataOffsetOf(archBytes.length, layout)
  const out = new Uint8Array(dataOffset + 4 * layout.size)
  const view = new DataView(out.buffer)
  out.set(MODEL_MAGIC, 0)
  view.setUint8(4, MODEL_FORMAT_VERSION)
  view.setUint8(5, DTYPE_FLOAT32)
  view.setUint16(6, 0, true)
  view.setUint32(8, archBytes.length, true)
  out.set(archBytes, 12)
  let p = 12 + archBytes.length
  view.setUint32(p, layout.tensors.length, true)
  p += 4
  for (const t of layout.tensors) {
    view.setUint8(p++, t.shape.length)
    for (const d of t.shape) {
      view.setUint32(p, d, true)
      p += 4
    }
  }
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(model.params.buffer, model.params.byteOffset, model.params.byteLength), dataOffset)
  } else {
    for (let i = 0; i < model.params.length; i++) view.setFloat32(dataOffset + 4 * i, model.params[i]!, true)
  }
  return out
}

function dataOffsetOf(archBytes: number, layout: ReturnType<typeof modelLayout>): number {
  let header = 12 + archBytes + 4
  for (const t of layout.tensors) header += 1 + 4 * t.shape.length
  return align4(header)
}

/**
 * The size of {@link encodeModel}'s bytes for any model of `architecture`: the encoding is
 * canonical, so the architecture fixes it (a model fetch of another size can be refused unread).
 *
 * @example
 * ```ts
 * encodedModelBytes(mlp([784, 64, 10])) === encodeModel(createModel(mlp([784, 64, 10]))).byteLength // true
 * ```
 */
export function encodedModelBytes(architecture: unknown): number {
  const arch = parseArchitecture(architecture)
  const layout = modelLayout(arch)
  return dataOffsetOf(new TextEncoder().encode(architectureKey(arch)).length, layout) + 4 * layout.size
}

/** Options of {@link decodeModel}. */
export interface DecodeModelOptions {
  /** Reject input larger than this many bytes (default {@link DEFAULT_MAX_MODEL_BYTES}). */
  maxBytes?: number
  /** When given, the bytes must hash (sha2-256, hex) to this value, else {@link HashMismatchError}. */
  expectedHash?: string
}

/**
 * Decodes bytes written by {@link encodeModel}. Any malformed input (wrong magic or version,
 * truncated, trailing bytes, bad architecture or one nested deeper than 16 levels, shapes that
 * disagree with the architecture, non-finite parameters, too large) gives a typed error —
 * {@link InvalidModelError}, {@link ShapeMismatchError} or {@link HashMismatchError} — never
 * another exception.
 *
 * @example
 * ```ts
 * const model = decodeModel(bytes, { expectedHash: announcedHash })
 * ```
 */
export function decodeModel(bytes: Uint8Array, options: DecodeModelOptions = {}): Model {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MODEL_BYTES
  if (!(bytes instanceof Uint8Array)) throw new InvalidModelError('a serialized model must be a Uint8Array')
  if (bytes.length > maxBytes) {
    throw new InvalidModelError(`serialized model of ${bytes.length} bytes exceeds the limit of ${maxBytes}`)
  }
  if (options.expectedHash !== undefined) {
    const actual = sha256Hex(bytes)
    if (actual !== options.expectedHash.toLowerCase()) throw new HashMismatchError(options.expectedHash, actual)
  }
  if (bytes.length < 12) throw new InvalidModelError(`serialized model too short (${bytes.length} bytes)`)
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MODEL_MAGIC[i]) throw new InvalidModelError('not a vAIn model (bad magic)')
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint8(4)
  if (version !== MODEL_FORMAT_VERSION) throw new InvalidModelError(`unsupported model format version ${version}`)
  const dtype = view.getUint8(5)
  if (dtype !== DTYPE_FLOAT32) throw new InvalidModelError(`unsupported dtype ${dtype}`)
  if (view.getUint16(6, true) !== 0) throw new InvalidModelError('reserved header bytes must be zero')
  const archLength = view.getUint32(8, true)
  if (archLength > MAX_ARCH_BYTES || 12 + archLength + 4 > bytes.length) {
    throw new InvalidModelError(`architecture length ${archLength} is out of bounds`)
  }
  let arch: Architecture
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + archLength))
    arch = parseArchitecture(parseJsonBounded(text, MAX_ARCH_DEPTH))
  } catch (err) {
    throw new InvalidModelError('invalid architecture in serialized model', { cause: err })
  }
  const layout = modelLayout(arch)
  let p = 12 + archLength
  const tensorCount = view.getUint32(p, true)
  p += 4
  if (tensorCount !== layout.tensors.length) {
    throw new ShapeMismatchError('tensor count', [layout.tensors.length], [tensorCount])
  }
  for (const slot of layout.tensors) {
    if (p + 1 > bytes.length) throw new InvalidModelError('truncated tensor table')
    const rank = view.getUint8(p++)
    if (rank === 0 || rank > MAX_RANK || p + 4 * rank > bytes.length) {
      throw new InvalidModelError(`tensor ${slot.name}: bad rank ${rank} or truncated table`)
    }
    const shape: number[] = []
    for (let d = 0; d < rank; d++, p += 4) shape.push(view.getUint32(p, true))
    if (shape.length !== slot.shape.length || shape.some((d, i) => d !== slot.shape[i])) {
      throw new ShapeMismatchError(`tensor ${slot.name} shape`, slot.shape, shape)
    }
  }
  const dataOffset = align4(p)
  for (let i = p; i < dataOffset && i < bytes.length; i++) {
    if (bytes[i] !== 0) throw new InvalidModelError('non-zero padding before the parameter data')
  }
  const expectedLength = dataOffset + 4 * layout.size
  if (bytes.length !== expectedLength) {
    throw new InvalidModelError(
      `serialized model has ${bytes.length} bytes, its header describes ${expectedLength} (${layout.size} parameters)`,
    )
  }
  const params = new Float32Array(layout.size)
  if (LITTLE_ENDIAN) {
    new Uint8Array(params.buffer).set(bytes.subarray(dataOffset, expectedLength))
  } else {
    for (let i = 0; i < layout.size; i++) params[i] = view.getFloat32(dataOffset + 4 * i, true)
  }
  for (let i = 0; i < params.length; i++) {
    if (!Number.isFinite(params[i])) throw new InvalidModelError(`parameter ${i} is not finite (${params[i]})`)
  }
  return { architecture: arch, params }
}

/**
 * The content hash of a model: sha2-256 of its canonical encoding ({@link encodeModel}), as 64
 * lowercase hex characters. Two models have the same hash exactly when they have the same
 * architecture and bit-identical parameters.
 *
 * @example
 * ```ts
 * modelHash(model) // 'c0ffee…' (64 hex chars)
 * modelHash(decodeModel(encodeModel(model))) === modelHash(model) // true
 * ```
 */
export function modelHash(model: Model): string {
  return sha256Hex(encodeModel(model))
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

function align4(n: number): number {
  return (n + 3) & ~3
}
