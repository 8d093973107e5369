/**
 * Per-peer adaptive compression: remembers each peer's measured link throughput (an EWMA of
 * recent transfers) and the ratios achieved, and picks the codec for the next payload to that
 * peer from them.
 * @module
 */
import { ConfigError } from '../errors.js'
import {
  type CompressionDecision,
  type CompressionPolicy,
  chooseCompression,
  resolveCompressionPolicy,
} from './choose.js'
import { CODECS, type CodecName } from './codecs.js'
import { type CompressResult, compress, compressSync } from './compress.js'

/** Options for {@link createAdaptiveCompressor}; policy thresholds default as in `DEFAULT_COMPRESSION_POLICY`. */
export interface AdaptiveCompressorInit extends Partial<CompressionPolicy> {
  /** Weight of the newest throughput sample in the EWMA, in (0, 1]. Default 0.3. */
  ewmaAlpha?: number
  /**
   * Transfers shorter than this are ignored when measuring throughput: they are dominated by
   * latency, not bandwidth. Default 16 KiB.
   */
  minTransferBytes?: number
  /** Peers remembered at most; the least recently used is forgotten beyond. Default 1024. */
  maxPeers?: number
  /** Payloads at least this long are compressed on the thread pool. Default 64 KiB. */
  asyncThresholdBytes?: number
}

/** What the compressor knows about one peer. */
export interface PeerCompressionStats {
  /** EWMA of measured throughput, bytes per second; `undefined` until a transfer is recorded. */
  throughputBytesPerSec: number | undefined
  /** Transfers that contributed to the throughput estimate. */
  transfers: number
  /** Payloads compressed for this peer. */
  compressions: number
  /** Sum of payload lengths. */
  originalBytes: number
  /** Sum of frame lengths. */
  compressedBytes: number
  /** Overall ratio achieved, `originalBytes / compressedBytes` (1 before any compression). */
  ratio: number
  /** Ratio of the most recent payload. */
  lastRatio: number | undefined
  /** Payloads sent with each codec. */
  byCodec: Record<CodecName, number>
}

/** A per-peer adaptive compressor, see {@link createAdaptiveCompressor}. */
export interface AdaptiveCompressor {
  /**
   * Record a completed transfer of `bytes` to (or from) `peerKey` that took `ms`. Updates the
   * peer's throughput EWMA and returns it; transfers below `minTransferBytes`, or with a
   * non-positive or non-finite size or duration, are ignored.
   */
  recordTransfer(peerKey: string, bytes: number, ms: number): number | undefined
  /** The peer's throughput estimate in bytes per second, if any. */
  throughput(peerKey: string): number | undefined
  /** The decision {@link compress} would make for `payload` to `peerKey`. */
  choose(peerKey: string, payload: Uint8Array): CompressionDecision
  /** Compress for `peerKey` (thread pool for big payloads) and record the ratio achieved. */
  compress(peerKey: string, payload: Uint8Array): Promise<CompressResult>
  /** Compress for `peerKey` synchronously and record the ratio achieved. */
  compressSync(peerKey: string, payload: Uint8Array): CompressResult
  /** A snapshot of every remembered peer's stats. */
  stats(): Map<string, PeerCompressionStats>
  /** Forget a peer (e.g. on disconnect). */
  forget(peerKey: string): void
}

interface PeerState {
  throughput: number | undefined
  transfers: number
  compressions: number
  originalBytes: number
  compressedBytes: number
  lastRatio: number | undefined
  byCodec: Record<CodecName, number>
}

class DefaultAdaptiveCompressor implements AdaptiveCompressor {
  private readonly policy: CompressionPolicy
  private readonly alpha: number
  private readonly minTransferBytes: number
  private readonly maxPeers: number
  private readonly asyncThresholdBytes: number | undefined
  private readonly peers = new Map<string, PeerState>()

  constructor(init: AdaptiveCompressorInit) {
    const { ewmaAlpha, minTransferBytes, maxPeers, asyncThresholdBytes, ...policy } = init
    this.policy = resolveCompressionPolicy(policy)
    this.alpha = ewmaAlpha ?? 0.3
    this.minTransferBytes = minTransferBytes ?? 16 * 1024
    this.maxPeers = maxPeers ?? 1024
    this.asyncThresholdBytes = asyncThresholdBytes
    const issues: string[] = []
    if (!(this.alpha > 0 && this.alpha <= 1)) issues.push(`ewmaAlpha must be in (0, 1] (got ${this.alpha})`)
    if (!(this.minTransferBytes >= 0)) issues.push(`minTransferBytes must be ≥ 0 (got ${this.minTransferBytes})`)
    if (!(Number.isInteger(this.maxPeers) && this.maxPeers >= 1)) {
      issues.push(`maxPeers must be an integer ≥ 1 (got ${this.maxPeers})`)
    }
    if (issues.length > 0) throw new ConfigError('invalid adaptive compressor options', issues)
  }

