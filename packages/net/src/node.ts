/**
 * `createNode(config)`: a vAIn network node — libp2p with the transports, discovery,
 * authentication, protocols, limits and gossip of this package wired together.
 * @module
 */
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type GossipSub, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Connection, Libp2p, PeerDiscovery, PeerId, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { TypedEventEmitter } from 'main-event'
import type { z } from 'zod'
import {
  type HandshakeService,
  handshake,
  type NodeDescriptor,
  type PeerAuthenticatedEvent,
  PeerDenyList,
  type PeerRejectedEvent,
} from './auth/index.js'
import { type AdaptiveCompressor, createAdaptiveCompressor, decompress } from './compression/index.js'
import {
  encryptionOf,
  inboundLimitsOf,
  type NodeConfig,
  type NodeConfigInput,
  parseNodeConfig,
  targetPeersOf,
} from './config.js'
import {
  AUTHENTICATED_PEER_TAG,
  type BootstrapWithRedial,
  bootstrapWithRedial,
  dhtOptions,
  type PeerCache,
  type PeerExchange,
  peerCache,
  peerExchange,
} from './discovery/index.js'
import { NotStartedError, PeerDeniedError, RateLimitedError, VainNetError } from './errors.js'
import { GossipBus, type GossipMessageInfo, gossipOptions, type Topic } from './gossip/index.js'
import { loadOrCreateIdentity } from './identity/index.js'
import { CircuitBreakers, InboundLimits, PeerPenalties, type RateLimiter } from './limits/index.js'
import { ConnectionPool, type ConnectionPoolStats } from './pool/index.js'
import {
  type ChunkCodec,
  handlePayloads,
  handleRequests,
  type InboundEvent,
  type InboundRefusal,
  type PayloadHandler,
  type PayloadProtocol,
  type RequestHandler,
  type RequestOptions,
  type RequestProtocol,
  type SendPayloadOptions,
  type SendPayloadResult,
  sendPayload,
  sendRequest,
} from './protocols/index.js'
import { type NetworkHealth, SessionTracker } from './sessions/index.js'

/** libp2p services a vAIn node runs (`node.libp2p.services`). */
export interface VainServices extends Record<string, unknown> {
  identify: unknown
  ping: unknown
  handshake: HandshakeService
  pex?: PeerExchange
  peerCache?: PeerCache
  bootstrap?: BootstrapWithRedial
  dht?: KadDHT
  pubsub?: GossipSub
}

/** Events of a {@link VainNode}. */
export interface VainNodeEvents {
  'peer:connect': CustomEvent<PeerId>
  'peer:disconnect': CustomEvent<PeerId>
  'peer:authenticated': CustomEvent<PeerAuthenticatedEvent>
  'peer:rejected': CustomEvent<PeerRejectedEvent>
  'peer:discovered': CustomEvent<PeerId>
  /** A peer kept asking past its own budget: its connections are closed and it may not connect for `until`. */
  'peer:banned': CustomEvent<PeerBannedEvent>
}

/** Detail of a `peer:banned` event. */
export interface PeerBannedEvent {
  peerId: PeerId
  /** When the ban ends, ms since epoch. */
  until: number
}

/** A snapshot of the node's view of the network. */
export interface NodeHealth extends NetworkHealth {
  connections: number
  knownPeers: number
  deniedPeers: number
  openCircuits: number
  /** Inbound requests this node refused for rate since it started (any budget: peer, range, protocol). */
  rateLimitedRequests: number
  pool: ConnectionPoolStats
}

/** Options of {@link createNode} besides the config. */
export interface CreateNodeOptions {
  /** Use this key instead of the configured identity file (tests, embedding). */
  privateKey?: PrivateKey
  /**
   * libp2p's metrics factory, e.g. `prometheusMetrics({ registry })` from
   * `@libp2p/prometheus-metrics`: libp2p then reports its own figures (connections, streams,
   * transfer, DHT) through it.
   */
  metrics?: Libp2pOptions['metrics']
}

