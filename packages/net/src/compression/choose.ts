/**
 * Picking a codec and level for one payload: from its size, its measured compressibility (a
 * quick deflate-1 pass over a sample) and the link's throughput.
 * @module
 */
import { deflateSync } from 'node:zlib'
import { ConfigError } from '../errors.js'
import { type CodecChoice, isValidLevel } from './codecs.js'

/**
 * Thresholds of the adaptive policy. Every field has a documented default
 * ({@link DEFAULT_COMPRESSION_POLICY}).
 */
export interface CompressionPolicy {
  /** Payloads shorter than this are sent uncompressed. Default 1024 bytes. */
  minSizeBytes: number
  /** At most this many bytes of the sample are test-compressed. Default 64 KiB. */
  sampleBytes: number
  /**
   * A sample whose deflate-1 ratio (original / compressed) is below this is deemed
   * incompressible and sent uncompressed. Default 1.1.
   */
  minSampleRatio: number
  /** Links at least this fast (bytes/s) count as fast. Default 100 MB/s (loopback, LAN). */
  fastLinkBytesPerSec: number
  /** On a fast link, compress only when the sample ratio is at least this. Default 2. */
  fastLinkMinRatio: number
  /** Codec for fast links when the data is compressible enough. Default deflate level 1. */
  fastLinkChoice: CodecChoice
  /** Links at most this fast (bytes/s) count as slow. Default 1 MB/s. */
  slowLinkBytesPerSec: number
  /** Codec for slow links. Default brotli quality 9. */
  slowLinkChoice: CodecChoice
  /** Codec for links in between, or when the throughput is unknown. Default brotli quality 4. */
  mediumLinkChoice: CodecChoice
}

/**
 * Default thresholds. On one core of a 2020s server, brotli 4 compresses quantized float32
 * updates at ~100 MB/s, brotli 9 at ~16 MB/s, deflate 1 at ~150 MB/s: stronger levels only pay
 * off when the link is much slower than the compressor.
 */
export const DEFAULT_COMPRESSION_POLICY: Readonly<CompressionPolicy> = Object.freeze({
  minSizeBytes: 1024,
  sampleBytes: 64 * 1024,
  minSampleRatio: 1.1,
  fastLinkBytesPerSec: 100_000_000,
  fastLinkMinRatio: 2,
  fastLinkChoice: Object.freeze({ codec: 'deflate', level: 1 }),
  slowLinkBytesPerSec: 1_000_000,
  slowLinkChoice: Object.freeze({ codec: 'brotli', level: 9 }),
  mediumLinkChoice: Object.freeze({ codec: 'brotli', level: 4 }),
})

/** What {@link chooseCompression} looks at. */
export interface CompressionInput {
  /** Size of the payload in bytes. */
  size: number
  /** Some (or all) of the payload; at most `sampleBytes` of it is test-compressed. */
  sample?: Uint8Array | undefined
  /** Measured throughput of the link to the peer, bytes per second; unknown when absent. */
  linkBytesPerSec?: number | undefined
}

/** The codec picked for a payload, and why. */
export interface CompressionDecision extends CodecChoice {
  /** Human-readable explanation, e.g. `"slow link (0.5 MB/s ≤ 1 MB/s): brotli-9"`. */
  reason: string
  /** The sample's deflate-1 ratio (original / compressed), when a sample was given. */
  sampleRatio?: number
}

/**
 * Merge partial thresholds over the defaults and validate them.
 *
 * @throws {ConfigError} when a threshold is negative, not finite, or a choice's level is out of
 *   range for its codec
 * @example
 * ```ts
 * const policy = resolveCompressionPolicy({ fastLinkBytesPerSec: 50e6 })
 * ```
 */
export function resolveCompressionPolicy(overrides: Partial<CompressionPolicy> = {}): CompressionPolicy {
  const policy: CompressionPolicy = { ...DEFAULT_COMPRESSION_POLICY }
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined && key in DEFAULT_COMPRESSION_POLICY) {
      ;(policy as unknown as Record<string, unknown>)[key] = value
    }
  }
  const issues: string[] = []
  for (const key of [
    'minSizeBytes',
    'sampleBytes',
    'minSampleRatio',
    'fastLinkBytesPerSec',
    'fastLinkMinRatio',
    'slowLinkBytesPerSec',
  ] as const) {
    const value = policy[key]
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      issues.push(`${key} must be a finite number ≥ 0 (got ${String(value)})`)
    }
  }
  if (policy.sampleBytes < 1) issues.push('sampleBytes must be ≥ 1')
  if (policy.slowLinkBytesPerSec > policy.fastLinkBytesPerSec) {
    issues.push('slowLinkBytesPerSec must not exceed fastLinkBytesPerSec')
  }
  for (const key of ['fastLinkChoice', 'slowLinkChoice', 'mediumLinkChoice'] as const) {
    const choice = policy[key]
    if (
      typeof choice !== 'object' ||
      choice === null ||
      !['none', 'deflate', 'brotli'].includes(choice.codec) ||
      !isValidLevel(choice.codec, choice.level)
    ) {
      issues.push(`${key} must be a codec with a level in its range (got ${JSON.stringify(choice)})`)
    }
  }
  if (issues.length > 0) throw new ConfigError('invalid compression policy', issues)
  return policy
}

/**
 * Up to `maxBytes` of `payload`, taken as four evenly spaced slices so a dense first layer (or
 * a sparse one) does not decide alone. Returns `payload` itself when it is small enough.
 *
 * @example
 * ```ts
 * const sample = takeSample(update, 64 * 1024)
 * ```
 */
