/**
 * Compress a payload into a self-describing frame and decompress it back, safely: any bytes
 * given to {@link decompress} / {@link decompressSync} give the original payload or an
 * {@link InvalidMessageError} / {@link MessageTooLargeError} — never another kind of throw, and
 * never more than `maxOutputBytes` of output (zlib's `maxOutputLength` stops decompression
 * bombs while they inflate).
 * @module
 */
import { ConfigError, InvalidMessageError, MessageTooLargeError } from '../errors.js'
import { type CompressionDecision, type CompressionPolicy, chooseCompression } from './choose.js'
import {
  CODEC_LEVELS,
  type CodecName,
  DEFAULT_CODEC_LEVELS,
  isValidLevel,
  type RawDecodeResult,
  rawCompress,
  rawCompressSync,
  rawDecompress,
  rawDecompressSync,
} from './codecs.js'
import { decodeFrameHeader, encodeFrameHeader, type FrameHeader } from './frame.js'

/** Default cap on a decompressed payload (256 MiB). Pass `maxOutputBytes` for larger models. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024

/** Payloads at least this long go to the thread pool in the async variants. Default 64 KiB. */
export const DEFAULT_ASYNC_THRESHOLD_BYTES = 64 * 1024

/** Options for {@link compress} and {@link compressSync}. */
export interface CompressOptions extends Partial<CompressionPolicy> {
  /**
   * Force a codec. When absent the codec is chosen by {@link chooseCompression} from the
   * payload's size, a sample of it and `linkBytesPerSec`, and an output that would not be
   * smaller than the payload is sent as `none` instead.
   */
  codec?: CodecName | undefined
  /** Level for a forced codec. Default {@link DEFAULT_CODEC_LEVELS} (deflate 6, brotli 5). */
  level?: number | undefined
  /** Measured throughput of the link, bytes per second (adaptive mode only). */
  linkBytesPerSec?: number | undefined
  /**
   * Async variant only: payloads shorter than this are compressed inline (the thread-pool
   * round trip would cost more). Default {@link DEFAULT_ASYNC_THRESHOLD_BYTES}.
   */
  asyncThresholdBytes?: number | undefined
}

/** A compressed frame and what it achieved. */
export interface CompressResult {
  /** The frame: header + codec data. Send these bytes. */
  bytes: Uint8Array
  codec: CodecName
  level: number
  /** Length of the payload. */
  originalBytes: number
  /** Length of the frame, header included. */
  compressedBytes: number
  /** `originalBytes / compressedBytes`: 4 means the frame is a quarter of the payload. */
  ratio: number
  /** Why this codec was used. */
  reason: string
}

/** Options for {@link decompress} and {@link decompressSync}. */
export interface DecompressOptions {
  /** Reject frames that would decompress to more bytes. Default {@link DEFAULT_MAX_DECOMPRESSED_BYTES}. */
  maxOutputBytes?: number | undefined
  /** Async variant only: see {@link CompressOptions.asyncThresholdBytes}. */
  asyncThresholdBytes?: number | undefined
}

interface Plan {
  codec: CodecName
  level: number
  reason: string
  adaptive: boolean
}

function plan(payload: Uint8Array, options: CompressOptions): Plan {
  if (!(payload instanceof Uint8Array)) {
    throw new ConfigError('compress: payload must be a Uint8Array')
  }
  if (options.codec !== undefined) {
    const codec = options.codec
    if (!(codec in CODEC_LEVELS)) throw new ConfigError(`compress: unknown codec ${String(codec)}`)
    const level = options.level ?? DEFAULT_CODEC_LEVELS[codec]
    if (!isValidLevel(codec, level)) {
      const { min, max } = CODEC_LEVELS[codec]
      throw new ConfigError(`compress: level ${level} is out of range ${min}..${max} for ${codec}`)
    }
    return { codec, level, reason: `requested ${codec === 'none' ? 'none' : `${codec}-${level}`}`, adaptive: false }
  }
  const { codec: _c, level: _l, linkBytesPerSec, asyncThresholdBytes: _a, ...policy } = options
  const decision: CompressionDecision = chooseCompression(
    { size: payload.byteLength, sample: payload, linkBytesPerSec },
    policy,
  )
  return { codec: decision.codec, level: decision.level, reason: decision.reason, adaptive: true }
}

function frame(payload: Uint8Array, p: Plan, data: Uint8Array): CompressResult {
  let { codec, level, reason } = p
  let body = data
  if (p.adaptive && codec !== 'none' && data.byteLength >= payload.byteLength) {
    reason = `${reason}; output not smaller than input, sent as none`
    codec = 'none'
    level = 0
    body = payload
  }
  const header = encodeFrameHeader(codec, level, payload.byteLength)
  const bytes = new Uint8Array(header.byteLength + body.byteLength)
  bytes.set(header, 0)
  bytes.set(body, header.byteLength)
  return {
    bytes,
    codec,
    level,
    originalBytes: payload.byteLength,
    compressedBytes: bytes.byteLength,
    ratio: payload.byteLength / bytes.byteLength,
    reason,
  }
}