/**
 * A vAIn network node.
 *
 * @example
 * ```ts
 * const node = await createNode({ profile: 'loopback' })
 * await node.start()
 * console.log(node.peerId.toString(), node.multiaddrs.map(String))
 * await node.stop()
 * ```
 */
export class VainNode extends TypedEventEmitter<VainNodeEvents> {
  /** The validated config (defaults filled in). */
  readonly config: NodeConfig
  /** The underlying libp2p node (escape hatch). */
  readonly libp2p: Libp2p<VainServices>
  readonly sessions: SessionTracker
  readonly pool: ConnectionPool
  readonly breakers: CircuitBreakers
  /** Inbound per-peer buckets (`${peerId}${protocol}`); the same as `inboundLimits.perPeer`. */
  readonly rateLimiter: RateLimiter
  /** Inbound budgets: per peer, per protocol (shared) and per address range (shared). */
  readonly inboundLimits: InboundLimits
  readonly compressor: AdaptiveCompressor
  readonly denyList: PeerDenyList
  /** Strikes and bans for peers that exceed their own budget; undefined when `limits.maxStrikes` is 0. */
  readonly penalties: PeerPenalties | undefined
  private bus: GossipBus | undefined
  private running = false
  private readonly stopController = new AbortController()
  private readonly codec: ChunkCodec
  private probeTimer: ReturnType<typeof setInterval> | undefined

  private readonly privateKey: PrivateKey
  #compression: boolean | undefined

  /** @internal use {@link createNode} */
  constructor(
    config: NodeConfig,
    libp2p: Libp2p<VainServices>,
    denyList: PeerDenyList,
    bootstrapPeers: Set<string>,
    privateKey: PrivateKey,
    penalties?: PeerPenalties,
  ) {
    super()
    this.penalties = penalties
    this.privateKey = privateKey
    this.config = config
    this.libp2p = libp2p
    this.denyList = denyList
    this.sessions = new SessionTracker()
    this.pool = new ConnectionPool(libp2p, {
      idleTtlMs: config.pool.idleTtlMs,
      maxStreamsPerPeer: config.pool.maxStreamsPerPeer,
      isProtected: (peer) => bootstrapPeers.has(peer.toString()),
    })
    this.breakers = new CircuitBreakers({
      failureThreshold: config.limits.breakerFailureThreshold,
      baseBackoffMs: config.limits.breakerBaseBackoffMs,
      maxBackoffMs: config.limits.breakerMaxBackoffMs,
      // a remote that answered "rate limited" or "invalid" is alive: only transport failures count
      isFailure: (err) =>
        !(
          err instanceof VainNetError &&
          [
            'RateLimitedError',
            'RemoteError',
            'InvalidMessageError',
            'MessageTooLargeError',
            'UnsupportedVersionError',
          ].includes(err.name)
        ),
    })
    this.inboundLimits = new InboundLimits(inboundLimitsOf(config))
    this.rateLimiter = this.inboundLimits.perPeer
    this.compressor = createAdaptiveCompressor()
    this.codec = {
      compress: async (chunk) => (await this.compressor.compress('payload', chunk)).bytes,
      decompress: async (bytes, maxOutputBytes) => decompress(bytes, { maxOutputBytes }),
    }
    this.wireEvents()
  }

