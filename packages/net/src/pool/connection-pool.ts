/**
 * Connection pooling with TTL: libp2p already reuses one connection per peer; this pool adds
 * what a federated-learning node needs on top — a cap on concurrent streams per peer (callers
 * queue, with a bounded queue), keep-alive tags for frequently used peers (so the connection
 * manager prunes others first), and closing of connections idle for longer than a TTL.
 * @module
 */
import type { AbortOptions, Connection, PeerId } from '@libp2p/interface'
import { StreamLimitError } from '../errors.js'
import { abortReason } from '../protocols/framed-stream.js'

/** The parts of libp2p the pool needs (a `Libp2p` satisfies it). */
export interface PoolHost {
  getConnections(peerId?: PeerId): Connection[]
  peerStore: {
    merge(peerId: PeerId, data: { tags: Record<string, { value: number } | undefined> }): Promise<unknown>
  }
}

/** Options of {@link ConnectionPool}. */
export interface ConnectionPoolInit {
  /** Close a peer's connections after this long without use (ms). Default 5 min. */
  idleTtlMs?: number
  /** Concurrent outbound streams per peer through the pool. Default 16. */
  maxStreamsPerPeer?: number
  /** Callers allowed to wait for a stream slot per peer before `StreamLimitError`. Default 256. */
  maxQueuedPerPeer?: number
  /** Never close idle connections below this many connected peers. Default 4. */
  minConnections?: number
  /** How often idle connections are swept (ms). Default `idleTtlMs / 4`, at least 1 s. */
  sweepIntervalMs?: number
  /** Uses within `idleTtlMs` after which a peer is tagged as frequent (kept by the manager). Default 3. */
  frequentAfterUses?: number
  /** Peers that are never closed for idleness (e.g. bootstrap peers). */
  isProtected?: (peerId: PeerId) => boolean
  /** Clock, for tests. */
  now?: () => number
}

/** Counters of {@link ConnectionPool}. */
export interface ConnectionPoolStats {
  trackedPeers: number
  activeStreams: number
  queued: number
  /** Acquisitions that found an open connection to reuse. */
  reused: number
  /** Acquisitions that needed a new connection. */
  opened: number
  /** Connections closed for idleness. */
  closedIdle: number
}

interface PeerEntry {
  peerId: PeerId
  active: number
  waiters: Array<PromiseWithResolvers<void>>
  lastUsed: number
  uses: number[]
  frequent: boolean
}

/** Tag put on frequent peers in the peer store. */
export const FREQUENT_PEER_TAG = 'vain-frequent'

/**
 * Per-peer stream slots, idle-connection TTL and keep-alive tags.
 *
 * @example
 * ```ts
 * const pool = new ConnectionPool(libp2p, { idleTtlMs: 60_000, maxStreamsPerPeer: 8 })
 * pool.start()
 * const result = await pool.use(peerId, () => sendRequest(libp2p, peerId, echo, { text: 'hi' }))
 * pool.stop()
 * ```
 */
export class ConnectionPool {
  private readonly host: PoolHost
  private readonly idleTtlMs: number
  private readonly maxStreamsPerPeer: number
  private readonly maxQueuedPerPeer: number
  private readonly minConnections: number
  private readonly sweepIntervalMs: number
  private readonly frequentAfterUses: number
  private readonly isProtected: (peerId: PeerId) => boolean
  private readonly now: () => number
  private readonly peers = new Map<string, PeerEntry>()
  private timer: ReturnType<typeof setInterval> | undefined
  private counters = { reused: 0, opened: 0, closedIdle: 0 }

  constructor(host: PoolHost, init: ConnectionPoolInit = {}) {
    this.host = host
    this.idleTtlMs = init.idleTtlMs ?? 5 * 60_000
    this.maxStreamsPerPeer = init.maxStreamsPerPeer ?? 16
    this.maxQueuedPerPeer = init.maxQueuedPerPeer ?? 256
    this.minConnections = init.minConnections ?? 4
    this.sweepIntervalMs = init.sweepIntervalMs ?? Math.max(1000, Math.floor(this.idleTtlMs / 4))
    this.frequentAfterUses = init.frequentAfterUses ?? 3
    this.isProtected = init.isProtected ?? (() => false)
    this.now = init.now ?? Date.now
    if (this.maxStreamsPerPeer < 1) throw new RangeError('maxStreamsPerPeer must be >= 1')
  }

