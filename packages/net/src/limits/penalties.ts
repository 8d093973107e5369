/**
 * What happens to a peer that keeps asking past its own budget. A refusal is cheap, but not free:
 * each refused request still costs the node a stream (muxer frames, protocol negotiation,
 * decryption of its bytes). So every refusal by the peer's *own* budget is a strike: while a
 * peer has few strikes it is answered with a typed `RateLimitedError` (an honest client learns
 * when to retry); once it has used half its strikes it is ignoring those answers, and its
 * streams are reset without one (no encoding, no write); out of strikes, it is banned: its
 * connections are closed and it may not connect again for `banMs`. A refusal by a shared
 * budget (per protocol or range) is not the peer's own doing and is no strike — counting it
 * would let a flood get honest peers banned — unless the peer asked before the retry time its
 * last refusal gave it (see {@link PeerPenalties.told}): then it ignores its answers.
 *
 * Memory is bounded: strike buckets as in {@link RateLimiter} (`maxKeys`, full ones dropped),
 * and at most `maxBans` bans at once (beyond, the ban closest to expiry is dropped).
 * @module
 */
import { ConfigError } from '../errors.js'
import { RateLimiter } from './token-bucket.js'

/** Options of {@link PeerPenalties}. */
export interface PeerPenaltiesInit {
  /** Strikes a peer may collect within `strikeWindowMs` before it is banned. Default 40. */
  maxStrikes?: number
  /** Window over which strikes are forgiven (continuously). Default 10 000 ms. */
  strikeWindowMs?: number
  /**
   * Strikes answered with a typed error; beyond, the peer's refused streams are reset without
   * an answer. Default half of `maxStrikes`.
   */
  answeredStrikes?: number
  /** How long a ban lasts. Default 60 000 ms. */
  banMs?: number
  /** Most peers banned at once (a shared bound); beyond, the ban closest to expiry is dropped. Default 1 000. */
  maxBans?: number
  /** Most peers whose strikes are tracked (least recently struck evicted beyond). Default 10 000. */
  maxTracked?: number
  /** Clock in milliseconds. Default `Date.now`. */
  now?: () => number
}

/** What to do with a request refused by the peer's own budget, from {@link PeerPenalties.strike}. */
export type Penalty =
  /** Answer with a typed error (the peer has strikes to spare). */
  | 'answer'
  /** Reset the stream without an answer (the peer ignores its answers). */
  | 'reset'
  /** Reset, close the peer's connections: it is banned for `banMs` from now. */
  | 'ban'

/**
 * Strikes and bans for peers that exceed their own budget.
 *
 * @example
 * ```ts
 * const penalties = new PeerPenalties({ maxStrikes: 40, strikeWindowMs: 10_000, banMs: 60_000 })
 * const penalty = penalties.strike(peerId.toString()) // 'answer' | 'reset' | 'ban'
 * if (penalty === 'ban') await libp2p.hangUp(peerId)
 * penalties.isBanned(peerId.toString()) // true for banMs
 * ```
 */
export class PeerPenalties {
  readonly maxStrikes: number
  readonly answeredStrikes: number
  readonly banMs: number
  readonly maxBans: number
  /** Strike budget per peer: a token per strike left, refilled over the window. */
  private readonly strikes: RateLimiter
  /** Peer → the time its last refusal told it to retry at (clock ms), least recently told first. */
  private readonly retryAt = new Map<string, number>()
  private readonly maxTracked: number
  /** Peer → ban expiry (clock ms). */
  private readonly bans = new Map<string, number>()
  private readonly now: () => number
  /** Bans made since this object was created (including expired and evicted ones). */
  bansIssued = 0

