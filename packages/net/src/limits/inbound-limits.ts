/**
 * Inbound admission over three token-bucket budgets: per peer and protocol (what one identity
 * may use), per protocol (shared by every peer) and per source address range (shared by every
 * peer connecting from the same IPv4 /24 or IPv6 /48). Identities are free, so per-peer
 * buckets alone let N fresh identities take N times the budget; the shared budgets bound what
 * they get together. A request takes a token from every budget or from none: a refused request
 * costs nothing, so a peer over its own limit cannot drain the shared budgets.
 *
 * Known peers come first: a share of each per-protocol budget (`reservedForKnown`) is kept for
 * peers the node already knows (see {@link CheckOptions.known}). Newcomers together take at
 * most the rest, in burst and in rate (a second bucket per protocol, of `1 − reservedForKnown`
 * times the size and refill), so fresh identities flooding together can neither refuse a known
 * peer nor make the node serve more than that share to them.
 * @module
 */
import { ConfigError, RateLimitedError } from '../errors.js'
import { type AddressRangeOptions, addressRangeOf } from './address-range.js'
import { RateLimiter, type TokenBucketConfig } from './token-bucket.js'

type Clock = () => number

/** Options of {@link InboundLimits}. */
export interface InboundLimitsInit {
  /** Per-peer bucket of each protocol, keyed `${peerId}${protocol}`. */
  perPeer: TokenBucketConfig & { overrides?: Record<string, Partial<TokenBucketConfig>> }
  /**
   * One bucket per protocol shared by all peers; `false` for none. `reservedForKnown` (0–1,
   * default 0): the share of its capacity only known peers may take.
   */
  perProtocol:
    | (TokenBucketConfig & { overrides?: Record<string, Partial<TokenBucketConfig>>; reservedForKnown?: number })
    | false
  /** One bucket per source address range (all protocols together); `false` for none. */
  perRange: (TokenBucketConfig & AddressRangeOptions & { maxRanges?: number }) | false
  /**
   * Least `retryAfterMs` of a refusal by a shared budget (per protocol or range). Default 100.
   * The next token of a shared budget comes soon but goes to whichever peer asks first: racing
   * for it is what a flood does, so a refused peer is told to come back a little later.
   */
  minSharedRetryAfterMs?: number
  /** Clock in milliseconds. Default `Date.now`. */
  now?: Clock
}

/** The budget that refused a request. */
export type InboundBudget = 'peer' | 'range' | 'protocol'

