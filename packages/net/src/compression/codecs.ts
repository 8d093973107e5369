/**
 * The codecs behind the compressed frame, on top of `node:zlib`: `none`, `deflate` (zlib format,
 * so the Adler-32 trailer catches corruption) and `brotli`. Each has a sync variant (for small
 * payloads) and an async one that runs on the libuv thread pool (for big payloads, so the event
 * loop is not blocked).
 * @module
 */
import * as zlib from 'node:zlib'

/** A compression codec. */
export type CodecName = 'none' | 'deflate' | 'brotli'

/** A codec with its level (deflate level 0..9, brotli quality 0..11, 0 for `none`). */
export interface CodecChoice {
  codec: CodecName
  level: number
}

/** Every codec, in id order. */
export const CODECS: readonly CodecName[] = ['none', 'deflate', 'brotli']

/** Wire id of each codec (the frame's codec byte). */
export const CODEC_IDS: Readonly<Record<CodecName, number>> = { none: 0, deflate: 1, brotli: 2 }

/** Codec for each wire id. */
export const CODEC_BY_ID: Readonly<Record<number, CodecName | undefined>> = {
  0: 'none',
  1: 'deflate',
  2: 'brotli',
}

/** Inclusive level range of each codec. */
export const CODEC_LEVELS: Readonly<Record<CodecName, { min: number; max: number }>> = {
  none: { min: 0, max: 0 },
  deflate: { min: 0, max: 9 },
  brotli: { min: 0, max: 11 },
}

/** Level used when a codec is requested without one: deflate 6, brotli 5. */
export const DEFAULT_CODEC_LEVELS: Readonly<Record<CodecName, number>> = { none: 0, deflate: 6, brotli: 5 }

/**
 * True when `level` is an integer within the codec's range.
 *
 * @example
 * ```ts
 * isValidLevel('brotli', 11) // true
 * isValidLevel('deflate', 11) // false
 * ```
 */
export function isValidLevel(codec: CodecName, level: number): boolean {
  const range = CODEC_LEVELS[codec]
  return Number.isInteger(level) && level >= range.min && level <= range.max
}

/** Result of a raw decompression: the output and how many input bytes the codec consumed. */
export interface RawDecodeResult {
  output: Uint8Array
  consumed: number
}

/** A plain `Uint8Array` view of a zlib `Buffer` (no copy), so callers never see Buffer-only APIs. */
function plain(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

interface ZlibInfoResult {
  buffer: Buffer
  engine: { bytesWritten: number }
}

function compressOptions(
  codec: 'deflate' | 'brotli',
  level: number,
  size: number,
): zlib.ZlibOptions | zlib.BrotliOptions {
  if (codec === 'deflate') return { level }
  return {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: level,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: Math.min(size, 0xffffffff),
    },
  }
}

/**
 * Compress with a codec, synchronously (blocks the event loop: use for small payloads).
 *
 * @example
 * ```ts
 * const data = rawCompressSync('brotli', 5, payload)
 * ```
 */
export function rawCompressSync(codec: CodecName, level: number, input: Uint8Array): Uint8Array {
  if (codec === 'none') return input
  if (codec === 'deflate') return zlib.deflateSync(input, { level })
  return zlib.brotliCompressSync(input, compressOptions(codec, level, input.byteLength) as zlib.BrotliOptions)
}

/**
 * Compress with a codec on the thread pool.
 *
 * @example
 * ```ts
 * const data = await rawCompress('deflate', 1, payload)
 * ```
 */
export function rawCompress(codec: CodecName, level: number, input: Uint8Array): Promise<Uint8Array> {
  if (codec === 'none') return Promise.resolve(input)
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer): void => (err === null ? resolve(out) : reject(err))
    if (codec === 'deflate') zlib.deflate(input, { level }, done)
    else zlib.brotliCompress(input, compressOptions(codec, level, input.byteLength) as zlib.BrotliOptions, done)
  })
}

/**
 * Decompress with a codec, synchronously, producing at most `maxOutputLength` bytes (zlib
 * throws a `RangeError` with code `ERR_BUFFER_TOO_LARGE` beyond that). Throws whatever zlib
 * throws; the frame layer maps it to typed errors.
 *
 * @example
 * ```ts
 * const { output, consumed } = rawDecompressSync('deflate', data, 1 << 20)
 * ```
 */
export function rawDecompressSync(codec: CodecName, input: Uint8Array, maxOutputLength: number): RawDecodeResult {
  if (codec === 'none') return { output: input, consumed: input.byteLength }
  const options = { maxOutputLength: Math.max(1, maxOutputLength), info: true }
  const result = (codec === 'deflate'
    ? zlib.inflateSync(input, options)
    : zlib.brotliDecompressSync(input, options)) as unknown as ZlibInfoResult
  return { output: plain(result.buffer), consumed: result.engine.bytesWritten }
}

/**
 * Decompress with a codec on the thread pool, producing at most `maxOutputLength` bytes.
 *
 * @example
 * ```ts
 * const { output } = await rawDecompress('brotli', data, 1 << 20)
 * ```
 */
export function rawDecompress(codec: CodecName, input: Uint8Array, maxOutputLength: number): Promise<RawDecodeResult> {
  if (codec === 'none') return Promise.resolve({ output: input, consumed: input.byteLength })
  const options = { maxOutputLength: Math.max(1, maxOutputLength), info: true }
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, result: unknown): void => {
      if (err !== null) {
        reject(err)
        return
      }
      const info = result as ZlibInfoResult
      resolve({ output: plain(info.buffer), consumed: info.engine.bytesWritten })
    }
    if (codec === 'deflate') zlib.inflate(input, options, done as (err: Error | null, out: Buffer) => void)
    else zlib.brotliDecompress(input, options, done as (err: Error | null, out: Buffer) => void)
  })
}
