/**
 * Persistent peer cache: remembers peers this node was connected to (id, listen addresses, last
 * seen, successful connections) in a JSON file, and redials them after a restart so a node
 * rejoins the network without any bootstrap peer.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import {
  type IdentifyResult,
  type Logger,
  type PeerDiscovery,
  type PeerDiscoveryEvents,
  type PeerId,
  type PeerInfo,
  peerDiscoverySymbol,
  type Startable,
  serviceCapabilities,
} from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { ExponentialBackoff, IBackoff } from 'cockatiel'
import { setMaxListeners, TypedEventEmitter, type TypedEventTarget } from 'main-event'
import { z } from 'zod'
import { InvalidMessageError, NotStartedError } from '../errors.js'
import { jsonNestingDepth } from '../wire/depth.js'
import type { DiscoveryComponents } from './components.js'
import {
  type BackoffInit,
  BackoffSchema,
  BoundedRunner,
  exponentialBackoff,
  parseInit,
  Timers,
  timeoutSignal,
} from './util.js'

/** Options of {@link peerCache}. */
export interface PeerCacheInit {
  /** JSON file to keep the cache in (its folder is created when missing). */
  path: string
  /** Most peers kept; the least useful (fewest successes, then oldest) are dropped. Default 256. */
  maxPeers?: number
  /** How often a changed cache is written, in ms (it is also written on stop). Default 30 000. */
  saveIntervalMs?: number
  /** Most cached peers redialled after start (best first). Default 32. */
  maxRedialPeers?: number
  /** Dials in flight at once. Default 4. */
  dialConcurrency?: number
  /** Deadline of one dial, in ms. Default 10 000. */
  dialTimeoutMs?: number
  /** Backoff between redials of one cached peer. Default 1 s → 60 s, ×2. */
  backoff?: Partial<BackoffInit>
  /** Give up on a cached peer after this many failed dials. Default 8. */
  maxAttempts?: number
  /**
   * Record a peer only once it is vouched for with {@link PeerCache.markAuthenticated} (e.g. after
   * the vAIn handshake succeeded); until then what is learnt about it is kept aside and never
   * written. Default false: every connected peer is recorded.
   */
  requireAuthentication?: boolean
}

const InitSchema = z
  .object({
    path: z.string().min(1),
    maxPeers: z.number().int().min(1).optional(),
    saveIntervalMs: z.number().int().positive().optional(),
    maxRedialPeers: z.number().int().min(0).optional(),
    dialConcurrency: z.number().int().min(1).optional(),
    dialTimeoutMs: z.number().int().positive().optional(),
    backoff: BackoffSchema.optional(),
    maxAttempts: z.number().int().min(1).optional(),
    requireAuthentication: z.boolean().optional(),
  })
  .strict()

/** One cached peer, as stored in the file. */
export interface CachedPeer {
  /** Peer id (base58btc / CIDv1 string). */
  id: string
  /** Dialable multiaddrs without the `/p2p/<id>` suffix. */
  addrs: string[]
  /** Last time the peer was connected, ms since the epoch. */
  lastSeen: number
  /** Number of connections to it that succeeded. */
  successes: number
}

const CachedPeerSchema = z.object({
  id: z.string().min(1).max(200),
  addrs: z.array(z.string().max(1000)).max(64),
  lastSeen: z.number().int().min(0),
  successes: z.number().int().min(0),
})

/** Deepest JSON nesting of a cache file (it nests 4 levels: file, peers, a peer, its addresses). */
const MAX_CACHE_FILE_DEPTH = 16

/** The cache file: `{ version: 1, savedAt, peers: [...] }`. */
const CacheFileSchema = z.object({
  version: z.literal(1),
  savedAt: z.number().int().min(0),
  peers: z.array(CachedPeerSchema).max(100_000),
})

/** Counters since start. */
export interface PeerCacheStats {
  /** Peers read from the file at start. */
  loaded: number
  /** Entries in the file that were skipped (bad peer id or addresses). */
  skipped: number
  /** 1 when the file at start was corrupt (it was kept as `<path>.corrupt`). */
  corrupt: number
  saves: number
  saveFailures: number
  redialsStarted: number
  redialsSucceeded: number
}

