/**
 * Token-bucket rate limiting keyed by string, typically `${peerId}${protocol}` (e.g.
 * `12D3KooW…/vain/update/1.0.0`), so each peer gets its own budget per protocol. Buckets refill
 * continuously; a full bucket carries no information and is dropped, and at most `maxKeys`
 * buckets are kept (least recently used evicted first), so memory stays bounded whatever the
 * number of peers. No timers: time is read from an injectable clock on each call.
 * @module
 */
import { ConfigError, RateLimitedError } from '../errors.js'

/** Size and refill rate of one bucket. */
export interface TokenBucketConfig {
  /** Most tokens a bucket holds: the burst allowed after a quiet period. */
  capacity: number
  /** Tokens added per second, continuously. */
  refillPerSecond: number
}

/** Options for {@link RateLimiter}. */
export interface RateLimiterInit extends Partial<TokenBucketConfig> {
  /**
   * Per-protocol bucket settings, keyed by the protocol part of the key (see `protocolOf`),
   * e.g. `{ '/vain/update/1.0.0': { capacity: 2, refillPerSecond: 0.1 } }`. Missing fields
   * fall back to the defaults.
   */
  overrides?: Record<string, Partial<TokenBucketConfig>>
  /**
   * Extracts the protocol from a key. Default: everything from the first `/` on, so
   * `peer/vain/echo/1.0.0` → `/vain/echo/1.0.0` (peer ids contain no `/`); `''` when none.
   */
  protocolOf?: (key: string) => string
  /** Buckets kept at most; the least recently used is evicted beyond. Default 10 000. */
  maxKeys?: number
  /** How often (clock ms) full buckets are swept away, lazily on calls. Default 60 000. */
  pruneIntervalMs?: number
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number
}

/** Outcome of {@link RateLimiter.tryTake}. */
export interface TakeResult {
  /** True when the tokens were taken. */
  allowed: boolean
  /** When refused: milliseconds until enough tokens will have refilled; 0 when allowed. */
  retryAfterMs: number
  /** Tokens left in the bucket after this call (fractional while refilling). */
  remaining: number
}

/** Default bucket: a burst of 100, 10 tokens per second. */
export const DEFAULT_TOKEN_BUCKET: Readonly<TokenBucketConfig> = Object.freeze({ capacity: 100, refillPerSecond: 10 })

interface Bucket {
  tokens: number
  updatedAt: number
  config: TokenBucketConfig
}

function defaultProtocolOf(key: string): string {
  const slash = key.indexOf('/')
  return slash === -1 ? '' : key.slice(slash)
}

function validBucket(config: TokenBucketConfig): boolean {
  return (
    Number.isFinite(config.capacity) &&
    config.capacity > 0 &&
    Number.isFinite(config.refillPerSecond) &&
    config.refillPerSecond > 0
  )
}

/**
 * Token buckets keyed by string.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({
 *   capacity: 20,
 *   refillPerSecond: 5,
 *   overrides: { '/vain/update/1.0.0': { capacity: 2, refillPerSecond: 0.1 } },
 * })
 * const { allowed, retryAfterMs } = limiter.tryTake(`${peerId}${protocol}`)
 * if (!allowed) return reply({ error: 'RateLimitedError', retryAfterMs })
 * // or: limiter.take(key) // throws RateLimitedError
 * ```
 */
export class RateLimiter {
  private defaults: TokenBucketConfig
  private readonly overrides: Map<string, TokenBucketConfig>
  private readonly protocolOf: (key: string) => string
  private readonly maxKeys: number
  private readonly pruneIntervalMs: number
  private readonly now: () => number
  private readonly buckets = new Map<string, Bucket>()
  private lastPruneAt: number

