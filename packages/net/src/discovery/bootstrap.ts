/**
 * Bootstrap with redial: like `@libp2p/bootstrap`, but it keeps dialling the bootstrap peers
 * with exponential backoff + jitter while fewer than `minPeers` peers are connected, and redials
 * a bootstrap peer that disconnected (the stock module dials each once, at start).
 *
 * The redial never gives up and is driven by events (connect, disconnect, a periodic check), not
 * by one awaited call, so it is not a cockatiel `retry` policy: each peer steps its own cockatiel
 * `ExponentialBackoff` (see `exponentialBackoff`) and waits on a timer that `stop()` clears.
 * @module
 */
import {
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
import { ConfigError, NotStartedError } from '../errors.js'
import { connectedPeers, type DiscoveryComponents } from './components.js'
import {
  type BackoffInit,
  BackoffSchema,
  exponentialBackoff,
  parseInit,
  Timers,
  timeoutSignal,
  withJitter,
} from './util.js'

/** Options of {@link bootstrapWithRedial}. */
export interface BootstrapWithRedialInit {
  /** Bootstrap multiaddrs, each ending in `/p2p/<peer id>`. */
  list: string[]
  /** Dial bootstrap peers while fewer than this many peers (of any kind) are connected. Default 1. */
  minPeers?: number
  /** Backoff between dials of one bootstrap peer. Default 1 s → 60 s, ×2, ±20 % jitter. */
  backoff?: Partial<BackoffInit>
  /** Redial a bootstrap peer that disconnected even when `minPeers` is met. Default true. */
  redialOnDisconnect?: boolean
  /** Safety-net re-check of the conditions, in ms. Default 10 000. */
  checkIntervalMs?: number
  /** Deadline of one dial, in ms. Default 10 000. */
  dialTimeoutMs?: number
  /** Peer-store tag put on bootstrap peers. Default `bootstrap`. */
  tagName?: string
  /** Value of that tag (the connection manager prunes low values first). Default 50. */
  tagValue?: number
}

const InitSchema = z
  .object({
    list: z.array(z.string()).min(1, 'at least one bootstrap address is needed'),
    minPeers: z.number().int().min(0).optional(),
    backoff: BackoffSchema.optional(),
    redialOnDisconnect: z.boolean().optional(),
    checkIntervalMs: z.number().int().positive().optional(),
    dialTimeoutMs: z.number().int().positive().optional(),
    tagName: z.string().min(1).optional(),
    tagValue: z.number().int().min(0).max(100).optional(),
  })
  .strict()

/** Counters since start. */
export interface BootstrapStats {
  dialsStarted: number
  dialsFailed: number
  /** Successful dials to bootstrap peers. */
  connects: number
}

/** State of one bootstrap peer. */
export interface BootstrapPeerStatus {
  peerId: PeerId
  multiaddr: Multiaddr
  connected: boolean
  /** Failed dials since the last success. */
  failures: number
  /** When the next dial is due (ms since epoch), if one is scheduled. */
  nextDialAt?: number
}

/** The bootstrap-with-redial service; also a libp2p `PeerDiscovery`. */
export interface BootstrapWithRedial extends TypedEventTarget<PeerDiscoveryEvents>, Startable {
  readonly [peerDiscoverySymbol]: PeerDiscovery
  readonly stats: Readonly<BootstrapStats>
  /** Current state of each bootstrap peer. */
  peers(): BootstrapPeerStatus[]
}

interface Entry {
  peerId: PeerId
  multiaddr: Multiaddr
  failures: number
  /** The wait before the next dial, stepped after each failure; undefined after a success. */
  backoff?: IBackoff<unknown> | undefined
  /** Set when the peer disconnected; cleared once it is connected again. */
  wanted: boolean
  dialing: boolean
  timer?: ReturnType<typeof setTimeout> | undefined
  nextDialAt?: number
}

/**
 * Parse and check a bootstrap list: every entry must be a multiaddr ending in a valid
 * `/p2p/<peer id>`.
 *
 * @throws {ConfigError} listing every bad entry
 * @example
 * ```ts
 * const peers = parseBootstrapList(['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...'])
 * ```
 */
export function parseBootstrapList(list: readonly string[]): Array<{ peerId: PeerId; multiaddr: Multiaddr }> {
  const issues: string[] = []
  const out: Array<{ peerId: PeerId; multiaddr: Multiaddr }> = []
  list.forEach((text, i) => {
    let ma: Multiaddr
    try {
      ma = multiaddr(text)
    } catch (err) {
      issues.push(`list.${i}: not a multiaddr: ${JSON.stringify(text)} (${(err as Error).message})`)
      return
    }
    const id = ma.getComponents().findLast((c) => c.code === CODE_P2P)?.value
    if (id === undefined) {
      issues.push(`list.${i}: ${text} has no /p2p/<peer id>`)
      return
    }
    try {
      out.push({ peerId: peerIdFromString(id), multiaddr: ma })
    } catch (err) {
      issues.push(`list.${i}: bad peer id ${id} (${(err as Error).message})`)
    }
  })
  if (issues.length > 0) throw new ConfigError('invalid bootstrap list', issues)
  return out
}

class DefaultBootstrapWithRedial
  extends TypedEventEmitter<PeerDiscoveryEvents>
  implements BootstrapWithRedial, PeerDiscovery
{
  readonly #components: DiscoveryComponents
  readonly #log: Logger
  readonly #entries: Entry[]
  readonly #minPeers: number
  readonly #backoff: ExponentialBackoff<number>
  readonly #redialOnDisconnect: boolean
  readonly #checkIntervalMs: number
  readonly #dialTimeoutMs: number
  readonly #tagName: string
  readonly #tagValue: number
  readonly #timers = new Timers()
  #shutdown: AbortController | undefined
  readonly #stats: BootstrapStats = { dialsStarted: 0, dialsFailed: 0, connects: 0 }

  constructor(components: DiscoveryComponents, init: BootstrapWithRedialInit) {
    super()
    const parsed = parseInit(InitSchema, init, 'bootstrapWithRedial')
    this.#components = components
    this.#log = components.logger.forComponent('vain:discovery:bootstrap')
    this.#entries = parseBootstrapList(parsed.list)
      // the same list is often given to every node, bootstrap nodes included: skip ourselves
      .filter((p) => !p.peerId.equals(components.peerId))
      .filter((p, i, all) => all.findIndex((q) => q.peerId.equals(p.peerId)) === i)
      .map((p) => ({ ...p, failures: 0, wanted: false, dialing: false }))
    this.#minPeers = parsed.minPeers ?? 1
    this.#backoff = exponentialBackoff({
      initialMs: parsed.backoff?.initialMs ?? 1_000,
      maxMs: parsed.backoff?.maxMs ?? 60_000,
      factor: parsed.backoff?.factor ?? 2,
      jitter: parsed.backoff?.jitter ?? 0.2,
    })
    this.#redialOnDisconnect = parsed.redialOnDisconnect ?? true
    this.#checkIntervalMs = parsed.checkIntervalMs ?? 10_000
    this.#dialTimeoutMs = parsed.dialTimeoutMs ?? 10_000
    this.#tagName = parsed.tagName ?? 'bootstrap'
    this.#tagValue = parsed.tagValue ?? 50
  }

  readonly [peerDiscoverySymbol]: PeerDiscovery = this
  readonly [Symbol.toStringTag] = '@vain/net/bootstrap-with-redial'
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']

  get stats(): Readonly<BootstrapStats> {
    return { ...this.#stats }
  }

  isStarted(): boolean {
    return this.#shutdown !== undefined
  }

  peers(): BootstrapPeerStatus[] {
    const connected = connectedPeers(this.#components.connectionManager)
    return this.#entries.map((e) => ({
      peerId: e.peerId,
      multiaddr: e.multiaddr,
      connected: connected.has(e.peerId.toString()),
      failures: e.failures,
      ...(e.nextDialAt !== undefined ? { nextDialAt: e.nextDialAt } : {}),
    }))
  }

  start(): void {
    if (this.#shutdown !== undefined) return
    this.#shutdown = new AbortController()
    setMaxListeners(Infinity, this.#shutdown.signal)
    for (const e of this.#entries) {
      e.failures = 0
      e.backoff = undefined
      e.wanted = false
    }
    this.#components.events.addEventListener('peer:connect', this.#onConnect)
    this.#components.events.addEventListener('peer:disconnect', this.#onDisconnect)
  }

  /** Once every component runs: tag and announce the bootstrap peers, then start dialling. */
  async afterStart(): Promise<void> {
    const shutdown = this.#shutdown
    if (shutdown === undefined) return
    for (const e of this.#entries) {
      try {
        await this.#components.peerStore.merge(
          e.peerId,
          { multiaddrs: [e.multiaddr], tags: { [this.#tagName]: { value: this.#tagValue } } },
          { signal: shutdown.signal },
        )
      } catch (err) {
        this.#log.error('could not add bootstrap peer %p to the peer store - %e', e.peerId, err)
      }
      if (this.#shutdown !== shutdown) return
      const info: PeerInfo = { id: e.peerId, multiaddrs: [e.multiaddr] }
      this.safeDispatchEvent('peer', { detail: info })
    }
    this.#evaluate()
    this.#scheduleCheck()
  }

  stop(): void {
    if (this.#shutdown === undefined) return
    this.#shutdown.abort(new NotStartedError('bootstrap stopped'))
    this.#shutdown = undefined
    this.#timers.clearAll()
    for (const e of this.#entries) {
      e.timer = undefined
      delete e.nextDialAt
    }
    this.#components.events.removeEventListener('peer:connect', this.#onConnect)
    this.#components.events.removeEventListener('peer:disconnect', this.#onDisconnect)
  }

  readonly #onConnect = (evt: CustomEvent<PeerId>): void => {
    const entry = this.#entries.find((e) => e.peerId.equals(evt.detail))
    if (entry === undefined) return
    entry.failures = 0
    entry.backoff = undefined
    entry.wanted = false
    this.#timers.clear(entry.timer)
    entry.timer = undefined
    delete entry.nextDialAt
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const entry = this.#entries.find((e) => e.peerId.equals(evt.detail))
    if (entry !== undefined && this.#redialOnDisconnect) entry.wanted = true
    // any disconnect may leave us under minPeers; look once the connection list is updated
    this.#timers.set(() => this.#evaluate(), 0)
  }

  #scheduleCheck(): void {
    if (this.#shutdown === undefined) return
    this.#timers.set(
      () => {
        this.#evaluate()
        this.#scheduleCheck()
      },
      withJitter(this.#checkIntervalMs, 0.1),
    )
  }

  /** Schedule a dial for every bootstrap peer that should be dialled and has none pending. */
  #evaluate(): void {
    if (this.#shutdown === undefined) return
    const connected = connectedPeers(this.#components.connectionManager)
    const belowMin = connected.size < this.#minPeers
    for (const e of this.#entries) {
      if (connected.has(e.peerId.toString())) {
        e.wanted = false
        continue
      }
      if (!(belowMin || e.wanted) || e.dialing || e.timer !== undefined) continue
      // first try soon (a little jitter so many nodes do not dial in lockstep), then back off
      const delay = e.backoff === undefined ? withJitter(50, 1) : e.backoff.duration
      e.nextDialAt = Date.now() + delay
      e.timer = this.#timers.set(() => {
        e.timer = undefined
        delete e.nextDialAt
        void this.#dial(e)
      }, delay)
    }
  }

  async #dial(e: Entry): Promise<void> {
    const shutdown = this.#shutdown
    if (shutdown === undefined || e.dialing) return
    e.dialing = true
    this.#stats.dialsStarted++
    try {
      await this.#components.connectionManager.openConnection(e.multiaddr, {
        signal: timeoutSignal(this.#dialTimeoutMs, shutdown.signal),
      })
      this.#stats.connects++
      e.failures = 0
      e.backoff = undefined
      e.wanted = false
    } catch (err) {
      if (this.#shutdown !== shutdown) return
      this.#stats.dialsFailed++
      e.failures++
      e.backoff = (e.backoff ?? this.#backoff).next(undefined)
      this.#log('dial %d to bootstrap peer %p failed - %e', e.failures, e.peerId, err)
    } finally {
      e.dialing = false
    }
    this.#evaluate()
  }
}

/**
 * Bootstrap-with-redial service factory. Announces the bootstrap peers (PeerDiscovery `peer`,
 * tagged in the peer store) and dials them whenever fewer than `minPeers` peers are connected or
 * a bootstrap peer disconnected, with exponential backoff + jitter per peer, until connected.
 *
 * @throws {ConfigError} at construction when an entry of `list` is not a multiaddr with a valid
 *   `/p2p/<peer id>`, or another option is out of range
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { bootstrapWithRedial } from '@vain/net'
 *
 * const node = await createLibp2p({
 *   // ...transports, encrypters, muxers, identify
 *   services: {
 *     bootstrap: bootstrapWithRedial({
 *       list: ['/ip4/203.0.113.7/tcp/4001/p2p/12D3KooW...'],
 *       minPeers: 3,
 *       backoff: { initialMs: 1_000, maxMs: 60_000, factor: 2 },
 *     }),
 *   },
 * })
 * ```
 */
export function bootstrapWithRedial(
  init: BootstrapWithRedialInit,
): (components: DiscoveryComponents) => BootstrapWithRedial {
  const parsed = parseInit(InitSchema, init, 'bootstrapWithRedial')
  parseBootstrapList(parsed.list)
  return (components) => new DefaultBootstrapWithRedial(components, init)
}
