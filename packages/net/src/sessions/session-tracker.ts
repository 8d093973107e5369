/**
 * Per-peer session records (authenticated?, first/last seen, RTT, success rate, bytes in/out)
 * and the network-health metrics derived from them.
 * @module
 */
import type { PeerId } from '@libp2p/interface'

/** What this node knows about its dealings with one peer. */
export interface PeerSession {
  peerId: string
  authenticated: boolean
  firstSeen: number
  lastSeen: number
  /** Open connections right now. */
  connections: number
  /** Smoothed round-trip time of requests (EWMA), ms. */
  rttMs: number | undefined
  requestsOk: number
  requestsFailed: number
  /** requestsOk / (ok + failed); 1 when there were none. */
  successRate: number
  bytesIn: number
  bytesOut: number
}

/** Network-health metrics over all sessions. */
export interface NetworkHealth {
  /** Peers with at least one open connection. */
  connectedPeers: number
  /** Connected peers that completed the handshake. */
  authenticatedPeers: number
  /** Sessions tracked (connected or seen recently). */
  trackedPeers: number
  rttMedianMs: number | undefined
  rttP95Ms: number | undefined
  /** Over all requests to all peers. */
  successRate: number
  requestsOk: number
  requestsFailed: number
  bytesIn: number
  bytesOut: number
}

/** Options of {@link SessionTracker}. */
export interface SessionTrackerInit {
  /** Weight of the newest RTT sample in the EWMA. Default 0.2. */
  rttAlpha?: number
  /** Forget disconnected peers not seen for this long (ms). Default 1 h. */
  forgetAfterMs?: number
  /** Bound on tracked sessions; the least recently seen disconnected ones go first. Default 10,000. */
  maxSessions?: number
  now?: () => number
}

/**
 * Tracks sessions; the node feeds it from connection events, the handshake, and every request.
 *
 * @example
 * ```ts
 * const sessions = new SessionTracker()
 * sessions.recordConnect(peerId)
 * sessions.recordRequest(peerId, true, 12.5)
 * console.log(sessions.get(peerId)?.successRate, sessions.health().rttMedianMs)
 * ```
 */
export class SessionTracker {
  private readonly sessions = new Map<string, PeerSession>()
  private readonly rttAlpha: number
  private readonly forgetAfterMs: number
  private readonly maxSessions: number
  private readonly now: () => number

  constructor(init: SessionTrackerInit = {}) {
    this.rttAlpha = init.rttAlpha ?? 0.2
    this.forgetAfterMs = init.forgetAfterMs ?? 3600_000
    this.maxSessions = init.maxSessions ?? 10_000
    this.now = init.now ?? Date.now
  }

  private session(peer: PeerId | string): PeerSession {
    const key = peer.toString()
    let s = this.sessions.get(key)
    const now = this.now()
    if (s === undefined) {
      s = {
        peerId: key,
        authenticated: false,
        firstSeen: now,
        lastSeen: now,
        connections: 0,
        rttMs: undefined,
        requestsOk: 0,
        requestsFailed: 0,
        successRate: 1,
        bytesIn: 0,
        bytesOut: 0,
      }
      this.sessions.set(key, s)
      if (this.sessions.size > this.maxSessions) this.prune()
    }
    s.lastSeen = now
    return s
  }

  /** A connection to `peer` opened. */
  recordConnect(peer: PeerId | string): void {
    this.session(peer).connections++
  }

  /** The last connection to `peer` closed. */
  recordDisconnect(peer: PeerId | string): void {
    const s = this.session(peer)
    s.connections = 0
    s.authenticated = false
  }

  /** `peer` completed the handshake. */
  markAuthenticated(peer: PeerId | string): void {
    this.session(peer).authenticated = true
  }

  /** A request to `peer` finished; `rttMs` when it succeeded. */
  recordRequest(peer: PeerId | string, ok: boolean, rttMs?: number): void {
    const s = this.session(peer)
    if (ok) s.requestsOk++
    else s.requestsFailed++
    s.successRate = s.requestsOk / (s.requestsOk + s.requestsFailed)
    if (ok && rttMs !== undefined) this.recordRtt(peer, rttMs)
  }

  /** A round-trip time sample (a ping, or a request's RTT). */
  recordRtt(peer: PeerId | string, rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return
    const s = this.session(peer)
    s.rttMs = s.rttMs === undefined ? rttMs : s.rttMs + this.rttAlpha * (rttMs - s.rttMs)
  }

  /** Bytes exchanged with `peer`. */
  recordTraffic(peer: PeerId | string, bytesIn: number, bytesOut: number): void {
    const s = this.session(peer)
    s.bytesIn += Math.max(0, bytesIn)
    s.bytesOut += Math.max(0, bytesOut)
  }

  /** The session of one peer (a copy). */
  get(peer: PeerId | string): PeerSession | undefined {
    const s = this.sessions.get(peer.toString())
    return s === undefined ? undefined : { ...s }
  }

  /** All sessions (copies). */
  all(): PeerSession[] {
    return [...this.sessions.values()].map((s) => ({ ...s }))
  }

  /** Drop disconnected sessions not seen for `forgetAfterMs`, then the oldest beyond `maxSessions`. */
  prune(): number {
    const now = this.now()
    let removed = 0
    for (const [key, s] of this.sessions) {
      if (s.connections === 0 && now - s.lastSeen > this.forgetAfterMs) {
        this.sessions.delete(key)
        removed++
      }
    }
    if (this.sessions.size > this.maxSessions) {
      const idle = [...this.sessions.values()]
        .filter((s) => s.connections === 0)
        .sort((a, b) => a.lastSeen - b.lastSeen)
      for (const s of idle.slice(0, this.sessions.size - this.maxSessions)) {
        this.sessions.delete(s.peerId)
        removed++
      }
    }
    return removed
  }

  /** Network-health metrics: peer counts, RTT median and p95, success rate, traffic. */
  health(): NetworkHealth {
    const all = [...this.sessions.values()]
    const connected = all.filter((s) => s.connections > 0)
    const rtts = connected
      .map((s) => s.rttMs)
      .filter((r): r is number => r !== undefined)
      .sort((a, b) => a - b)
    const quantile = (q: number): number | undefined =>
      rtts.length === 0 ? undefined : rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))]
    let ok = 0
    let failed = 0
    let bytesIn = 0
    let bytesOut = 0
    for (const s of all) {
      ok += s.requestsOk
      failed += s.requestsFailed
      bytesIn += s.bytesIn
      bytesOut += s.bytesOut
    }
    return {
      connectedPeers: connected.length,
      authenticatedPeers: connected.filter((s) => s.authenticated).length,
      trackedPeers: all.length,
      rttMedianMs: quantile(0.5),
      rttP95Ms: quantile(0.95),
      successRate: ok + failed === 0 ? 1 : ok / (ok + failed),
      requestsOk: ok,
      requestsFailed: failed,
      bytesIn,
      bytesOut,
    }
  }
}
