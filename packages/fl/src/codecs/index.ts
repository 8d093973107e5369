/**
 * Update compression with a versioned binary format (see `format.ts` for the layout): dense
 * fp32 / fp16, uniform int8 / int4 quantization with seeded stochastic rounding, top-k
 * sparsification with error feedback and delta-coded varint indices (values in any of those
 * encodings), deltas against the global model, and one decoder for all of them that rejects
 * malformed, truncated, oversized or out-of-range input with typed errors.
 *
 * @example
 * ```ts
 * import { compressionRatio, decodeUpdate, topK } from '@vain/fl'
 * const codec = topK({ fraction: 0.01, values: 'int8', seed: 1 }) // per client: keeps a residual
 * const bytes = codec.encode(delta)
 * console.log(`${compressionRatio(bytes, delta.length).toFixed(0)}× smaller than fp32`)
 * const received = decodeUpdate(bytes, { expectedLength: delta.length, maxBytes: 1 << 20 })
 * ```
 * @module
 */
export {
  compressionRatio,
  fp16,
  fp32,
  int4,
  int8,
  type LossyCodecInit,
  type QuantizedCodecInit,
  type TopKInit,
  topK,
  type UpdateCodec,
} from './codecs.js'
export { applyDelta, computeDelta, type DeltaCodec, deltaCodec } from './delta.js'
export {
  CodecError,
  InvalidIndexError,
  MalformedUpdateError,
  TruncatedUpdateError,
  UnsupportedCodecError,
  UpdateLengthMismatchError,
  UpdateTooLargeError,
} from './errors.js'
export {
  type DecodeOptions,
  decodeUpdate,
  type QuantizedUpdate,
  readQuantizedUpdate,
  readUpdateHeader,
  UPDATE_FORMAT_VERSION,
  type UpdateHeader,
  type ValueEncoding,
} from './format.js'
export { CODEC_NAMES, type CodecName, type CodecSpec, createCodec } from './spec.js'