/** Options of {@link InboundLimits.check}. */
export interface CheckOptions {
  /**
   * The peer is known (e.g. connected and well-behaved for a while): it may take the reserved
   * share of the per-protocol budgets. Default false.
   */
  known?: boolean
}

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
  /** Share (0–1) of each per-protocol budget kept for known peers. */
  readonly reservedForKnown: number
  /**
   * Buckets keyed by protocol id that newcomers (peers not known) take from as well:
   * `1 − reservedForKnown` of the per-protocol budget. Undefined when nothing is reserved.
   */
  readonly perProtocolNewcomers: RateLimiter | undefined
  private readonly rangeOptions: AddressRangeOptions
  private readonly minSharedRetryAfterMs: number

  /** @throws {ConfigError} for a capacity or refill rate that is not a positive finite number */
  constructor(init: InboundLimitsInit) {
    const now = init.now ?? Date.now
    this.perPeer = new RateLimiter({ ...init.perPeer, now })
    this.minSharedRetryAfterMs = init.minSharedRetryAfterMs ?? 100
    this.reservedForKnown = init.perProtocol === false ? 0 : (init.perProtocol.reservedForKnown ?? 0)
    if (!(this.reservedForKnown >= 0 && this.reservedForKnown < 1)) {
      throw new ConfigError('invalid inbound limits', [
        `perProtocol.reservedForKnown must be in [0, 1) (got ${this.reservedForKnown})`,
      ])
    }
    this.perProtocol =
      init.perProtocol === false
        ? undefined
        : new RateLimiter({
            capacity: init.perProtocol.capacity,
            refillPerSecond: init.perProtocol.refillPerSecond,
            ...(init.perProtocol.overrides !== undefined ? { overrides: init.perProtocol.overrides } : {}),
            protocolOf: (key) => key,
            maxKeys: 1_000,
            now,
          })
    const share = 1 - this.reservedForKnown
    this.perProtocolNewcomers =
      init.perProtocol === false || this.reservedForKnown === 0
        ? undefined
        : new RateLimiter({
            capacity: Math.max(1, init.perProtocol.capacity * share),
            refillPerSecond: init.perProtocol.refillPerSecond * share,
            overrides: Object.fromEntries(
              Object.entries(init.perProtocol.overrides ?? {}).map(([id, o]) => [
                id,
                {
                  ...(o.capacity !== undefined ? { capacity: Math.max(1, o.capacity * share) } : {}),
                  ...(o.refillPerSecond !== undefined ? { refillPerSecond: o.refillPerSecond * share } : {}),
                },
              ]),
            ),
            protocolOf: (key) => key,
            maxKeys: 1_000,
            now,
          })
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
   * refused (checked in the order peer, range, protocol). A peer that is not `known` takes from
   * the newcomers' share of the per-protocol budget too.
   */
  check(
    peer: string,
    protocol: string,
    remoteAddr?: Parameters<typeof addressRangeOf>[0],
    options: CheckOptions = {},
  ): AdmitResult {
    const range = this.perRange === undefined ? undefined : this.rangeOf(remoteAddr)
    const peerKey = `${peer}${protocol}`
    // tokens() does not take: find a short budget before taking from any
    if (this.perPeer.tokens(peerKey) < 1 - 1e-9) {
      return this.refusal('peer', this.perPeer, peerKey, peer, protocol, false)
    }
    if (this.perRange !== undefined && range !== undefined && this.perRange.tokens(range) < 1 - 1e-9) {
      return this.refusal('range', this.perRange, range, peer, protocol, false)
    }
    const newcomer = options.known !== true ? this.perProtocolNewcomers : undefined
    if (this.perProtocol !== undefined && this.perProtocol.tokens(protocol) < 1 - 1e-9) {
      return this.refusal('protocol', this.perProtocol, protocol, peer, protocol, false)
    }
    if (newcomer !== undefined && newcomer.tokens(protocol) < 1 - 1e-9) {
      return this.refusal('protocol', newcomer, protocol, peer, protocol, true)
    }
    this.perPeer.tryTake(peerKey)
    if (this.perRange !== undefined && range !== undefined) this.perRange.tryTake(range)
    this.perProtocol?.tryTake(protocol)
    newcomer?.tryTake(protocol)
    return { allowed: true }
  }

  private refusal(
    budget: InboundBudget,
    limiter: RateLimiter,
    key: string,
    peer: string,
    protocol: string,
    newcomers: boolean,
  ): AdmitResult {
    const { capacity, refillPerSecond } = limiter.configFor(key)
    const retryAfterMs = Math.max(
      budget === 'peer' ? 1 : this.minSharedRetryAfterMs,
      Math.ceil(((1 - limiter.tokens(key)) / refillPerSecond) * 1000 - 1e-6),
    )
    const what =
      budget === 'peer'
        ? `per-peer budget of ${peer} on ${protocol} is spent`
        : budget === 'range'
          ? `per-range budget of address range ${key} (shared by every peer in it) is spent`
          : newcomers
            ? `per-protocol budget of ${protocol} for peers not yet known (shared by all of them; the rest is kept for known peers) is spent`
            : `per-protocol budget of ${protocol} (shared by every peer) is spent`
    return {
      allowed: false,
      budget,
      key,
      retryAfterMs,
      // built only when read: a flood is refused many times a second, mostly without a message
      get message() {
        return `rate limit exceeded: ${what} (capacity ${capacity}, refill ${refillPerSecond}/s); retry in ${retryAfterMs} ms`
      },
    }
  }

  /**
   * Admit one request or throw.
   *
   * @throws {RateLimitedError} naming the budget that is spent, with `retryAfterMs`
   */
  admit(
    peer: string,
    protocol: string,
    remoteAddr?: Parameters<typeof addressRangeOf>[0],
    options: CheckOptions = {},
  ): void {
    const result = this.check(peer, protocol, remoteAddr, options)
    if (!result.allowed) throw new RateLimitedError(result.message, result.retryAfterMs)
  }
}
