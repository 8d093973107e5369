/**
 * Per-peer session records (authentication, round-trip time, request outcomes, traffic,
 * connections) and the network-health summary computed from them.
 * @module
 */
import type { PeerId } from '@libp2p/interface'

/** Options of {@link SessionTracker}. */
export interface SessionTrackerInit {
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number
  /** Weight of a new RTT sample in the moving average (0 < α ≤ 1). Default 0.2. */
  rttSmoothing?: number
  /** A peer with no open connection and no activity for this long is forgotten. Default 1 hour. */
  forgetAfterMs?: number
  /** Most peers tracked; beyond it the least recently seen (disconnected first) is dropped. Default 10,000. */
  maxPeers?: number
}

/** A snapshot of one peer's session. */
export interface PeerSession {
  /** The peer, as a string. */
  peerId: string
  /** Whether the peer passed the handshake on its current connections. */
  authenticated: boolean
  /** First activity, ms since epoch. */
  firstSeen: number
  /** Latest activity, ms since epoch. */
  lastSeen: number
  /** Exponentially weighted moving average of round-trip times, ms (`undefined` before any sample). */
  rttMs: number | undefined
  /** Requests that succeeded. */
  requestsOk: number
  /** Requests that failed. */
  requestsFailed: number
  /** `requestsOk / (requestsOk + requestsFailed)`, `undefined` before any request. */
  successRate: number | undefined
  /** Bytes received from the peer. */
  bytesIn: number
  /** Bytes sent to the peer. */
  bytesOut: number
  /** Open connections to the peer. */
  connections: number
  /** RTT probes that failed (only the service form probes). */
  probeFailures: number
}

/** Network-health metrics over all tracked peers. */
export interface NetworkHealth {
  /** Peers tracked. */
  peers: number
  /** Peers with at least one open connection. */
  connectedPeers: number
  /** Peers marked authenticated. */
  authenticatedPeers: number
  /** Median of the peers' smoothed RTTs, ms (`undefined` without samples). */
  rttMedianMs: number | undefined
  /** 95th percentile (nearest rank) of the peers' smoothed RTTs, ms. */
  rttP95Ms: number | undefined
  /** Successful requests, all peers. */
  requestsOk: number
  /** Failed requests, all peers. */
  requestsFailed: number
  /** Overall success rate, `undefined` before any request. */
  successRate: number | undefined
  /** Bytes received, all peers. */
  bytesIn: number
  /** Bytes sent, all peers. */
  bytesOut: number
}

interface MutableSession {
  peerId: string
  authenticated: boolean
  firstSeen: number
  lastSeen: number
  rttMs: number | undefined
  requestsOk: number
  requestsFailed: number
  bytesIn: number
  bytesOut: number
  connections: number
  probeFailures: number
}

/**
 * Tracks per-peer sessions. Memory is bounded: peers without open connections are forgotten
 * after `forgetAfterMs` of inactivity, and at most `maxPeers` are kept. Has no timers.
 *
 * @example
 * ```ts
 * import { SessionTracker } from '@vain/net'
 *
 * const sessions = new SessionTracker()
 * sessions.connectionOpened(peerId)
 * sessions.recordRequest(peerId, true, 42)
 * sessions.recordTraffic(peerId, 1_024, 256)
 * console.log(sessions.get(peerId)?.rttMs, sessions.health().successRate)
 * ```
 */
export class SessionTracker {
  readonly #sessions = new Map<string, MutableSession>()
  readonly #now: () => number
  readonly #alpha: number
  readonly #forgetAfterMs: number
  readonly #maxPeers: number
  #lastPrune: number

  constructor(init: SessionTrackerInit = {}) {
    this.#now = init.now ?? Date.now
    const alpha = init.rttSmoothing ?? 0.2
    this.#alpha = Number.isFinite(alpha) && alpha > 0 && alpha <= 1 ? alpha : 0.2
    this.#forgetAfterMs = init.forgetAfterMs ?? 60 * 60_000
    this.#maxPeers = Math.max(1, init.maxPeers ?? 10_000)
    this.#lastPrune = this.#now()
  }

