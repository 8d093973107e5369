/**
 * Adaptive payload compression for model updates and other large messages.
 *
 * Frames are self-describing (magic/version, codec, level, original length, data), so the
 * receiver needs no negotiation; {@link decompress} turns any bytes into the payload or a typed
 * error (`InvalidMessageError`, `MessageTooLargeError`) and never inflates beyond
 * `maxOutputBytes`. {@link chooseCompression} picks none / deflate / brotli from the payload's
 * size, its measured compressibility and the link's throughput; {@link createAdaptiveCompressor}
 * keeps that throughput per peer.
 *
 * @example
 * ```ts
 * import { createAdaptiveCompressor, decompress } from '@vain/net'
 *
 * const compressor = createAdaptiveCompressor()
 * compressor.recordTransfer(peerKey, 4_000_000, 2_000) // 2 MB/s link
 * const { bytes, codec, ratio } = await compressor.compress(peerKey, update)
 * // ...send bytes; on the other side:
 * const received = await decompress(bytes, { maxOutputBytes: 512 * 1024 * 1024 })
 * ```
 * @module
 */

export {
  type AdaptiveCompressor,
  type AdaptiveCompressorInit,
  createAdaptiveCompressor,
  type PeerCompressionStats,
} from './adaptive.js'
export {
  type CompressionDecision,
  type CompressionInput,
  type CompressionPolicy,
  chooseCompression,
  DEFAULT_COMPRESSION_POLICY,
  measureCompressibility,
  resolveCompressionPolicy,
  takeSample,
} from './choose.js'
export {
  CODEC_LEVELS,
  CODECS,
  type CodecChoice,
  type CodecName,
  DEFAULT_CODEC_LEVELS,
  isValidLevel,
} from './codecs.js'
export {
  type CompressOptions,
  type CompressResult,
  compress,
  compressSync,
  DEFAULT_ASYNC_THRESHOLD_BYTES,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  type DecompressOptions,
  decompress,
  decompressSync,
} from './compress.js'
export { decodeFrameHeader, encodeFrameHeader, FRAME_MAGIC, type FrameHeader } from './frame.js'
