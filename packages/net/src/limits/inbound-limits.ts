/**
 * Inbound admission over three token-bucket budgets: per peer and protocol (what one identity
 * may use), per protocol (shared by every peer) and per source address range (shared by every
 * peer connecting from the same IPv4 /24 or IPv6 /48). Identities are free, so per-peer
 * buckets alone let N fresh identities take N times the budget; the shared budgets bound what
 * they get together. A request takes a token from every budget or from none: a refused request
 * costs nothing, so a peer over its own limit cannot drain the shared budgets.
 * @module
 */
import { RateLimitedError } from '../errors.js'
import { type AddressRangeOptions, addressRangeOf } from './address-range.js'
import { RateLimiter, type TokenBucketConfig } from './token-bucket.js'

type Clock = () => number

/** Options of {@link InboundLimits}. */
export interface InboundLimitsInit {
  /** Per-peer bucket of each protocol, keyed `${peerId}${protocol}`. */
  perPeer: TokenBucketConfig & { overrides?: Record<string, Partial<TokenBucketConfig>> }
  /** One bucket per protocol shared by all peers; `false` for none. */
  perProtocol: (TokenBucketConfig & { overrides?: Record<string, Partial<TokenBucketConfig>> }) | false
  /** One bucket per source address range (all protocols together); `false` for none. */
  perRange: (TokenBucketConfig & AddressRangeOptions & { maxRanges?: number }) | false
  /** Clock in milliseconds. Default `Date.now`. */
  now?: Clock
}

/** The budget that refused a request. */
export type InboundBudget = 'peer' | 'range' | 'protocol'

/** Outcome of {@link InboundLimits.check}. */
export type AdmitResult =
  | { allowed: true }
  | { allowed: false; budget: InboundBudget; key: string; retryAfterMs: number; message: string }

/**
 * Per-peer, per-range and per-protocol budgets for inbound requests.
 *
 * @example
 * ```ts
 * const limits = new InboundLimits({
 *   perPeer: { capacity: 100, refillPerSecond: 50 },
 *   perProtocol: { capacity: 1000, refillPerSecond: 500 },
 *   perRange: { capacity: 500, refillPerSecond: 250 },
 * })
 * limits.admit(peerId.toString(), protocol, connection.remoteAddr) // throws RateLimitedError
 * ```
 */
export class InboundLimits {
  /** Buckets keyed `${peerId}${protocol}`. */
  readonly perPeer: RateLimiter
  /** Buckets keyed by protocol id; undefined when there is no per-protocol budget. */
  readonly perProtocol: RateLimiter | undefined
  /** Buckets keyed by address range; undefined when there is no per-range budget. */
  readonly perRange: RateLimiter | undefined
  private readonly rangeOptions: AddressRangeOptions

  /** @throws {ConfigError} for a capacity or refill rate that is not a positive finite number */
  constructor(init: InboundLimitsInit) {
    const now = init.now ?? Date.now
    this.perPeer = new RateLimiter({ ...init.perPeer, now })
    this.perProtocol =
      init.perProtocol === false
        ? undefined
        : new RateLimiter({ ...init.perProtocol, protocolOf: (key) => key, maxKeys: 1_000, now })
    if (init.perRange === false) {
      this.perRange = undefined
      this.rangeOptions = {}
    } else {
      const { capacity, refillPerSecond, ipv4PrefixBits, ipv6PrefixBits, maxRanges } = init.perRange
      this.perRange = new RateLimiter({ capacity, refillPerSecond, maxKeys: maxRanges ?? 10_000, now })
      this.rangeOptions = {
        ...(ipv4PrefixBits !== undefined ? { ipv4PrefixBits } : {}),
        ...(ipv6PrefixBits !== undefined ? { ipv6PrefixBits } : {}),
      }
    }
  }

  /** The range key a remote address falls in (see {@link addressRangeOf}). */
  rangeOf(remoteAddr: Parameters<typeof addressRangeOf>[0]): string {
    return addressRangeOf(remoteAddr, this.rangeOptions)
  }

  /**
   * Take one token from each budget that applies, or none when any is short; says which budget
   * refused (checked in the order peer, range, protocol).
   */
  check(peer: string, protocol: string, remoteAddr?: Parameters<typeof addressRangeOf>[0]): AdmitResult {
    const range = this.perRange === undefined ? undefined : this.rangeOf(remoteAddr)
    const budgets: Array<[InboundBudget, RateLimiter, string]> = [['peer', this.perPeer, `${peer}${protocol}`]]
    if (this.perRange !== undefined && range !== undefined) budgets.push(['range', this.perRange, range])
    if (this.perProtocol !== undefined) budgets.push(['protocol', this.perProtocol, protocol])
    for (const [budget, limiter, key] of budgets) {
      // tokens() does not take: find a short budget before taking from any
      if (limiter.tokens(key) >= 1 - 1e-9) continue
      const { retryAfterMs } = limiter.tryTake(key)
      const { capacity, refillPerSecond } = limiter.configFor(key)
      const what =
        budget === 'peer'
          ? `per-peer budget of ${peer} on ${protocol}`
          : budget === 'range'
            ? `per-range budget of address range ${key} (shared by every peer in it)`
            : `per-protocol budget of ${protocol} (shared by every peer)`
      return {
        allowed: false,
        budget,
        key,
        retryAfterMs,
        message: `rate limit exceeded: ${what} is spent (capacity ${capacity}, refill ${refillPerSecond}/s); retry in ${retryAfterMs} ms`,
      }
    }
    for (const [, limiter, key] of budgets) limiter.tryTake(key)
    return { allowed: true }
  }

  /**
   * Admit one request or throw.
   *
   * @throws {RateLimitedError} naming the budget that is spent, with `retryAfterMs`
   */
  admit(peer: string, protocol: string, remoteAddr?: Parameters<typeof addressRangeOf>[0]): void {
    const result = this.check(peer, protocol, remoteAddr)
    if (!result.allowed) throw new RateLimitedError(result.message, result.retryAfterMs)
  }
}