  private wireEvents(): void {
    const l = this.libp2p
    l.addEventListener('peer:connect', (evt) => {
      this.sessions.recordConnect(evt.detail)
      this.safeDispatch('peer:connect', evt.detail)
    })
    l.addEventListener('peer:disconnect', (evt) => {
      this.sessions.recordDisconnect(evt.detail)
      this.safeDispatch('peer:disconnect', evt.detail)
    })
    l.addEventListener('peer:discovery', (evt) => {
      this.safeDispatch('peer:discovered', evt.detail.id)
    })
    const hs = l.services.handshake
    hs.addEventListener('peer:authenticated', (evt) => {
      this.sessions.markAuthenticated(evt.detail.peerId)
      // only peers that proved themselves go into the persistent peer cache
      l.services.peerCache?.markAuthenticated(evt.detail.peerId)
      // and only they are passed on to others by peer exchange
      void this.tagAuthenticated(evt.detail.peerId, true)
      this.safeDispatch('peer:authenticated', evt.detail)
    })
    hs.addEventListener('peer:rejected', (evt) => {
      // never save (nor redial after a restart) a peer the handshake rejected
      l.services.peerCache?.forget(evt.detail.peerId)
      void this.tagAuthenticated(evt.detail.peerId, false)
      this.safeDispatch('peer:rejected', evt.detail)
    })
  }

  /** Set (or remove) the peer-store tag that peer exchange requires before passing a peer on. */
  private async tagAuthenticated(peer: PeerId, authenticated: boolean): Promise<void> {
    try {
      const l = this.libp2p
      if (!authenticated && !(await l.peerStore.has(peer))) return
      await l.peerStore.merge(peer, {
        tags: { [AUTHENTICATED_PEER_TAG]: authenticated ? { value: 1 } : undefined },
      })
    } catch {
      // the node is stopping, or the peer store refused: the tag only widens what PEX shares
    }
  }

  private safeDispatch<K extends keyof VainNodeEvents>(type: K, detail: VainNodeEvents[K]['detail']): void {
    this.safeDispatchEvent(type, { detail } as any)
  }

  /** This node's peer id. */
  get peerId(): PeerId {
    return this.libp2p.peerId
  }

  /** Addresses this node listens on (with `/p2p/<id>`), ready to give to others as bootstrap. */
  get multiaddrs(): Multiaddr[] {
    return this.libp2p.getMultiaddrs()
  }

  /** True between `start()` and `stop()`. */
  get isStarted(): boolean {
    return this.running
  }

  /** Start listening, discovery and background tasks. */
  async start(): Promise<void> {
    if (this.running) return
    await this.libp2p.start()
    this.pool.start()
    this.startRttProbe()
    const pubsub = this.libp2p.services.pubsub
    if (pubsub !== undefined) this.bus = new GossipBus(pubsub)
    this.running = true
  }

  /** Stop everything: connections, listeners, timers. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopController.abort(new NotStartedError('node stopped'))
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer)
    this.probeTimer = undefined
    this.bus?.close()
    this.bus = undefined
    this.pool.stop()
    await this.libp2p.stop()
  }

  /** Ping connected peers now and then so sessions carry an RTT even without requests. */
  private startRttProbe(): void {
    const interval = this.config.sessions.rttProbeIntervalMs
    if (interval === 0) return
    const pinger = this.libp2p.services.ping as { ping(peer: PeerId, o?: { signal?: AbortSignal }): Promise<number> }
    const probe = async (): Promise<void> => {
      const peers = this.authenticatedPeers().slice(0, 64)
      await Promise.allSettled(
        peers.map(async (peer) => {
          const rtt = await pinger.ping(peer, {
            signal: AbortSignal.any([AbortSignal.timeout(5_000), this.stopController.signal]),
          })
          this.sessions.recordRtt(peer, rtt)
        }),
      )
    }
    this.probeTimer = setInterval(() => void probe(), interval)
    this.probeTimer.unref?.()
    // a first sample soon after peers authenticate
    this.libp2p.services.handshake.addEventListener('peer:authenticated', (evt) => {
      if (!this.running) return
      void pinger
        .ping(evt.detail.peerId, { signal: AbortSignal.any([AbortSignal.timeout(5_000), this.stopController.signal]) })
        .then((rtt) => this.sessions.recordRtt(evt.detail.peerId, rtt))
        .catch(() => {})
    })
  }

  private requireStarted(): void {
    if (!this.running) throw new NotStartedError('the node is not started: call start() first')
  }