/** Events of {@link PeerCache}: the PeerDiscovery `peer` event plus `corrupt`. */
export interface PeerCacheEvents extends PeerDiscoveryEvents {
  /** The cache file was unreadable; it was copied to `corruptPath` and the cache starts empty. */
  corrupt: CustomEvent<{ path: string; corruptPath: string; error: Error }>
}

/** The persistent peer cache service; also a libp2p `PeerDiscovery` (emits cached peers). */
export interface PeerCache extends TypedEventTarget<PeerCacheEvents>, Startable {
  readonly [peerDiscoverySymbol]: PeerDiscovery
  readonly path: string
  readonly stats: Readonly<PeerCacheStats>
  /** The cached peers, best first. */
  peers(): CachedPeer[]
  /** Write the cache now (atomically: temp file + rename). */
  save(): Promise<void>
  /**
   * The peer authenticated: with `requireAuthentication`, from now on it is recorded (with what
   * was already learnt about it on this connection).
   */
  markAuthenticated(peer: PeerId): void
  /** Drop a peer (e.g. one rejected by the handshake): it is neither saved nor redialled. */
  forget(peer: PeerId): void
}

interface RedialState {
  attempts: number
  /** The wait before the next redial, stepped after each failure. */
  backoff?: IBackoff<unknown> | undefined
  timer?: ReturnType<typeof setTimeout> | undefined
}

class DefaultPeerCache extends TypedEventEmitter<PeerCacheEvents> implements PeerCache, PeerDiscovery {
  readonly path: string
  readonly #components: DiscoveryComponents
  readonly #log: Logger
  readonly #maxPeers: number
  readonly #saveIntervalMs: number
  readonly #maxRedialPeers: number
  readonly #dialTimeoutMs: number
  readonly #maxAttempts: number
  readonly #backoff: ExponentialBackoff<number>
  readonly #dialConcurrency: number
  readonly #timers = new Timers()
  readonly #entries = new Map<string, CachedPeer>()
  readonly #redials = new Map<string, RedialState>()
  readonly #requireAuthentication: boolean
  /** With `requireAuthentication`: peers seen but not (yet) authenticated; never saved. */
  readonly #pending = new Map<string, CachedPeer>()
  /** Peers authenticated since start. */
  readonly #trusted = new Set<string>()
  #runner: BoundedRunner | undefined
  #shutdown: AbortController | undefined
  #dirty = false
  #saving: Promise<void> = Promise.resolve()
  readonly #stats: PeerCacheStats = emptyStats()