export function takeSample(payload: Uint8Array, maxBytes: number): Uint8Array {
  if (payload.byteLength <= maxBytes) return payload
  const slices = 4
  const sliceBytes = Math.max(1, Math.floor(maxBytes / slices))
  const stride = Math.floor((payload.byteLength - sliceBytes) / (slices - 1))
  const sample = new Uint8Array(sliceBytes * slices)
  for (let i = 0; i < slices; i++) {
    const start = i * stride
    sample.set(payload.subarray(start, start + sliceBytes), i * sliceBytes)
  }
  return sample
}

/**
 * Ratio (original / compressed) of a quick deflate-1 pass over at most `maxBytes` of `sample`.
 *
 * @example
 * ```ts
 * measureCompressibility(new Uint8Array(4096)) // ≫ 1: zeros compress well
 * ```
 */
export function measureCompressibility(sample: Uint8Array, maxBytes = DEFAULT_COMPRESSION_POLICY.sampleBytes): number {
  const slice = takeSample(sample, maxBytes)
  if (slice.byteLength === 0) return 1
  return slice.byteLength / deflateSync(slice, { level: 1 }).byteLength
}

function mbps(bytesPerSec: number): string {
  const mb = bytesPerSec / 1e6
  return `${mb >= 10 ? mb.toFixed(0) : mb.toPrecision(2)} MB/s`
}

function label(choice: CodecChoice): string {
  return choice.codec === 'none' ? 'none' : `${choice.codec}-${choice.level}`
}

/**
 * Pick a codec and level for a payload:
 *
 * 1. `size < minSizeBytes` → `none` (framing and CPU cost more than they save);
 * 2. sample given and its deflate-1 ratio `< minSampleRatio` → `none` (incompressible: random,
 *    encrypted or already compressed);
 * 3. link `≥ fastLinkBytesPerSec` → `fastLinkChoice` (deflate-1) when the sample ratio is at
 *    least `fastLinkMinRatio`, else `none`;
 * 4. link `≤ slowLinkBytesPerSec` → `slowLinkChoice` (brotli-9);
 * 5. otherwise, or when the link speed is unknown → `mediumLinkChoice` (brotli-4).
 *
 * A `none` choice from the policy is reported as level 0.
 *
 * @throws {ConfigError} when `policy` is invalid
 * @example
 * ```ts
 * const d = chooseCompression({ size: update.byteLength, sample: update, linkBytesPerSec: 2e6 })
 * // { codec: 'brotli', level: 4, reason: 'medium link (2.0 MB/s): brotli-4', sampleRatio: 6.1 }
 * ```
 */
export function chooseCompression(
  input: CompressionInput,
  policy: Partial<CompressionPolicy> = {},
): CompressionDecision {
  const p = resolveCompressionPolicy(policy)
  const none = (reason: string, sampleRatio?: number): CompressionDecision =>
    sampleRatio === undefined ? { codec: 'none', level: 0, reason } : { codec: 'none', level: 0, reason, sampleRatio }
  const pick = (choice: CodecChoice, reason: string, sampleRatio?: number): CompressionDecision => {
    if (choice.codec === 'none') return none(reason, sampleRatio)
    const decision: CompressionDecision = { codec: choice.codec, level: choice.level, reason }
    if (sampleRatio !== undefined) decision.sampleRatio = sampleRatio
    return decision
  }

  const size = Number.isFinite(input.size) && input.size > 0 ? input.size : 0
  if (size < p.minSizeBytes) {
    return none(`tiny payload (${size} B < ${p.minSizeBytes} B)`)
  }

  let sampleRatio: number | undefined
  if (input.sample !== undefined && input.sample.byteLength > 0) {
    sampleRatio = measureCompressibility(input.sample, p.sampleBytes)
    if (sampleRatio < p.minSampleRatio) {
      return none(`incompressible sample (ratio ${sampleRatio.toFixed(2)} < ${p.minSampleRatio})`, sampleRatio)
    }
  }
  const ratioText = sampleRatio === undefined ? 'no sample' : `sample ratio ${sampleRatio.toFixed(2)}`

  const link = input.linkBytesPerSec
  if (link === undefined || !Number.isFinite(link) || link <= 0) {
    return pick(p.mediumLinkChoice, `link speed unknown, ${ratioText}: ${label(p.mediumLinkChoice)}`, sampleRatio)
  }
  if (link >= p.fastLinkBytesPerSec) {
    if (sampleRatio !== undefined && sampleRatio >= p.fastLinkMinRatio) {
      return pick(
        p.fastLinkChoice,
        `fast link (${mbps(link)} ≥ ${mbps(p.fastLinkBytesPerSec)}), ${ratioText} ≥ ${p.fastLinkMinRatio}: ${label(p.fastLinkChoice)}`,
        sampleRatio,
      )
    }
    return none(
      `fast link (${mbps(link)} ≥ ${mbps(p.fastLinkBytesPerSec)}), ${ratioText}: compression would cost more than it saves`,
      sampleRatio,
    )
  }
  if (link <= p.slowLinkBytesPerSec) {
    return pick(
      p.slowLinkChoice,
      `slow link (${mbps(link)} ≤ ${mbps(p.slowLinkBytesPerSec)}), ${ratioText}: ${label(p.slowLinkChoice)}`,
      sampleRatio,
    )
  }
  return pick(
    p.mediumLinkChoice,
    `medium link (${mbps(link)}), ${ratioText}: ${label(p.mediumLinkChoice)}`,
    sampleRatio,
  )
}