  /**
   * Record the outcome of one request to `peer`, with its round-trip time if known.
   *
   * @example
   * ```ts
   * const started = performance.now()
   * try { await call(peer); sessions.recordRequest(peer, true, performance.now() - started) }
   * catch { sessions.recordRequest(peer, false) }
   * ```
   */
  recordRequest(peer: PeerId | string, ok: boolean, rttMs?: number): void {
    const session = this.#touch(peer)
    if (ok) session.requestsOk++
    else session.requestsFailed++
    if (rttMs !== undefined) this.#addRtt(session, rttMs)
  }

  /**
   * Record a round-trip-time sample (e.g. from a ping).
   *
   * @example
   * ```ts
   * sessions.recordRtt(peer, await node.services.ping.ping(peer))
   * ```
   */
  recordRtt(peer: PeerId | string, rttMs: number): void {
    this.#addRtt(this.#touch(peer), rttMs)
  }

  /**
   * Add transferred bytes. Negative or non-finite values are ignored.
   *
   * @example
   * ```ts
   * sessions.recordTraffic(peer, received.byteLength, sent.byteLength)
   * ```
   */
  recordTraffic(peer: PeerId | string, bytesIn: number, bytesOut: number): void {
    const session = this.#touch(peer)
    if (Number.isFinite(bytesIn) && bytesIn > 0) session.bytesIn += bytesIn
    if (Number.isFinite(bytesOut) && bytesOut > 0) session.bytesOut += bytesOut
  }

  /**
   * Mark `peer` as authenticated (or not).
   *
   * @example
   * ```ts
   * node.services.handshake.addEventListener('peer:authenticated', (e) => sessions.markAuthenticated(e.detail.peerId))
   * ```
   */
  markAuthenticated(peer: PeerId | string, authenticated = true): void {
    this.#touch(peer).authenticated = authenticated
  }

  /**
   * Count a newly opened connection to `peer`.
   *
   * @example
   * ```ts
   * node.addEventListener('connection:open', (e) => sessions.connectionOpened(e.detail.remotePeer))
   * ```
   */
  connectionOpened(peer: PeerId | string): void {
    this.#touch(peer).connections++
  }

  /**
   * Count a closed connection to `peer`. When none remain the peer is no longer authenticated
   * (a new connection needs a new handshake).
   *
   * @example
   * ```ts
   * node.addEventListener('connection:close', (e) => sessions.connectionClosed(e.detail.remotePeer))
   * ```
   */
  connectionClosed(peer: PeerId | string): void {
    const session = this.#sessions.get(peer.toString())
    if (session === undefined) return
    session.lastSeen = this.#now()
    session.connections = Math.max(0, session.connections - 1)
    if (session.connections === 0) session.authenticated = false
  }

  /**
   * Count a failed RTT probe.
   *
   * @example
   * ```ts
   * sessions.recordProbeFailure(peer)
   * ```
   */
  recordProbeFailure(peer: PeerId | string): void {
    this.#touch(peer).probeFailures++
  }

  /**
   * A snapshot of `peer`'s session, or `undefined` if unknown.
   *
   * @example
   * ```ts
   * const s = sessions.get(peer)
   * if (s !== undefined && (s.successRate ?? 1) < 0.5) console.warn('flaky peer', s.peerId)
   * ```
   */
  get(peer: PeerId | string): PeerSession | undefined {
    const session = this.#sessions.get(peer.toString())
    return session === undefined ? undefined : snapshot(session)
  }