  /** Dial a peer (by id or address) and wait for the vAIn handshake to complete. */
  async connect(target: PeerId | Multiaddr | string, options: { signal?: AbortSignal } = {}): Promise<PeerId> {
    this.requireStarted()
    const addr = typeof target === 'string' ? multiaddr(target) : target
    const connection = await this.libp2p.dial(addr, options.signal === undefined ? {} : { signal: options.signal })
    const peer = connection.remotePeer
    if (this.config.handshake.required) {
      await this.libp2p.services.handshake.authenticate(
        peer,
        options.signal === undefined ? {} : { signal: options.signal },
      )
    }
    return peer
  }

  /**
   * Sign bytes with this node's identity key (Ed25519 or secp256k1). Anyone can check the signature with
   * {@link verifyPeerSignature} and this node's peer id.
   */
  async sign(data: Uint8Array): Promise<Uint8Array> {
    return await this.privateKey.sign(data)
  }

  /** Whether payloads are compressed by default now (`compression.enabled`, or {@link setCompression}). */
  get compressionEnabled(): boolean {
    return this.#compression ?? this.config.compression.enabled
  }

  /**
   * Turn default payload compression on or off at run time (e.g. from a resource policy: off on a
   * CPU-bound host with a fast link, on for a slow link). Streams already under way keep theirs.
   *
   * @example
   * ```ts
   * node.setCompression(false)
   * ```
   */
  setCompression(enabled: boolean): void {
    this.#compression = enabled === true
  }

  /**
   * Replace each peer's inbound request budget at run time (the defaults of `limits.rateLimitCapacity`
   * and `limits.rateLimitRefillPerSecond`; per-protocol overrides are kept). Peers keep the tokens
   * they had, capped at the new capacity. The shared budgets (per protocol, per address range)
   * are unchanged: identities are free, so those stay the operator's choice.
   *
   * @throws {ConfigError} when either figure is not a positive finite number
   * @example
   * ```ts
   * node.setInboundRate({ capacity: 50, refillPerSecond: 10 })
   * ```
   */
  setInboundRate(rate: { capacity: number; refillPerSecond: number }): void {
    this.inboundLimits.perPeer.setDefaults(rate)
  }

  /** The signed descriptor a peer presented in the handshake. */
  descriptor(peer: PeerId): NodeDescriptor | undefined {
    return this.libp2p.services.handshake.descriptor(peer)
  }

  /** Peers with an open connection. */
  connectedPeers(): PeerId[] {
    return this.libp2p.getPeers()
  }

  /** Peers that completed the vAIn handshake and are connected. */
  authenticatedPeers(): PeerId[] {
    const hs = this.libp2p.services.handshake
    return this.libp2p.getPeers().filter((p) => hs.isAuthenticated(p))
  }

  /**
   * A known peer may take the share of the per-protocol budgets kept for known peers: it has
   * been connected for `limits.knownPeerAfterMs` and has not been struck since.
   */
  private isKnown(peer: string, connection: Connection | undefined): boolean {
    if (connection === undefined || this.penalties?.isStruck(peer) === true) return false
    return Date.now() - connection.timeline.open >= this.config.limits.knownPeerAfterMs
  }

