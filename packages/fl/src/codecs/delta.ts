/** Encoding model parameters as a delta against the global model. @module */
import { ShapeMismatchError } from '../errors.js'
import type { UpdateCodec } from './codecs.js'
import type { DecodeOptions } from './format.js'

/**
 * `params − global` as float32 (what clients transmit instead of their full parameters).
 *
 * @example
 * ```ts
 * import { computeDelta } from '@vain/fl'
 * const delta = computeDelta(trained.params, global.params)
 * ```
 */
export function computeDelta(params: Float32Array, global: Float32Array): Float32Array {
  if (params.length !== global.length) throw new ShapeMismatchError('params', [global.length], [params.length])
  const out = new Float32Array(params.length)
  for (let j = 0; j < out.length; j++) out[j] = params[j]! - global[j]!
  return out
}

/**
 * `global + delta` as float32 (a new array).
 *
 * @example
 * ```ts
 * import { applyDelta } from '@vain/fl'
 * const params = applyDelta(global.params, delta)
 * ```
 */
export function applyDelta(global: Float32Array, delta: Float32Array): Float32Array {
  if (delta.length !== global.length) throw new ShapeMismatchError('delta', [global.length], [delta.length])
  const out = new Float32Array(global.length)
  for (let j = 0; j < out.length; j++) out[j] = global[j]! + delta[j]!
  return out
}

/** A codec for full parameters that transmits their delta against the global model. */
export interface DeltaCodec {
  /** Encodes `params − global` with the inner codec. */
  encode(params: Float32Array, global: Float32Array): Uint8Array
  /** Decodes a delta and adds it to `global` (the length is taken from `global`). */
  decode(bytes: Uint8Array, global: Float32Array, options?: Omit<DecodeOptions, 'expectedLength'>): Float32Array
}

/**
 * Wraps a codec so clients encode their trained parameters as a delta against the global model
 * they started from, and the receiver reconstructs parameters from the same global model.
 * Deltas are small and centred on zero, which is what quantization and sparsification need.
 *
 * @example
 * ```ts
 * import { deltaCodec, topK } from '@vain/fl'
 * const codec = deltaCodec(topK({ fraction: 0.01 }))
 * const bytes = codec.encode(trained, global)
 * const approx = codec.decode(bytes, global)
 * ```
 */
export function deltaCodec(inner: UpdateCodec): DeltaCodec {
  return {
    encode: (params, global) => inner.encode(computeDelta(params, global)),
    decode: (bytes, global, options = {}) =>
      applyDelta(global, inner.decode(bytes, { ...options, expectedLength: global.length })),
  }
}