  /** @throws {ConfigError} for a non-positive count or duration */
  constructor(init: PeerPenaltiesInit = {}) {
    this.maxStrikes = init.maxStrikes ?? 40
    const windowMs = init.strikeWindowMs ?? 10_000
    this.answeredStrikes = init.answeredStrikes ?? Math.floor(this.maxStrikes / 2)
    this.banMs = init.banMs ?? 60_000
    this.maxBans = init.maxBans ?? 1_000
    this.now = init.now ?? Date.now
    this.maxTracked = init.maxTracked ?? 10_000
    const issues: string[] = []
    if (!(Number.isInteger(this.maxStrikes) && this.maxStrikes >= 1)) issues.push('maxStrikes must be an integer ≥ 1')
    if (!(Number.isFinite(windowMs) && windowMs > 0)) issues.push('strikeWindowMs must be > 0')
    if (!(Number.isInteger(this.answeredStrikes) && this.answeredStrikes >= 0)) {
      issues.push('answeredStrikes must be an integer ≥ 0')
    }
    if (!(Number.isFinite(this.banMs) && this.banMs >= 0)) issues.push('banMs must be ≥ 0')
    if (!(Number.isInteger(this.maxBans) && this.maxBans >= 1)) issues.push('maxBans must be an integer ≥ 1')
    if (issues.length > 0) throw new ConfigError('invalid penalty options', issues)
    this.strikes = new RateLimiter({
      capacity: this.maxStrikes,
      refillPerSecond: (this.maxStrikes * 1000) / windowMs,
      maxKeys: this.maxTracked,
      protocolOf: () => '',
      now: this.now,
    })
  }

  /**
   * Record one refusal of `peer` by its own budget and say what to do with the request. The
   * strike that finds the peer out of strikes bans it (and reports `'ban'` once; afterwards
   * {@link PeerPenalties.isBanned} says so).
   */
  strike(peer: string): Penalty {
    const { allowed, remaining } = this.strikes.tryTake(peer)
    if (!allowed) {
      this.ban(peer)
      return 'ban'
    }
    const used = this.maxStrikes - remaining
    return used <= this.answeredStrikes + 1e-9 ? 'answer' : 'reset'
  }

  /** Record that `peer` was refused and told to retry in `retryAfterMs`. */
  told(peer: string, retryAfterMs: number): void {
    this.retryAt.delete(peer)
    this.retryAt.set(peer, this.now() + retryAfterMs)
    if (this.retryAt.size > this.maxTracked) this.retryAt.delete(this.retryAt.keys().next().value as string)
  }

  /** Whether `peer` asks again before the retry time its last refusal gave it. */
  isEarly(peer: string): boolean {
    const at = this.retryAt.get(peer)
    if (at === undefined) return false
    if (at <= this.now()) {
      this.retryAt.delete(peer)
      return false
    }
    return true
  }

  /** Whether `peer` has been struck recently (it has not all its strikes): it lost its standing. */
  isStruck(peer: string): boolean {
    return this.strikes.tokens(peer) < this.maxStrikes - 1e-9
  }

  /** Ban `peer` for `banMs` from now (a later expiry is kept). */
  ban(peer: string, ms = this.banMs): void {
    const now = this.now()
    const until = Math.max(now + ms, this.bans.get(peer) ?? 0)
    this.bans.delete(peer)
    this.bans.set(peer, until)
    this.bansIssued++
    if (this.bans.size > this.maxBans) this.evict(now)
  }

  /** Whether `peer` is banned now. */
  isBanned(peer: string): boolean {
    const until = this.bans.get(peer)
    if (until === undefined) return false
    if (until <= this.now()) {
      this.bans.delete(peer)
      return false
    }
    return true
  }

  /** Lift `peer`'s ban and forgive its strikes. */
  pardon(peer: string): void {
    this.bans.delete(peer)
    this.retryAt.delete(peer)
    this.strikes.reset(peer)
  }

  /** Peers banned now. */
  get bannedCount(): number {
    const now = this.now()
    for (const [peer, until] of this.bans) if (until <= now) this.bans.delete(peer)
    return this.bans.size
  }

  private evict(now: number): void {
    for (const [peer, until] of this.bans) if (until <= now) this.bans.delete(peer)
    while (this.bans.size > this.maxBans) {
      let victim: string | undefined
      let soonest = Number.POSITIVE_INFINITY
      for (const [peer, until] of this.bans) {
        if (until < soonest) {
          soonest = until
          victim = peer
        }
      }
      if (victim === undefined) break
      this.bans.delete(victim)
    }
  }
}