  /** @throws {ConfigError} when a capacity or refill rate is not a positive finite number */
  constructor(init: RateLimiterInit = {}) {
    this.defaults = {
      capacity: init.capacity ?? DEFAULT_TOKEN_BUCKET.capacity,
      refillPerSecond: init.refillPerSecond ?? DEFAULT_TOKEN_BUCKET.refillPerSecond,
    }
    this.protocolOf = init.protocolOf ?? defaultProtocolOf
    this.maxKeys = init.maxKeys ?? 10_000
    this.pruneIntervalMs = init.pruneIntervalMs ?? 60_000
    this.now = init.now ?? Date.now
    const issues: string[] = []
    if (!validBucket(this.defaults)) {
      issues.push(`capacity and refillPerSecond must be positive finite numbers (got ${JSON.stringify(this.defaults)})`)
    }
    this.overrides = new Map()
    for (const [protocol, override] of Object.entries(init.overrides ?? {})) {
      const config: TokenBucketConfig = {
        capacity: override.capacity ?? this.defaults.capacity,
        refillPerSecond: override.refillPerSecond ?? this.defaults.refillPerSecond,
      }
      if (!validBucket(config)) issues.push(`override for ${protocol} must have positive finite numbers`)
      this.overrides.set(protocol, config)
    }
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys >= 1)) {
      issues.push(`maxKeys must be an integer ≥ 1 (got ${this.maxKeys})`)
    }
    if (!(this.pruneIntervalMs >= 0)) issues.push(`pruneIntervalMs must be ≥ 0 (got ${this.pruneIntervalMs})`)
    if (issues.length > 0) throw new ConfigError('invalid rate limiter options', issues)
    this.lastPruneAt = this.now()
  }

  /**
   * Replace the default bucket settings at run time (e.g. from measured CPU and bandwidth). Buckets
   * on the defaults keep the tokens they earned at the old rate, capped at the new capacity;
   * per-protocol overrides are unchanged.
   *
   * @throws {ConfigError} when the capacity or refill rate is not a positive finite number
   * @example
   * ```ts
   * limiter.setDefaults({ capacity: 50, refillPerSecond: 5 })
   * ```
   */
  setDefaults(config: TokenBucketConfig): void {
    const next: TokenBucketConfig = { capacity: config.capacity, refillPerSecond: config.refillPerSecond }
    if (!validBucket(next)) {
      throw new ConfigError('invalid rate limiter options', [
        `capacity and refillPerSecond must be positive finite numbers (got ${JSON.stringify(next)})`,
      ])
    }
    const old = this.defaults
    const now = this.now()
    for (const bucket of this.buckets.values()) {
      if (bucket.config !== old) continue
      bucket.tokens = Math.min(next.capacity, this.refilled(bucket, now))
      bucket.updatedAt = Math.max(bucket.updatedAt, now)
      bucket.config = next
    }
    this.defaults = next
  }

  /** The default bucket settings in force. */
  get defaultConfig(): Readonly<TokenBucketConfig> {
    return this.defaults
  }

  /** Bucket settings that apply to `key` (its protocol's override, or the defaults). */
  configFor(key: string): TokenBucketConfig {
    return this.overrides.get(this.protocolOf(key)) ?? this.defaults
  }

  /**
   * Take `cost` tokens from `key`'s bucket if it holds enough.
   *
   * @throws {RangeError} when `cost` is negative, not finite, or larger than the bucket's
   *   capacity (it could never be satisfied)
   * @example
   * ```ts
   * const r = limiter.tryTake('peerA/vain/echo/1.0.0')
   * if (!r.allowed) setTimeout(retry, r.retryAfterMs)
   * ```
   */
  tryTake(key: string, cost = 1): TakeResult {
    const now = this.now()
    this.maybePrune(now)
    const config = this.configFor(key)
    if (!Number.isFinite(cost) || cost < 0 || cost > config.capacity) {
      throw new RangeError(`rate limiter: cost ${cost} must be between 0 and the capacity ${config.capacity}`)
    }
    const bucket = this.bucketAt(key, config, now)
    // the epsilon lets a caller that waited exactly retryAfterMs through despite float rounding
    if (bucket.tokens >= cost - 1e-9) {
      bucket.tokens = Math.max(0, bucket.tokens - cost)
      this.store(key, bucket)
      return { allowed: true, retryAfterMs: 0, remaining: bucket.tokens }
    }
    this.store(key, bucket)
    // the tolerance keeps float noise (1.0000000000000009 ms) from adding a whole millisecond
    const retryAfterMs = Math.max(1, Math.ceil(((cost - bucket.tokens) / config.refillPerSecond) * 1000 - 1e-6))
    return { allowed: false, retryAfterMs, remaining: bucket.tokens }
  }

  /**
   * Take `cost` tokens from `key`'s bucket or throw.
   *
   * @throws {RateLimitedError} when the bucket holds too few tokens; `retryAfterMs` says when
   *   enough will have refilled
   * @throws {RangeError} for an impossible `cost` (see {@link RateLimiter.tryTake})
   * @example
   * ```ts
   * try { limiter.take(key) } catch (err) {
   *   if (err instanceof RateLimitedError) console.log(`retry in ${err.retryAfterMs} ms`)
   * }
   * ```
   */
  take(key: string, cost = 1): void {
    const result = this.tryTake(key, cost)
    if (!result.allowed) {
      const { capacity, refillPerSecond } = this.configFor(key)
      throw new RateLimitedError(
        `rate limit exceeded for ${key}: ${cost} token(s) needed, ${result.remaining.toFixed(2)} left ` +
          `(capacity ${capacity}, refill ${refillPerSecond}/s); retry in ${result.retryAfterMs} ms`,
        result.retryAfterMs,
      )
    }
  }

  /**
   * Tokens `key` has now, without taking any or touching its recency.
   *
   * @example
   * ```ts
   * limiter.tokens('peerA/vain/echo/1.0.0') // 100 for an unseen key
   * ```
   */
  tokens(key: string): number {
    const config = this.configFor(key)
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return config.capacity
    return this.refilled(bucket, this.now())
  }

  /**
   * Drop every bucket that has refilled to capacity (an absent bucket behaves as a full one).
   * Runs lazily every `pruneIntervalMs`; call it directly to free memory now.
   *
   * @returns how many buckets were dropped
   * @example
   * ```ts
   * limiter.prune()
   * ```
   */
  prune(): number {
    const now = this.now()
    this.lastPruneAt = now
    let dropped = 0
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, now) >= bucket.config.capacity) {
        this.buckets.delete(key)
        dropped++
      }
    }
    return dropped
  }

  /** Forget `key`'s bucket (it starts full next time). */
  reset(key: string): void {
    this.buckets.delete(key)
  }

  /** Number of buckets held. */
  get size(): number {
    return this.buckets.size
  }

  private refilled(bucket: Bucket, now: number): number {
    const elapsedMs = Math.max(0, now - bucket.updatedAt)
    return Math.min(bucket.config.capacity, bucket.tokens + (elapsedMs / 1000) * bucket.config.refillPerSecond)
  }

  private bucketAt(key: string, config: TokenBucketConfig, now: number): Bucket {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) return { tokens: config.capacity, updatedAt: now, config }
    bucket.tokens = this.refilled(bucket, now)
    bucket.updatedAt = Math.max(bucket.updatedAt, now)
    return bucket
  }

  /** Store as most recently used; evict the least recently used beyond `maxKeys`. */
  private store(key: string, bucket: Bucket): void {
    this.buckets.delete(key)
    this.buckets.set(key, bucket)
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value as string
      this.buckets.delete(oldest)
    }
  }

  private maybePrune(now: number): void {
    if (now - this.lastPruneAt >= this.pruneIntervalMs) this.prune()
  }
}

/**
 * Factory for {@link RateLimiter}.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter({ capacity: 10, refillPerSecond: 1 })
 * ```
 */
export function createRateLimiter(init: RateLimiterInit = {}): RateLimiter {
  return new RateLimiter(init)
}