  /** Start sweeping idle connections. */
  start(): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => {
      void this.sweep()
    }, this.sweepIntervalMs)
    this.timer.unref?.()
  }

  /** Stop sweeping; wake every waiter with a `StreamLimitError`. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    for (const entry of this.peers.values()) {
      for (const w of entry.waiters) w.reject(new StreamLimitError('connection pool stopped'))
      entry.waiters = []
    }
    this.peers.clear()
  }

  private entry(peerId: PeerId): PeerEntry {
    const key = peerId.toString()
    let entry = this.peers.get(key)
    if (entry === undefined) {
      entry = { peerId, active: 0, waiters: [], lastUsed: this.now(), uses: [], frequent: false }
      this.peers.set(key, entry)
    }
    return entry
  }

  /** Record use of a peer's connection (inbound traffic counts too). */
  touch(peerId: PeerId): void {
    const entry = this.entry(peerId)
    const now = this.now()
    entry.lastUsed = now
    entry.uses.push(now)
    entry.uses = entry.uses.filter((t) => now - t <= this.idleTtlMs).slice(-64)
    if (!entry.frequent && entry.uses.length >= this.frequentAfterUses) {
      entry.frequent = true
      void this.host.peerStore.merge(peerId, { tags: { [FREQUENT_PEER_TAG]: { value: 50 } } }).catch(() => {})
    }
  }

  /**
   * Take one stream slot for `peerId`, waiting while `maxStreamsPerPeer` are in use.
   * @returns a function that gives the slot back
   * @throws {StreamLimitError} when too many callers already wait for this peer
   */
  async acquire(peerId: PeerId, options: AbortOptions = {}): Promise<() => void> {
    const entry = this.entry(peerId)
    if (entry.active >= this.maxStreamsPerPeer) {
      if (entry.waiters.length >= this.maxQueuedPerPeer) {
        throw new StreamLimitError(
          `${entry.waiters.length} callers already wait for a stream to ${peerId} (limit ${this.maxStreamsPerPeer} concurrent)`,
        )
      }
      const waiter = Promise.withResolvers<void>()
      entry.waiters.push(waiter)
      const signal = options.signal
      const onAbort = (): void => {
        entry.waiters = entry.waiters.filter((w) => w !== waiter)
        waiter.reject(abortReason(signal as AbortSignal))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      try {
        await waiter.promise
      } finally {
        signal?.removeEventListener('abort', onAbort)
      }
    }
    entry.active++
    if (this.host.getConnections(peerId).some((c) => c.status === 'open')) this.counters.reused++
    else this.counters.opened++
    this.touch(peerId)
    let released = false
    return () => {
      if (released) return
      released = true
      entry.active--
      entry.lastUsed = this.now()
      const next = entry.waiters.shift()
      next?.resolve()
    }
  }

  /** Run `fn` holding a stream slot for `peerId`. */
  async use<T>(peerId: PeerId, fn: () => Promise<T>, options: AbortOptions = {}): Promise<T> {
    const release = await this.acquire(peerId, options)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** Close connections idle for longer than the TTL; returns how many peers were closed. */
  async sweep(): Promise<number> {
    const now = this.now()
    const connected = new Map<string, Connection[]>()
    for (const c of this.host.getConnections()) {
      const key = c.remotePeer.toString()
      connected.set(key, [...(connected.get(key) ?? []), c])
    }
    let remaining = connected.size
    let closed = 0
    const candidates = [...connected.entries()]
      .map(([key, conns]) => ({ key, conns, entry: this.peers.get(key) }))
      .filter(({ conns, entry }) => {
        const peerId = conns[0]?.remotePeer
        if (peerId === undefined || this.isProtected(peerId)) return false
        if (entry !== undefined && entry.active > 0) return false
        const lastUsed = Math.max(entry?.lastUsed ?? 0, ...conns.map((c) => c.timeline.open))
        return now - lastUsed > this.idleTtlMs
      })
    for (const { key, conns } of candidates) {
      if (remaining <= this.minConnections) break
      await Promise.allSettled(conns.map((c) => c.close()))
      this.peers.delete(key)
      remaining--
      closed++
      this.counters.closedIdle++
    }
    // forget bookkeeping for peers that are gone and idle
    for (const [key, entry] of this.peers) {
      if (
        !connected.has(key) &&
        entry.active === 0 &&
        entry.waiters.length === 0 &&
        now - entry.lastUsed > this.idleTtlMs
      ) {
        this.peers.delete(key)
      }
    }
    return closed
  }

  /** Current counters. */
  stats(): ConnectionPoolStats {
    let activeStreams = 0
    let queued = 0
    for (const e of this.peers.values()) {
      activeStreams += e.active
      queued += e.waiters.length
    }
    return { trackedPeers: this.peers.size, activeStreams, queued, ...this.counters }
  }
}