  constructor(components: DiscoveryComponents, init: PeerCacheInit) {
    super()
    const parsed = parseInit(InitSchema, init, 'peerCache')
    this.#components = components
    this.#log = components.logger.forComponent('vain:discovery:peer-cache')
    this.path = parsed.path
    this.#maxPeers = parsed.maxPeers ?? 256
    this.#saveIntervalMs = parsed.saveIntervalMs ?? 30_000
    this.#maxRedialPeers = parsed.maxRedialPeers ?? 32
    this.#dialConcurrency = parsed.dialConcurrency ?? 4
    this.#dialTimeoutMs = parsed.dialTimeoutMs ?? 10_000
    this.#maxAttempts = parsed.maxAttempts ?? 8
    this.#requireAuthentication = parsed.requireAuthentication ?? false
    this.#backoff = exponentialBackoff({
      initialMs: parsed.backoff?.initialMs ?? 1_000,
      maxMs: parsed.backoff?.maxMs ?? 60_000,
      factor: parsed.backoff?.factor ?? 2,
      jitter: parsed.backoff?.jitter ?? 0.2,
    })
  }

  readonly [peerDiscoverySymbol]: PeerDiscovery = this
  readonly [Symbol.toStringTag] = '@vain/net/peer-cache'
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery', '@vain/peer-cache']

  get stats(): Readonly<PeerCacheStats> {
    return { ...this.#stats }
  }

  isStarted(): boolean {
    return this.#shutdown !== undefined
  }

  peers(): CachedPeer[] {
    return [...this.#entries.values()].sort(byUsefulness).map((p) => ({ ...p, addrs: [...p.addrs] }))
  }

  async start(): Promise<void> {
    if (this.#shutdown !== undefined) return
    this.#shutdown = new AbortController()
    setMaxListeners(Infinity, this.#shutdown.signal)
    this.#runner = new BoundedRunner(this.#dialConcurrency)
    Object.assign(this.#stats, emptyStats())
    this.#entries.clear()
    this.#pending.clear()
    this.#trusted.clear()
    await this.#load()
    this.#components.events.addEventListener('peer:connect', this.#onConnect)
    this.#components.events.addEventListener('peer:identify', this.#onIdentify)
    this.#components.events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#scheduleSave()
  }

  /** Once every component runs: announce the cached peers and redial the best of them. */
  async afterStart(): Promise<void> {
    const shutdown = this.#shutdown
    if (shutdown === undefined) return
    const best = this.peers().slice(0, this.#maxRedialPeers)
    for (const entry of best) {
      if (this.#shutdown !== shutdown) return
      const info = toPeerInfo(entry)
      if (info === undefined) continue
      try {
        await this.#components.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }, { signal: shutdown.signal })
      } catch (err) {
        this.#log.error('could not add cached peer %p to the peer store - %e', info.id, err)
        continue
      }
      this.safeDispatchEvent('peer', { detail: info })
      this.#redials.set(entry.id, { attempts: 0 })
      this.#queueRedial(info.id)
    }
  }

  async stop(): Promise<void> {
    if (this.#shutdown === undefined) return
    this.#shutdown.abort(new NotStartedError('peer cache stopped'))
    this.#shutdown = undefined
    this.#timers.clearAll()
    this.#runner?.clear()
    this.#redials.clear()
    this.#components.events.removeEventListener('peer:connect', this.#onConnect)
    this.#components.events.removeEventListener('peer:identify', this.#onIdentify)
    this.#components.events.removeEventListener('peer:disconnect', this.#onDisconnect)
    // final write, so peers seen since the last periodic save survive the restart
    this.#dirty = true
    await this.save().catch(() => {})
  }

  save(): Promise<void> {
    // serialise writes: each waits for the previous one
    this.#saving = this.#saving
      .then(() => this.#write())
      .catch((err) => {
        this.#stats.saveFailures++
        this.#log.error('could not save peer cache %s - %e', this.path, err)
        throw err
      })
    const result = this.#saving
    this.#saving = this.#saving.catch(() => {})
    return result
  }

  // ---------------------------------------------------------------- file

  async #load(): Promise<void> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      this.#log.error('could not read peer cache %s, starting empty - %e', this.path, err)
      return
    }
    let file: z.output<typeof CacheFileSchema>
    try {
      if (jsonNestingDepth(text, MAX_CACHE_FILE_DEPTH) > MAX_CACHE_FILE_DEPTH) {
        throw new InvalidMessageError(`bad cache file: nested deeper than ${MAX_CACHE_FILE_DEPTH} levels`)
      }
      const parsed = CacheFileSchema.safeParse(JSON.parse(text))
      if (!parsed.success) throw new Error(`bad cache file: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
      file = parsed.data
    } catch (err) {
      await this.#quarantine(err as Error)
      return
    }
    for (const entry of file.peers) {
      const clean = sanitize(entry)
      if (clean === undefined || clean.id === this.#components.peerId.toString()) {
        this.#stats.skipped++
        continue
      }
      const existing = this.#entries.get(clean.id)
      if (existing === undefined || byUsefulness(clean, existing) < 0) this.#entries.set(clean.id, clean)
    }
    this.#evict()
    this.#stats.loaded = this.#entries.size
    this.#log('loaded %d cached peers from %s', this.#entries.size, this.path)
  }

  async #quarantine(error: Error): Promise<void> {
    const corruptPath = `${this.path}.corrupt`
    this.#stats.corrupt = 1
    try {
      await copyFile(this.path, corruptPath)
    } catch (err) {
      this.#log.error('could not keep a copy of corrupt peer cache - %e', err)
    }
    // a warning, not a crash: the node starts with an empty cache
    this.#log.error(
      'peer cache %s is corrupt (%s); kept a copy at %s, starting empty',
      this.path,
      error.message,
      corruptPath,
    )
    this.safeDispatchEvent('corrupt', { detail: { path: this.path, corruptPath, error } })
  }

  async #write(): Promise<void> {
    const peers = this.peers().filter((p) => p.addrs.length > 0)
    const json = `${JSON.stringify({ version: 1, savedAt: Date.now(), peers }, null, 1)}\n`
    this.#dirty = false
    await mkdir(dirname(this.path), { recursive: true })
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
    try {
      const handle = await open(tmp, 'w', 0o600)
      try {
        await handle.writeFile(json, 'utf8')
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(tmp, this.path)
      this.#stats.saves++
    } catch (err) {
      this.#dirty = true
      await rm(tmp, { force: true }).catch(() => {})
      throw err
    }
  }

  #scheduleSave(): void {
    const shutdown = this.#shutdown
    if (shutdown === undefined) return
    this.#timers.set(() => {
      const done = this.#dirty ? this.save().catch(() => {}) : Promise.resolve()
      void done.finally(() => {
        if (this.#shutdown === shutdown) this.#scheduleSave()
      })
    }, this.#saveIntervalMs)
  }

  markAuthenticated(peer: PeerId): void {
    const id = peer.toString()
    if (this.#shutdown === undefined || id === this.#components.peerId.toString()) return
    this.#trusted.add(id)
    const pending = this.#pending.get(id)
    this.#pending.delete(id)
    if (pending === undefined || this.#entries.has(id)) return
    this.#entries.set(id, pending)
    this.#evict()
    this.#dirty = true
  }

  forget(peer: PeerId): void {
    const id = peer.toString()
    this.#pending.delete(id)
    this.#trusted.delete(id)
    this.#redialDone(id)
    if (this.#entries.delete(id)) this.#dirty = true
  }

  // ---------------------------------------------------------------- tracking

  /**
   * Where what is learnt about peer `id` goes: the cache itself, or (with `requireAuthentication`,
   * for a peer not authenticated yet) the unsaved pending map. A peer already cached (it
   * authenticated before) is updated in place; {@link forget} drops it if it is rejected now.
   */
  #entryFor(id: string): { entry: CachedPeer; map: Map<string, CachedPeer> } {
    const map =
      !this.#requireAuthentication || this.#trusted.has(id) || this.#entries.has(id) ? this.#entries : this.#pending
    const entry = map.get(id) ?? { id, addrs: [], lastSeen: 0, successes: 0 }
    return { entry, map }
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    const { entry, map } = this.#entryFor(id)
    entry.lastSeen = Date.now()
    entry.successes++
    // an outbound connection's remote address is dialable; an inbound one is an ephemeral port
    for (const conn of this.#components.connectionManager.getConnections(evt.detail)) {
      if (conn.direction === 'outbound') addAddr(entry, conn.remoteAddr)
    }
    map.set(id, entry)
    this.#redialDone(id)
    if (map !== this.#entries) return
    this.#evict()
    this.#dirty = true
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString()
    if (evt.detail.listenAddrs.length === 0) return
    const { entry, map } = this.#entryFor(id)
    map.set(id, entry)
    // the peer's own listen addresses replace what we guessed
    entry.addrs = []
    for (const addr of evt.detail.listenAddrs) addAddr(entry, addr)
    entry.lastSeen = Date.now()
    if (map !== this.#entries) return
    this.#evict()
    this.#dirty = true
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    // an unauthenticated peer that left is not kept aside: a new connection starts it afresh
    this.#pending.delete(id)
    const entry = this.#entries.get(id)
    if (entry === undefined) return
    entry.lastSeen = Date.now()
    this.#dirty = true
  }

  #evict(): void {
    if (this.#entries.size <= this.#maxPeers) return
    const sorted = [...this.#entries.values()].sort(byUsefulness)
    for (const entry of sorted.slice(this.#maxPeers)) this.#entries.delete(entry.id)
  }

  // ---------------------------------------------------------------- redial

  #queueRedial(peer: PeerId): void {
    const shutdown = this.#shutdown
    if (shutdown === undefined || this.#runner === undefined) return
    this.#runner.push(async () => {
      const key = peer.toString()
      const state = this.#redials.get(key)
      if (this.#shutdown !== shutdown || state === undefined) return
      if (this.#components.connectionManager.getConnections(peer).some((c) => c.status === 'open')) {
        this.#redialDone(key)
        return
      }
      this.#stats.redialsStarted++
      try {
        await this.#components.connectionManager.openConnection(peer, {
          signal: timeoutSignal(this.#dialTimeoutMs, shutdown.signal),
        })
        this.#stats.redialsSucceeded++
        this.#redialDone(key)
      } catch (err) {
        if (this.#shutdown !== shutdown) return
        state.attempts++
        this.#log('redial %d of cached peer %p failed - %e', state.attempts, peer, err)
        if (state.attempts >= this.#maxAttempts) {
          this.#redials.delete(key)
          return
        }
        // a timer, not a cockatiel retry: the wait must not hold one of the runner's dial slots,
        // and stop() clears it
        state.backoff = (state.backoff ?? this.#backoff).next(undefined)
        state.timer = this.#timers.set(() => {
          state.timer = undefined
          this.#queueRedial(peer)
        }, state.backoff.duration)
      }
    })
  }

  #redialDone(key: string): void {
    const state = this.#redials.get(key)
    if (state === undefined) return
    this.#timers.clear(state.timer)
    this.#redials.delete(key)
  }
}

function emptyStats(): PeerCacheStats {
  return { loaded: 0, skipped: 0, corrupt: 0, saves: 0, saveFailures: 0, redialsStarted: 0, redialsSucceeded: 0 }
}

/** Most successes first, then most recently seen. */
function byUsefulness(a: CachedPeer, b: CachedPeer): number {
  return b.successes - a.successes || b.lastSeen - a.lastSeen
}

function addAddr(entry: CachedPeer, addr: Multiaddr): void {
  const bare = stripPeerId(addr).toString()
  if (!entry.addrs.includes(bare) && entry.addrs.length < 16) entry.addrs.push(bare)
}

function stripPeerId(addr: Multiaddr): Multiaddr {
  return addr.getComponents().some((c) => c.code === CODE_P2P) ? addr.decapsulateCode(CODE_P2P) : addr
}

/** A copy of `entry` with a valid peer id and only parseable addresses, or undefined. */
function sanitize(entry: CachedPeer): CachedPeer | undefined {
  try {
    peerIdFromString(entry.id)
  } catch {
    return undefined
  }
  const addrs: string[] = []
  for (const a of entry.addrs) {
    try {
      addrs.push(stripPeerId(multiaddr(a)).toString())
    } catch {
      // skip unparseable address
    }
  }
  if (addrs.length === 0) return undefined
  return { id: entry.id, addrs, lastSeen: entry.lastSeen, successes: entry.successes }
}

function toPeerInfo(entry: CachedPeer): PeerInfo | undefined {
  try {
    return { id: peerIdFromString(entry.id), multiaddrs: entry.addrs.map((a) => multiaddr(a)) }
  } catch {
    return undefined
  }
}

/**
 * Persistent peer cache service factory. Loads `path` at start (a missing file is an empty
 * cache; a corrupt one is copied to `<path>.corrupt`, logged, and the cache starts empty),
 * announces the cached peers (PeerDiscovery `peer`) and redials the best `maxRedialPeers` with
 * exponential backoff. While running it records every connected peer's listen addresses, last
 * seen time and successful connections, writes the file atomically every `saveIntervalMs` when
 * it changed and on stop. Throws {@link ConfigError} on bad options.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { peerCache } from '@vain/net'
 *
 * const node = await createLibp2p({
 *   privateKey, // the same key across restarts
 *   // ...transports, encrypters, muxers, identify
 *   services: {
 *     peerCache: peerCache({ path: './data/peers.json', maxPeers: 256, saveIntervalMs: 30_000 }),
 *   },
 * })
 * // after a restart the node redials the peers it knew, no bootstrap needed
 * ```
 */
export function peerCache(init: PeerCacheInit): (components: DiscoveryComponents) => PeerCache {
  parseInit(InitSchema, init, 'peerCache')
  return (components) => new DefaultPeerCache(components, init)
}