/**
 * Compress `payload` into a frame, synchronously. Blocks the event loop for the duration: prefer
 * {@link compress} for payloads above a few tens of KiB.
 *
 * @throws {ConfigError} for an unknown codec, a level out of range or an invalid policy
 * @example
 * ```ts
 * const { bytes, ratio } = compressSync(update, { linkBytesPerSec: 5e6 })
 * const forced = compressSync(update, { codec: 'deflate', level: 9 })
 * ```
 */
export function compressSync(payload: Uint8Array, options: CompressOptions = {}): CompressResult {
  const p = plan(payload, options)
  return frame(payload, p, rawCompressSync(p.codec, p.level, payload))
}

/**
 * Compress `payload` into a frame. Payloads of at least `asyncThresholdBytes` are compressed on
 * the libuv thread pool so the event loop stays responsive.
 *
 * @throws {ConfigError} (as a rejection) for an unknown codec, a level out of range or an
 *   invalid policy
 * @example
 * ```ts
 * const result = await compress(update, { linkBytesPerSec: throughput })
 * log.info(`sent ${result.compressedBytes} B (${result.codec}, ×${result.ratio.toFixed(1)})`)
 * ```
 */
export async function compress(payload: Uint8Array, options: CompressOptions = {}): Promise<CompressResult> {
  const p = plan(payload, options)
  const threshold = options.asyncThresholdBytes ?? DEFAULT_ASYNC_THRESHOLD_BYTES
  const data =
    payload.byteLength >= threshold
      ? await rawCompress(p.codec, p.level, payload)
      : rawCompressSync(p.codec, p.level, payload)
  return frame(payload, p, data)
}

function prepare(bytes: Uint8Array, options: DecompressOptions): { header: FrameHeader; data: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidMessageError('compressed frame: expected bytes')
  }
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES
  const header = decodeFrameHeader(bytes)
  if (header.originalLength > maxOutputBytes) {
    throw new MessageTooLargeError(header.originalLength, maxOutputBytes)
  }
  return { header, data: bytes.subarray(header.dataOffset) }
}

function check(header: FrameHeader, data: Uint8Array, result: RawDecodeResult): Uint8Array {
  if (result.consumed !== data.byteLength) {
    throw new InvalidMessageError(
      `compressed frame: ${data.byteLength - result.consumed} trailing bytes after the ${header.codec} data`,
    )
  }
  if (result.output.byteLength !== header.originalLength) {
    throw new InvalidMessageError(
      `compressed frame: decoded ${result.output.byteLength} bytes but the header says ${header.originalLength}`,
    )
  }
  return result.output
}

function mapCodecError(header: FrameHeader, cause: unknown): InvalidMessageError {
  if ((cause as { code?: unknown } | null)?.code === 'ERR_BUFFER_TOO_LARGE') {
    return new InvalidMessageError(
      `compressed frame: ${header.codec} data decodes to more than the header's ${header.originalLength} bytes`,
      { cause },
    )
  }
  const message = cause instanceof Error ? cause.message : String(cause)
  return new InvalidMessageError(`compressed frame: corrupt or truncated ${header.codec} data (${message})`, {
    cause,
  })
}

/**
 * Decompress a frame made by {@link compress}, synchronously. For `none` frames the result is a
 * view into `bytes` (no copy).
 *
 * @throws {MessageTooLargeError} when the header declares more than `maxOutputBytes`
 * @throws {InvalidMessageError} for a malformed header, an unknown codec, corrupt or truncated
 *   data, trailing bytes, or a decoded length that differs from the header's
 * @example
 * ```ts
 * const payload = decompressSync(frame, { maxOutputBytes: 64 * 1024 * 1024 })
 * ```
 */
export function decompressSync(bytes: Uint8Array, options: DecompressOptions = {}): Uint8Array {
  const { header, data } = prepare(bytes, options)
  let result: RawDecodeResult
  try {
    result = rawDecompressSync(header.codec, data, header.originalLength)
  } catch (cause) {
    throw mapCodecError(header, cause)
  }
  return check(header, data, result)
}

/**
 * Decompress a frame made by {@link compress}. Frames of at least `asyncThresholdBytes` are
 * decompressed on the libuv thread pool. For `none` frames the result is a view into `bytes`.
 *
 * @throws {MessageTooLargeError} (as a rejection) when the header declares more than `maxOutputBytes`
 * @throws {InvalidMessageError} (as a rejection) for a malformed header, an unknown codec,
 *   corrupt or truncated data, trailing bytes, or a decoded length that differs from the header's
 * @example
 * ```ts
 * try {
 *   const update = await decompress(frame, { maxOutputBytes: 512 * 1024 * 1024 })
 * } catch (err) {
 *   if (err instanceof InvalidMessageError) peerScore.penalise(peer)
 * }
 * ```
 */
export async function decompress(bytes: Uint8Array, options: DecompressOptions = {}): Promise<Uint8Array> {
  const { header, data } = prepare(bytes, options)
  const threshold = options.asyncThresholdBytes ?? DEFAULT_ASYNC_THRESHOLD_BYTES
  let result: RawDecodeResult
  try {
    result =
      bytes.byteLength >= threshold
        ? await rawDecompress(header.codec, data, header.originalLength)
        : rawDecompressSync(header.codec, data, header.originalLength)
  } catch (cause) {
    throw mapCodecError(header, cause)
  }
  return check(header, data, result)
}
