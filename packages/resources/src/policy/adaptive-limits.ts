/**
 * Adaptive limits: measured CPU headroom and link throughput turned into rate limits and a
 * compression choice for the networking layer. This package does not know that layer: it returns
 * plain numbers, and the app maps them onto its network's settings (e.g. `@vain/net`'s
 * `limits.rateLimitRefillPerSecond` and `compression.enabled`).
 * @module
 */
import type { ResourceSample } from '../sampling/sample.js'

/** What the policy recommends. */
export interface NetworkAdvice {
  /** Multiply the base inbound rates by this (0.25–1): fewer requests served while the CPU is busy. */
  rateScale: number
  /** Base refill rate × `rateScale`, rounded, at least 1. */
  refillPerSecond: number
  /** Base capacity × `rateScale`, rounded, at least 1. */
  capacity: number
  /** Whether compressing payloads pays off: it costs CPU and saves bandwidth. */
  compress: boolean
  /** `"fast"` (cheap levels), `"strong"` (slow link: strongest levels) or `"off"`. */
  compression: 'off' | 'fast' | 'strong'
  /** One line: the figures the advice came from. */
  reason: string
}

/** Inputs of {@link adviseNetwork} besides the sample. */
export interface NetworkAdviceInit {
  /** Base inbound token bucket: refill per second and capacity (the network's configured values). */
  base: { refillPerSecond: number; capacity: number }
  /** The link's throughput, bytes/s, if measured (e.g. the peak interface rate seen); unknown otherwise. */
  linkBytesPerSec?: number | undefined
  /** Links at least this fast count as fast (default 100 MB/s). */
  fastLinkBytesPerSec?: number
  /** Links at most this fast count as slow (default 1 MB/s). */
  slowLinkBytesPerSec?: number
}

/**
 * Network advice from a sample: with `h` the CPU headroom (1 − the host's busy share), the rates
 * scale by `clamp(h / 0.5, 0.25, 1)` — full rates while half the host is free. Compression is
 * `"off"` on a fast link while the CPU is nearly saturated (h < 0.15: compressing would slow the
 * send more than the bytes saved), `"strong"` on a slow link, `"fast"` otherwise. Unknown
 * figures (absent CPU share) leave the base rates and `"fast"` compression.
 *
 * @example
 * ```ts
 * const advice = adviseNetwork(monitor.latest(), { base: { refillPerSecond: 50, capacity: 100 } })
 * createNode({ limits: { rateLimitRefillPerSecond: advice.refillPerSecond, rateLimitCapacity: advice.capacity },
 *              compression: { enabled: advice.compress } })
 * ```
 */
export function adviseNetwork(sample: ResourceSample | undefined, init: NetworkAdviceInit): NetworkAdvice {
  const fast = init.fastLinkBytesPerSec ?? 100_000_000
  const slow = init.slowLinkBytesPerSec ?? 1_000_000
  const busy = sample?.cpu.host
  const headroom = busy === undefined ? 1 : 1 - busy
  const rateScale = Math.min(1, Math.max(0.25, headroom / 0.5))
  const link = init.linkBytesPerSec
  let compression: NetworkAdvice['compression'] = 'fast'
  if (link !== undefined && link <= slow) compression = 'strong'
  else if (link !== undefined && link >= fast && headroom < 0.15) compression = 'off'
  const fmt = (n: number | undefined, unit: string) => (n === undefined ? 'unknown' : `${n.toFixed(2)}${unit}`)
  return {
    rateScale,
    refillPerSecond: Math.max(1, Math.round(init.base.refillPerSecond * rateScale)),
    capacity: Math.max(1, Math.round(init.base.capacity * rateScale)),
    compress: compression !== 'off',
    compression,
    reason: `cpu busy ${fmt(busy, '')}, link ${link === undefined ? 'unknown' : `${Math.round(link / 1e6)} MB/s`}`,
  }
}