  /**
   * Snapshots of all tracked sessions (after forgetting expired ones).
   *
   * @example
   * ```ts
   * const slow = sessions.all().filter((s) => (s.rttMs ?? 0) > 500)
   * ```
   */
  all(): PeerSession[] {
    this.prune()
    return [...this.#sessions.values()].map(snapshot)
  }

  /**
   * Network-health metrics over all tracked peers (after forgetting expired ones).
   *
   * @example
   * ```ts
   * const { peers, rttMedianMs, successRate } = sessions.health()
   * ```
   */
  health(): NetworkHealth {
    this.prune()
    let connectedPeers = 0
    let authenticatedPeers = 0
    let requestsOk = 0
    let requestsFailed = 0
    let bytesIn = 0
    let bytesOut = 0
    const rtts: number[] = []
    for (const s of this.#sessions.values()) {
      if (s.connections > 0) connectedPeers++
      if (s.authenticated) authenticatedPeers++
      requestsOk += s.requestsOk
      requestsFailed += s.requestsFailed
      bytesIn += s.bytesIn
      bytesOut += s.bytesOut
      if (s.rttMs !== undefined) rtts.push(s.rttMs)
    }
    rtts.sort((a, b) => a - b)
    const total = requestsOk + requestsFailed
    return {
      peers: this.#sessions.size,
      connectedPeers,
      authenticatedPeers,
      rttMedianMs: median(rtts),
      rttP95Ms: percentile(rtts, 0.95),
      requestsOk,
      requestsFailed,
      successRate: total === 0 ? undefined : requestsOk / total,
      bytesIn,
      bytesOut,
    }
  }

  /**
   * Forget `peer` now. Returns `true` if it was tracked.
   *
   * @example
   * ```ts
   * sessions.forget(peer)
   * ```
   */
  forget(peer: PeerId | string): boolean {
    return this.#sessions.delete(peer.toString())
  }

  /**
   * Forget peers with no open connection whose last activity is older than `forgetAfterMs`.
   * Returns how many were forgotten. Runs by itself from time to time; call it to force.
   *
   * @example
   * ```ts
   * const forgotten = sessions.prune()
   * ```
   */
  prune(): number {
    const now = this.#now()
    this.#lastPrune = now
    let forgotten = 0
    for (const [key, s] of this.#sessions) {
      if (s.connections === 0 && now - s.lastSeen >= this.#forgetAfterMs) {
        this.#sessions.delete(key)
        forgotten++
      }
    }
    return forgotten
  }

  /** Number of tracked peers. */
  get size(): number {
    return this.#sessions.size
  }

  #touch(peer: PeerId | string): MutableSession {
    const key = peer.toString()
    const now = this.#now()
    let session = this.#sessions.get(key)
    if (session === undefined) {
      if (now - this.#lastPrune >= this.#forgetAfterMs / 4) this.prune()
      if (this.#sessions.size >= this.#maxPeers) this.#evictOne()
      session = {
        peerId: key,
        authenticated: false,
        firstSeen: now,
        lastSeen: now,
        rttMs: undefined,
        requestsOk: 0,
        requestsFailed: 0,
        bytesIn: 0,
        bytesOut: 0,
        connections: 0,
        probeFailures: 0,
      }
      this.#sessions.set(key, session)
    }
    session.lastSeen = now
    return session
  }

  #addRtt(session: MutableSession, rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return
    session.rttMs = session.rttMs === undefined ? rttMs : this.#alpha * rttMs + (1 - this.#alpha) * session.rttMs
  }

  #evictOne(): void {
    let victim: MutableSession | undefined
    for (const s of this.#sessions.values()) {
      if (
        victim === undefined ||
        (s.connections === 0 && victim.connections > 0) ||
        ((s.connections === 0) === (victim.connections === 0) && s.lastSeen < victim.lastSeen)
      ) {
        victim = s
      }
    }
    if (victim !== undefined) this.#sessions.delete(victim.peerId)
  }
}

function snapshot(s: MutableSession): PeerSession {
  const total = s.requestsOk + s.requestsFailed
  return { ...s, successRate: total === 0 ? undefined : s.requestsOk / total }
}

function median(sorted: number[]): number | undefined {
  const n = sorted.length
  if (n === 0) return undefined
  const mid = Math.floor(n / 2)
  return n % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

function percentile(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined
  const rank = Math.max(1, Math.ceil(p * sorted.length))
  return sorted[rank - 1]
}