  /**
   * Decide on an inbound request before reading it. Refusals by a shared budget are answered
   * with `RateLimitedError`; refusals by the peer's own budget, and any refusal of a peer that
   * did not wait the retry time it was given, are strikes (answered, then reset without an
   * answer, then a ban that closes the peer's connections).
   */
  private screen(peer: PeerId, protocol: string, connection: Connection | undefined): InboundRefusal | undefined {
    const id = peer.toString()
    const penalties = this.penalties
    if (penalties?.isBanned(id) === true) {
      // still connected (e.g. a stream opened while the ban closed its connections)
      void connection?.close().catch(() => {})
      return { action: 'reset' }
    }
    if (this.config.handshake.required && !this.libp2p.services.handshake.isAuthenticated(peer)) {
      return {
        action: 'answer',
        name: 'PeerDeniedError',
        message: `peer ${peer} has not completed the vAIn handshake`,
      }
    }
    // per peer, per address range and per protocol: a token from each, or from none
    const result = this.inboundLimits.check(id, protocol, connection?.remoteAddr, {
      known: this.isKnown(id, connection),
    })
    if (result.allowed) return undefined
    this.rateLimitedRequests++
    if (penalties !== undefined) {
      // over its own budget, or asking again before the retry time it was given: a strike
      if (result.budget === 'peer' || penalties.isEarly(id)) {
        const penalty = penalties.strike(id)
        if (penalty === 'ban') {
          this.banned(peer)
          return { action: 'reset' }
        }
        if (penalty === 'reset') return { action: 'reset' }
      }
      penalties.told(id, result.retryAfterMs)
    }
    return { action: 'answer', name: 'RateLimitedError', message: result.message, retryAfterMs: result.retryAfterMs }
  }

  private banned(peer: PeerId): void {
    const until = Date.now() + (this.penalties?.banMs ?? 0)
    void this.libp2p.hangUp(peer).catch(() => {})
    this.safeDispatch('peer:banned', { peerId: peer, until })
  }

  private guard() {
    return {
      screen: (peer: PeerId, protocol: string, connection: Connection): InboundRefusal | undefined =>
        this.screen(peer, protocol, connection),
      admit: (peer: PeerId, protocol: string, connection?: Connection): void => {
        const refusal = this.screen(peer, protocol, connection)
        if (refusal === undefined) return
        if (refusal.action === 'reset') throw new PeerDeniedError(`peer ${peer} is refused: too many refused requests`)
        if (refusal.name === 'RateLimitedError')
          throw new RateLimitedError(refusal.message, refusal.retryAfterMs ?? 1000)
        throw new PeerDeniedError(refusal.message)
      },
      onInbound: (evt: InboundEvent): void => {
        this.pool.touch(evt.remotePeer)
        this.sessions.recordTraffic(evt.remotePeer, evt.bytesIn, evt.bytesOut)
      },
    }
  }

  /**
   * Serve a request/response protocol. Only peers that completed the handshake are served (when
   * `handshake.required`), each at most at the configured rate per protocol, and all peers
   * together within the protocol's and their address range's shared budgets.
   */
  async handle<Req extends z.ZodType, Res extends z.ZodType>(
    protocol: RequestProtocol<Req, Res>,
    handler: RequestHandler<Req, Res>,
  ): Promise<void> {
    await handleRequests(this.libp2p, protocol, handler, { ...this.guard(), signal: this.stopController.signal })
  }

  /** Serve a streaming payload protocol (compressed chunks accepted). */
  async handlePayload<Meta extends z.ZodType>(
    protocol: PayloadProtocol<Meta>,
    handler: PayloadHandler<Meta>,
  ): Promise<void> {
    await handlePayloads(this.libp2p, protocol, handler, {
      ...this.guard(),
      codec: this.codec,
      signal: this.stopController.signal,
    })
  }

  /** Stop serving a protocol. */
  async unhandle(protocol: { id: string }): Promise<void> {
    await this.libp2p.unhandle(protocol.id)
  }

  private rateLimitedRequests = 0

  private async ensureAuthenticated(peer: PeerId, signal: AbortSignal | undefined): Promise<void> {
    if (!this.config.handshake.required) return
    const hs = this.libp2p.services.handshake
    if (hs.isAuthenticated(peer)) return
    await hs.authenticate(peer, signal === undefined ? {} : { signal })
  }