  /** Get (creating if needed) a peer's state and mark it most recently used. */
  private touch(peerKey: string): PeerState {
    let state = this.peers.get(peerKey)
    if (state === undefined) {
      state = {
        throughput: undefined,
        transfers: 0,
        compressions: 0,
        originalBytes: 0,
        compressedBytes: 0,
        lastRatio: undefined,
        byCodec: { none: 0, deflate: 0, brotli: 0 },
      }
    } else {
      this.peers.delete(peerKey)
    }
    this.peers.set(peerKey, state)
    while (this.peers.size > this.maxPeers) {
      const oldest = this.peers.keys().next().value as string
      this.peers.delete(oldest)
    }
    return state
  }

  recordTransfer(peerKey: string, bytes: number, ms: number): number | undefined {
    if (!Number.isFinite(bytes) || !Number.isFinite(ms) || bytes <= 0 || ms <= 0 || bytes < this.minTransferBytes) {
      return this.peers.get(peerKey)?.throughput
    }
    const state = this.touch(peerKey)
    const sample = (bytes * 1000) / ms
    state.throughput =
      state.throughput === undefined ? sample : this.alpha * sample + (1 - this.alpha) * state.throughput
    state.transfers++
    return state.throughput
  }

  throughput(peerKey: string): number | undefined {
    return this.peers.get(peerKey)?.throughput
  }

  choose(peerKey: string, payload: Uint8Array): CompressionDecision {
    return chooseCompression(
      { size: payload.byteLength, sample: payload, linkBytesPerSec: this.throughput(peerKey) },
      this.policy,
    )
  }

  private record(peerKey: string, result: CompressResult): CompressResult {
    const state = this.touch(peerKey)
    state.compressions++
    state.originalBytes += result.originalBytes
    state.compressedBytes += result.compressedBytes
    state.lastRatio = result.ratio
    state.byCodec[result.codec]++
    return result
  }

  async compress(peerKey: string, payload: Uint8Array): Promise<CompressResult> {
    const result = await compress(payload, {
      ...this.policy,
      linkBytesPerSec: this.throughput(peerKey),
      asyncThresholdBytes: this.asyncThresholdBytes,
    })
    return this.record(peerKey, result)
  }

  compressSync(peerKey: string, payload: Uint8Array): CompressResult {
    return this.record(peerKey, compressSync(payload, { ...this.policy, linkBytesPerSec: this.throughput(peerKey) }))
  }

  stats(): Map<string, PeerCompressionStats> {
    const out = new Map<string, PeerCompressionStats>()
    for (const [peerKey, s] of this.peers) {
      const byCodec = {} as Record<CodecName, number>
      for (const codec of CODECS) byCodec[codec] = s.byCodec[codec]
      out.set(peerKey, {
        throughputBytesPerSec: s.throughput,
        transfers: s.transfers,
        compressions: s.compressions,
        originalBytes: s.originalBytes,
        compressedBytes: s.compressedBytes,
        ratio: s.compressedBytes === 0 ? 1 : s.originalBytes / s.compressedBytes,
        lastRatio: s.lastRatio,
        byCodec,
      })
    }
    return out
  }

  forget(peerKey: string): void {
    this.peers.delete(peerKey)
  }
}

/**
 * Create a per-peer adaptive compressor. Record each completed transfer with
 * `recordTransfer(peer, bytes, ms)`; `compress(peer, payload)` then picks none / deflate /
 * brotli from the payload and that peer's measured throughput, and `stats()` reports the
 * ratios achieved per peer.
 *
 * @throws {ConfigError} when an option is out of range
 * @example
 * ```ts
 * const compressor = createAdaptiveCompressor({ slowLinkBytesPerSec: 2e6 })
 * const started = Date.now()
 * const { bytes } = await compressor.compress(peerKey, update)
 * await send(peer, bytes)
 * compressor.recordTransfer(peerKey, bytes.byteLength, Date.now() - started)
 * console.log(compressor.stats().get(peerKey)?.ratio)
 * ```
 */
export function createAdaptiveCompressor(init: AdaptiveCompressorInit = {}): AdaptiveCompressor {
  return new DefaultAdaptiveCompressor(init)
}