  /**
   * Send a request through the peer's circuit breaker and the connection pool; records RTT,
   * success and bytes in the peer's session.
   *
   * @throws {CircuitOpenError} while the peer's breaker is open
   * @throws {RateLimitedError} when the peer refused for rate
   * @throws {TimeoutError} after the protocol's or the given deadline
   */
  async request<Req extends z.ZodType, Res extends z.ZodType>(
    peer: PeerId,
    protocol: RequestProtocol<Req, Res>,
    body: z.input<Req>,
    options: RequestOptions = {},
  ): Promise<z.output<Res>> {
    this.requireStarted()
    const key = peer.toString()
    try {
      const result = await this.breakers.exec(key, async () => {
        await this.ensureAuthenticated(peer, options.signal)
        return await this.pool.use(peer, () => sendRequest(this.libp2p, peer, protocol, body, options), options)
      })
      this.sessions.recordRequest(peer, true, result.rttMs)
      this.sessions.recordTraffic(peer, result.bytesIn, result.bytesOut)
      return result.response
    } catch (err) {
      if ((err as Error)?.name !== 'CircuitOpenError') this.sessions.recordRequest(peer, false)
      throw err
    }
  }

  /**
   * Stream a payload to a peer. With `compression.enabled`, each chunk is compressed when the
   * adaptive policy says it pays (size, compressibility, the link's measured throughput).
   */
  async sendPayload<Meta extends z.ZodType>(
    peer: PeerId,
    protocol: PayloadProtocol<Meta>,
    meta: z.input<Meta>,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    options: Omit<SendPayloadOptions, 'codec'> & { compress?: boolean } = {},
  ): Promise<SendPayloadResult> {
    this.requireStarted()
    const compress = options.compress ?? this.compressionEnabled
    const key = peer.toString()
    const peerCodec: ChunkCodec = {
      compress: async (chunk) => (await this.compressor.compress(key, chunk)).bytes,
      decompress: this.codec.decompress,
    }
    const { compress: _ignored, ...rest } = options
    const result = await this.breakers.exec(key, async () => {
      await this.ensureAuthenticated(peer, options.signal)
      return await this.pool.use(
        peer,
        () => sendPayload(this.libp2p, peer, protocol, meta, data, compress ? { ...rest, codec: peerCodec } : rest),
        options,
      )
    })
    this.compressor.recordTransfer(key, result.wireBytes, result.durationMs)
    this.sessions.recordRequest(peer, true, result.durationMs)
    this.sessions.recordTraffic(peer, 0, result.wireBytes)
    return result
  }

  private gossip(): GossipBus {
    this.requireStarted()
    if (this.bus === undefined) throw new NotStartedError('gossip is disabled in this node (gossip.enabled: false)')
    return this.bus
  }

  /** Publish a typed message on a gossip topic. */
  async publish<S extends z.ZodType>(topic: Topic<S>, value: z.input<S>): Promise<PeerId[]> {
    return this.gossip().publish(topic, value)
  }

  /** Subscribe to a typed gossip topic; returns an unsubscribe function. */
  subscribe<S extends z.ZodType>(
    topic: Topic<S>,
    handler: (value: z.output<S>, info: GossipMessageInfo) => void,
  ): () => void {
    return this.gossip().subscribe(topic, handler)
  }

  /** Peers subscribed to a topic, as far as this node knows. */
  topicPeers(topic: Topic): PeerId[] {
    return this.gossip().subscribers(topic)
  }

  /** Network-health metrics: peers, latency, success rates, traffic, limits. */
  async health(): Promise<NodeHealth> {
    const peers = await this.libp2p.peerStore.all()
    const h = this.sessions.health()
    let openCircuits = 0
    for (const p of this.libp2p.getPeers()) {
      if (this.breakers.state(p.toString()) === 'open') openCircuits++
    }
    return {
      ...h,
      connections: this.libp2p.getConnections().length,
      knownPeers: peers.length,
      deniedPeers: this.denyList.entries().length,
      openCircuits,
      rateLimitedRequests: this.rateLimitedRequests,
      pool: this.pool.stats(),
    }
  }
}

function usesWebSockets(addrs: string[]): boolean {
  return addrs.some((a) => a.includes('/ws'))
}

/**
 * Create a vAIn node from a config (validated with zod; see {@link NodeConfigSchema}). The node
 * is not started: call `start()`.
 *
 * @throws {ConfigError} for an invalid config, listing every problem
 * @throws {IdentityError} when the identity key file cannot be used
 * @example
 * ```ts
 * import { createNode } from '@vain/net'
 * const a = await createNode({ profile: 'loopback' })
 * await a.start()
 * const b = await createNode({ profile: 'loopback', bootstrap: a.multiaddrs.map(String) })
 * await b.start()
 * b.addEventListener('peer:authenticated', (e) => console.log('met', e.detail.peerId.toString()))
 * ```
 */
export async function createNode(config: NodeConfigInput = {}, options: CreateNodeOptions = {}): Promise<VainNode> {
  const cfg = parseNodeConfig(config)
  let privateKey = options.privateKey
  if (privateKey === undefined) {
    const path = cfg.identity.path ?? (cfg.dataDir !== undefined ? join(cfg.dataDir, 'identity.key') : undefined)
    if (path !== undefined) {
      const identity = await loadOrCreateIdentity({
        path,
        ...(cfg.identity.passphrase !== undefined ? { passphrase: cfg.identity.passphrase } : {}),
        ...(cfg.identity.keyType !== undefined ? { keyType: cfg.identity.keyType } : {}),
      })
      privateKey = identity.privateKey
    } else {
      privateKey =
        cfg.identity.keyType === 'secp256k1' ? await generateKeyPair('secp256k1') : await generateKeyPair('Ed25519')
    }
  }
  const denyList = new PeerDenyList({ defaultTtlMs: cfg.handshake.denyMs })
  const penalties =
    cfg.limits.maxStrikes === 0
      ? undefined
      : new PeerPenalties({
          maxStrikes: cfg.limits.maxStrikes,
          strikeWindowMs: cfg.limits.strikeWindowMs,
          banMs: cfg.limits.banMs,
          maxBans: cfg.limits.maxBans,
        })
  // a banned peer may not connect again until its ban ends (known once its connection is encrypted)
  const banned = async (peer: PeerId): Promise<boolean> => penalties?.isBanned(peer.toString()) ?? false
  const bootstrapPeers = new Set(
    cfg.bootstrap.map(
      (a) =>
        multiaddr(a)
          .getComponents()
          .find((c) => c.name === 'p2p')?.value ?? '',
    ),
  )
  const services: Record<string, (components: any) => unknown> = {
    identify: identify(),
    ping: ping({ maxOutboundStreams: 32, maxInboundStreams: 32 }),
    handshake: handshake({
      descriptor: {
        softwareVersion: cfg.softwareVersion,
        roles: cfg.roles,
        capabilities: cfg.capabilities,
        ...(cfg.chainAddress !== undefined ? { chainAddress: cfg.chainAddress } : {}),
        ...(cfg.capacity !== undefined ? { capacity: cfg.capacity } : {}),
      },
      denyList,
      graceMs: cfg.handshake.graceMs,
      denyTtlMs: cfg.handshake.denyMs,
      // a busy machine running many local nodes answers slowly: give each attempt more time there
      timeoutMs: cfg.profile === 'public' ? 5_000 : 15_000,
      isProtected: (peer) => bootstrapPeers.has(peer.toString()),
    }),
  }
  if (cfg.discovery.pex) {
    services.pex = peerExchange({
      intervalMs: cfg.discovery.pexIntervalMs,
      targetPeers: targetPeersOf(cfg),
      // never advertise a peer that connected but did not pass our handshake
      ...(cfg.handshake.required ? { shareOnlyTagged: AUTHENTICATED_PEER_TAG } : {}),
    })
  }
  if (cfg.discovery.peerCache && cfg.dataDir !== undefined) {
    services.peerCache = peerCache({
      path: join(cfg.dataDir, 'peers.json'),
      // with the handshake required, a peer is cached only once it authenticated
      requireAuthentication: cfg.handshake.required,
    })
  }
  if (cfg.bootstrap.length > 0) {
    services.bootstrap = bootstrapWithRedial({ list: cfg.bootstrap, minPeers: Math.min(3, targetPeersOf(cfg)) })
  }
  if (cfg.discovery.dht) {
    services.dht = kadDHT(dhtOptions({ addressPolicy: cfg.profile }))
  }
  if (cfg.gossip.enabled) {
    services.pubsub = gossipsub(gossipOptions(cfg.profile))
  }
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if (cfg.discovery.mdns) peerDiscovery.push(mdns({ serviceTag: 'vain.local' }) as any)

  // @libp2p/tls (x509, asn1) is loaded only by nodes that offer it
  const encryption = encryptionOf(cfg)
  const tls = encryption.includes('tls') ? (await import('@libp2p/tls')).tls : undefined
  const connectionEncrypters = encryption.map((e) => (e === 'tls' && tls !== undefined ? tls() : noise()))
  const libp2p = (await createLibp2p({
    privateKey,
    start: false,
    addresses: {
      listen: cfg.listen,
      ...(cfg.announce.length > 0 ? { announce: cfg.announce } : {}),
    },
    transports: usesWebSockets(cfg.listen) || usesWebSockets(cfg.bootstrap) ? [tcp(), webSockets()] : [tcp()],
    connectionEncrypters: connectionEncrypters as any,
    streamMuxers: [yamux(yamuxOptions(cfg.muxer))],
    connectionGater: denyList.gater({
      ...(cfg.profile === 'public' ? {} : { denyDialMultiaddr: async () => false }),
      denyInboundEncryptedConnection: banned,
      denyInboundUpgradedConnection: banned,
    }),
    // loopback/LAN networks run many nodes per machine (demos, tests, benchmarks): a ping that is
    // late because the event loop is busy must not tear connections down en masse
    connectionMonitor:
      cfg.profile === 'public'
        ? {}
        : {
            pingInterval: 30_000,
            pingTimeout: { minTimeout: 10_000, maxTimeout: 60_000 },
            abortConnectionOnPingFailure: false,
          },
    connectionManager: {
      maxConnections: cfg.limits.maxConnections,
      inboundConnectionThreshold: cfg.profile === 'public' ? 10 : 10_000,
      maxIncomingPendingConnections: cfg.profile === 'public' ? 50 : 1_000,
    },
    peerDiscovery,
    ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
    services: services as any,
  })) as unknown as Libp2p<VainServices>
  return new VainNode(cfg, libp2p, denyList, bootstrapPeers, privateKey, penalties)
}

/** yamux options from the `muxer` config (only the fields that are set). */
function yamuxOptions(m: NodeConfig['muxer']): Parameters<typeof yamux>[0] {
  const streamOptions = {
    ...(m.initialStreamWindowSize !== undefined ? { initialStreamWindowSize: m.initialStreamWindowSize } : {}),
    ...(m.maxStreamWindowSize !== undefined ? { maxStreamWindowSize: m.maxStreamWindowSize } : {}),
  }
  return {
    ...(m.maxMessageSize !== undefined ? { maxMessageSize: m.maxMessageSize } : {}),
    ...(Object.keys(streamOptions).length > 0 ? { streamOptions } : {}),
  }
}

/**
 * Check a signature made by {@link VainNode.sign}: the public key comes from the peer id itself
 * (Ed25519 and secp256k1 peer ids embed it). Returns false for a bad signature or a malformed peer id.
 *
 * @example
 * ```ts
 * const ok = await verifyPeerSignature(node.peerId.toString(), bytes, await node.sign(bytes))
 * ```
 */
export async function verifyPeerSignature(peerId: string, data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  try {
    const key = peerIdFromString(peerId).publicKey
    if (key === undefined) return false
    return await key.verify(data, signature)
  } catch {
    return false
  }
}
