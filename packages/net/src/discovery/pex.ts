/**
 * Peer exchange (PEX): connected peers swap the signed peer records they know, so a node that
 * joined through one peer learns the rest of the network and dials towards `targetPeers`.
 * @module
 */
import {
  type AbortOptions,
  type Connection,
  type IdentifyResult,
  type Logger,
  type PeerDiscovery,
  type PeerDiscoveryEvents,
  type PeerId,
  type PeerInfo,
  peerDiscoverySymbol,
  type Startable,
  type Stream,
  serviceCapabilities,
  serviceDependencies,
} from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import type { IBackoff } from 'cockatiel'
import { setMaxListeners, TypedEventEmitter, type TypedEventTarget } from 'main-event'
import { toString as bytesToString } from 'uint8arrays/to-string'
import { z } from 'zod'
import {
  InvalidMessageError,
  isVainNetError,
  MessageTooLargeError,
  NotStartedError,
  RateLimitedError,
  RemoteError,
  type VainNetError,
} from '../errors.js'
import { encodeMessage } from '../wire/index.js'
import { connectedPeers, type PeerExchangeComponents } from './components.js'
import { PEX_PROTOCOL, PEX_VERSION, PexRequest, pexResponseSchema, readMessage } from './pex-messages.js'
import { recordSigner, verifySignedPeerRecord } from './records.js'
import { exponentialBackoff, parseInit, shuffled, Timers, timeoutSignal, withJitter } from './util.js'

/** Options of {@link peerExchange}. */
export interface PeerExchangeInit {
  /** Protocol id. Default `/vain/pex/1.0.0`. */
  protocol?: string
  /** Mean time between periodic exchange rounds, in ms. Default 60 000. */
  intervalMs?: number
  /** Spread of each interval as a fraction of it (0..1). Default 0.2. */
  jitter?: number
  /** How many connected peers to ask per periodic round. Default 3. */
  peersPerRound?: number
  /** Ask a peer as soon as identify shows it speaks PEX. Default true. */
  exchangeOnIdentify?: boolean
  /** Most exchanges this node runs at once (identify-triggered ones beyond it are skipped). Default 4. */
  maxConcurrentExchanges?: number
  /** Dial discovered peers while fewer than this many peers are connected. Default 20. */
  targetPeers?: number
  /** Dials in flight at once. Default 4. */
  dialConcurrency?: number
  /** Deadline of one dial, in ms. Default 10 000. */
  dialTimeoutMs?: number
  /** Most records asked for and served per response. Default 50. */
  maxRecordsPerResponse?: number
  /** Most bytes of one PEX message (request or response). Default 256 KiB. */
  maxMessageBytes?: number
  /** Deadline of one exchange (either side), in ms. Default 10 000. */
  requestTimeoutMs?: number
  /** Serving side: at most `requests` answered per peer per `windowMs`. Default 10 per 60 s. */
  rateLimit?: { requests: number; windowMs: number }
  /** Concurrent inbound PEX streams per connection. Default 4. */
  maxInboundStreams?: number
  /** Concurrent outbound PEX streams per connection. Default 4. */
  maxOutboundStreams?: number
  /**
   * Pass on only peers whose peer-store entry carries this tag (e.g. the tag a node sets once a
   * peer passed its own authentication), so that peers which connected but never proved
   * themselves are not advertised to others. Default: every peer with a signed record.
   * `createVainNode` sets {@link AUTHENTICATED_PEER_TAG}.
   */
  shareOnlyTagged?: string
}

const InitSchema = z
  .object({
    protocol: z.string().startsWith('/').optional(),
    intervalMs: z.number().int().positive().optional(),
    jitter: z.number().min(0).max(1).optional(),
    peersPerRound: z.number().int().min(1).optional(),
    exchangeOnIdentify: z.boolean().optional(),
    maxConcurrentExchanges: z.number().int().min(1).optional(),
    targetPeers: z.number().int().min(0).optional(),
    dialConcurrency: z.number().int().min(1).optional(),
    dialTimeoutMs: z.number().int().positive().optional(),
    maxRecordsPerResponse: z.number().int().min(1).max(10_000).optional(),
    maxMessageBytes: z.number().int().min(64).optional(),
    requestTimeoutMs: z.number().int().positive().optional(),
    rateLimit: z
      .object({ requests: z.number().int().min(1), windowMs: z.number().int().positive() })
      .strict()
      .optional(),
    maxInboundStreams: z.number().int().min(1).optional(),
    maxOutboundStreams: z.number().int().min(1).optional(),
    shareOnlyTagged: z.string().min(1).max(256).optional(),
  })
  .strict()

/** Outcome of one exchange with one peer. */
export interface ExchangeResult {
  /** The peer that answered. */
  from: PeerId
  /** Records in the answer. */
  received: number
  /** Records that were valid and newer than what the peer store had (stored and announced). */
  accepted: number
  /** Valid records the peer store already had (same or newer sequence number), or our own. */
  known: number
  /** Records dropped: bad signature, signer ≠ record's peer, undecodable. */
  invalid: number
  /** The peers announced as discovered by this exchange. */
  discovered: PeerInfo[]
}

/** Counters since start. */
export interface PeerExchangeStats {
  /** Exchanges this node started that got an answer. */
  exchanges: number
  /** Exchanges this node started that failed (dial, stream, malformed answer, refusal). */
  exchangeFailures: number
  recordsReceived: number
  recordsAccepted: number
  /** Received records dropped as invalid. */
  invalidRecords: number
  /** Requests this node answered with records. */
  requestsServed: number
  /** Requests refused by the per-peer rate limit. */
  requestsRateLimited: number
  /** Requests that could not be decoded (or were too large). */
  malformedRequests: number
  dialsStarted: number
  dialsFailed: number
}

/** Events of {@link PeerExchange}: the PeerDiscovery `peer` event plus diagnostics. */
export interface PeerExchangeEvents extends PeerDiscoveryEvents {
  /** An exchange this node started completed. */
  exchange: CustomEvent<ExchangeResult>
  /** Serving a request failed with a typed error (malformed request, rate limit, timeout). */
  'request:error': CustomEvent<{ peer: PeerId; error: VainNetError }>
}

/** The peer-exchange service; also a libp2p `PeerDiscovery` (emits `peer`). */
export interface PeerExchange extends TypedEventTarget<PeerExchangeEvents>, Startable {
  readonly [peerDiscoverySymbol]: PeerDiscovery
  readonly protocol: string
  /** Counters since start. */
  readonly stats: Readonly<PeerExchangeStats>
  /**
   * Ask one peer (dialled if needed) for the peers it knows; store valid records, announce new
   * peers and dial towards `targetPeers`.
   *
   * @throws {RateLimitedError} the peer refused: too many requests
   * @throws {InvalidMessageError | MessageTooLargeError} the answer was malformed
   * @throws {TimeoutError} no answer before `requestTimeoutMs` or `signal`
   * @throws {RemoteError} the peer reported another error
   */
  exchange(peer: PeerId, options?: AbortOptions): Promise<ExchangeResult>
}

/** Verified envelopes remembered (a network's worth of peer records). */
const CONSUMED_CACHE_SIZE = 4096

const DIAL_BACKOFF = exponentialBackoff({ initialMs: 5_000, maxMs: 300_000, factor: 2 })

class DefaultPeerExchange extends TypedEventEmitter<PeerExchangeEvents> implements PeerExchange, PeerDiscovery {
  readonly protocol: string
  readonly #components: PeerExchangeComponents
  readonly #log: Logger
  readonly #init: Required<Omit<PeerExchangeInit, 'protocol' | 'shareOnlyTagged'>> & {
    shareOnlyTagged: string | undefined
  }
  readonly #responseSchema: ReturnType<typeof pexResponseSchema>
  readonly #timers = new Timers()
  #shutdown: AbortController | undefined
  #roundTimer: ReturnType<typeof setTimeout> | undefined
  readonly #stats: PeerExchangeStats = emptyStats()
  /** Serving-side fixed-window request counters, keyed by peer. */
  readonly #served = new Map<string, { windowStart: number; count: number }>()
  /** Peers we are asking right now (no second concurrent exchange with one peer). */
  readonly #asking = new Set<string>()
  readonly #dialing = new Set<string>()
  /** Peers whose last dial failed: the backoff reached, and when they may be dialled again. */
  readonly #dialFailures = new Map<string, { backoff: IBackoff<unknown>; retryAt: number }>()
  #dialPass: Promise<void> | undefined
  /**
   * Envelopes (as received, base64) already verified and stored, with when to check them again.
   * Every exchange returns mostly the same records: verifying their signatures again (here and
   * in the peer store) was most of an idle network's CPU (a 40-node network: ~45 % of it).
   */
  readonly #consumed = new Map<string, number>()
  #dialPassAgain = false

  constructor(components: PeerExchangeComponents, init: PeerExchangeInit) {
    super()
    const parsed = parseInit(InitSchema, init, 'peerExchange')
    this.#components = components
    this.#log = components.logger.forComponent('vain:discovery:pex')
    this.protocol = parsed.protocol ?? PEX_PROTOCOL
    this.#init = {
      intervalMs: parsed.intervalMs ?? 60_000,
      jitter: parsed.jitter ?? 0.2,
      peersPerRound: parsed.peersPerRound ?? 3,
      exchangeOnIdentify: parsed.exchangeOnIdentify ?? true,
      maxConcurrentExchanges: parsed.maxConcurrentExchanges ?? 4,
      targetPeers: parsed.targetPeers ?? 20,
      dialConcurrency: parsed.dialConcurrency ?? 4,
      dialTimeoutMs: parsed.dialTimeoutMs ?? 10_000,
      maxRecordsPerResponse: parsed.maxRecordsPerResponse ?? 50,
      maxMessageBytes: parsed.maxMessageBytes ?? 256 * 1024,
      requestTimeoutMs: parsed.requestTimeoutMs ?? 10_000,
      rateLimit: parsed.rateLimit ?? { requests: 10, windowMs: 60_000 },
      maxInboundStreams: parsed.maxInboundStreams ?? 4,
      maxOutboundStreams: parsed.maxOutboundStreams ?? 4,
      shareOnlyTagged: parsed.shareOnlyTagged,
    }
    this.#responseSchema = pexResponseSchema(this.#init.maxRecordsPerResponse)
  }

  readonly [peerDiscoverySymbol]: PeerDiscovery = this
  readonly [Symbol.toStringTag] = '@vain/net/peer-exchange'
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery', '@vain/peer-exchange']
  readonly [serviceDependencies]: string[] = ['@libp2p/identify']

  get stats(): Readonly<PeerExchangeStats> {
    return { ...this.#stats }
  }

  isStarted(): boolean {
    return this.#shutdown !== undefined
  }

  async start(): Promise<void> {
    if (this.#shutdown !== undefined) return
    this.#shutdown = new AbortController()
    setMaxListeners(Infinity, this.#shutdown.signal)
    Object.assign(this.#stats, emptyStats())
    await this.#components.registrar.handle(
      this.protocol,
      (stream, connection) => this.#handleRequest(stream, connection),
      {
        maxInboundStreams: this.#init.maxInboundStreams,
        maxOutboundStreams: this.#init.maxOutboundStreams,
        runOnLimitedConnection: false,
      },
    )
    this.#components.events.addEventListener('peer:identify', this.#onIdentify)
    this.#components.events.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#scheduleRound()
  }

  async stop(): Promise<void> {
    if (this.#shutdown === undefined) return
    this.#shutdown.abort(new NotStartedError('peer exchange stopped'))
    this.#shutdown = undefined
    this.#timers.clearAll()
    this.#consumed.clear()
    this.#roundTimer = undefined
    this.#components.events.removeEventListener('peer:identify', this.#onIdentify)
    this.#components.events.removeEventListener('peer:disconnect', this.#onDisconnect)
    await this.#components.registrar.unhandle(this.protocol)
    this.#served.clear()
    this.#asking.clear()
    this.#dialFailures.clear()
    await this.#dialPass?.catch(() => {})
  }

  async exchange(peer: PeerId, options: AbortOptions = {}): Promise<ExchangeResult> {
    const shutdown = this.#shutdown
    if (shutdown === undefined) throw new NotStartedError('peer exchange is not started')
    const signal = timeoutSignal(this.#init.requestTimeoutMs, options.signal, shutdown.signal)
    const key = peer.toString()
    this.#asking.add(key)
    let stream: Stream | undefined
    try {
      const conn =
        this.#components.connectionManager.getConnections(peer).find((c) => c.status === 'open') ??
        (await this.#components.connectionManager.openConnection(peer, { signal }))
      stream = await conn.newStream(this.protocol, { signal })
      const lp = lpStream(stream, { maxDataLength: this.#init.maxMessageBytes })
      await lp.write(encodeMessage({ v: PEX_VERSION, max: this.#init.maxRecordsPerResponse }), { signal })
      const response = await readMessage(lp, this.#responseSchema, {
        maxBytes: this.#init.maxMessageBytes,
        label: this.protocol,
        signal,
      })
      await stream.close({ signal }).catch(() => {})
      if ('error' in response) {
        const { name, message, retryAfterMs } = response.error
        if (name === 'RateLimitedError') throw new RateLimitedError(`${key}: ${message}`, retryAfterMs ?? 0)
        throw new RemoteError(name, message)
      }
      const result = await this.#consumeRecords(peer, response.records, signal)
      this.#stats.exchanges++
      this.safeDispatchEvent('exchange', { detail: result })
      this.#requestDialPass()
      return result
    } catch (err) {
      this.#stats.exchangeFailures++
      if (stream !== undefined && stream.status === 'open') stream.abort(asError(err))
      throw err
    } finally {
      this.#asking.delete(key)
    }
  }

  // ---------------------------------------------------------------- serving side

  async #handleRequest(stream: Stream, connection: Connection): Promise<void> {
    const remote = connection.remotePeer
    const shutdown = this.#shutdown
    if (shutdown === undefined) {
      stream.abort(new NotStartedError('peer exchange stopped'))
      return
    }
    const signal = timeoutSignal(this.#init.requestTimeoutMs, shutdown.signal)
    const lp = lpStream(stream, { maxDataLength: this.#init.maxMessageBytes })
    try {
      const retryAfterMs = this.#takeServeToken(remote.toString())
      if (retryAfterMs > 0) {
        this.#stats.requestsRateLimited++
        const error = new RateLimitedError('too many peer-exchange requests', retryAfterMs)
        this.safeDispatchEvent('request:error', { detail: { peer: remote, error } })
        await lp.write(
          encodeMessage({ v: PEX_VERSION, error: { name: error.name, message: error.message, retryAfterMs } }),
          { signal },
        )
        await stream.close({ signal })
        return
      }
      const request = await readMessage(lp, PexRequest, {
        maxBytes: this.#init.maxMessageBytes,
        label: this.protocol,
        signal,
      })
      const max = Math.min(request.max, this.#init.maxRecordsPerResponse)
      const records = await this.#selectRecords(remote, max, signal)
      await lp.write(encodeMessage({ v: PEX_VERSION, records }), { signal })
      await stream.close({ signal })
      this.#stats.requestsServed++
    } catch (err) {
      const malformed = err instanceof InvalidMessageError || err instanceof MessageTooLargeError
      if (malformed) {
        this.#stats.malformedRequests++
        // tell the asker why, best effort, then drop only this stream
        await lp
          .write(encodeMessage({ v: PEX_VERSION, error: { name: err.name, message: err.message } }), { signal })
          .catch(() => {})
      }
      if (isVainNetError(err)) this.safeDispatchEvent('request:error', { detail: { peer: remote, error: err } })
      this.#log('request from %p failed - %e', remote, err)
      if (malformed) {
        await stream.close({ signal: timeoutSignal(1_000) }).catch(() => stream.abort(err))
      } else {
        stream.abort(asError(err))
      }
    }
  }

  /** 0 if the peer may be served now, else ms until its window resets. */
  #takeServeToken(peer: string): number {
    const now = Date.now()
    const { requests, windowMs } = this.#init.rateLimit
    if (this.#served.size > 10_000) {
      for (const [k, w] of this.#served) if (now - w.windowStart >= windowMs) this.#served.delete(k)
    }
    let window = this.#served.get(peer)
    if (window === undefined || now - window.windowStart >= windowMs) {
      window = { windowStart: now, count: 0 }
      this.#served.set(peer, window)
    }
    if (window.count >= requests) return Math.max(1, window.windowStart + windowMs - now)
    window.count++
    return 0
  }

  /** Signed records of peers we know, connected ones first, never the asker's own. */
  async #selectRecords(asker: PeerId, max: number, signal: AbortSignal): Promise<Uint8Array[]> {
    if (max === 0) return []
    const connected = connectedPeers(this.#components.connectionManager)
    const tag = this.#init.shareOnlyTagged
    const peers = await this.#components.peerStore.all({
      filters: [
        (p) => p.peerRecordEnvelope !== undefined && !p.id.equals(asker) && (tag === undefined || p.tags.has(tag)),
      ],
      signal,
    })
    const live = shuffled(peers.filter((p) => connected.has(p.id.toString())))
    const rest = shuffled(peers.filter((p) => !connected.has(p.id.toString())))
    const out: Uint8Array[] = []
    let bytes = 64
    for (const peer of [...live, ...rest]) {
      const envelope = peer.peerRecordEnvelope as Uint8Array
      // keep the answer under the message limit (CBOR adds a few bytes per item)
      if (bytes + envelope.byteLength + 8 > this.#init.maxMessageBytes) break
      out.push(envelope)
      bytes += envelope.byteLength + 8
      if (out.length >= max) break
    }
    return out
  }

  // ---------------------------------------------------------------- asking side

  async #consumeRecords(from: PeerId, records: Uint8Array[], signal: AbortSignal): Promise<ExchangeResult> {
    const result: ExchangeResult = { from, received: records.length, accepted: 0, known: 0, invalid: 0, discovered: [] }
    const seen = new Set<string>()
    const now = Date.now()
    const connected = connectedPeers(this.#components.connectionManager)
    for (const bytes of records) {
      // the very same bytes were verified and stored a moment ago: nothing new in them
      const envelopeKey = bytesToString(bytes, 'base64')
      if ((this.#consumed.get(envelopeKey) ?? 0) > now) {
        result.known++
        continue
      }
      // a peer we are connected to told us its own record (identify): a second-hand copy adds
      // nothing, and every identify signs a new one, so these would all be checked as "newer"
      const signer = recordSigner(bytes)
      if (signer !== undefined && (connected.has(signer.toString()) || signer.equals(this.#components.peerId))) {
        result.known++
        continue
      }
      let record: Awaited<ReturnType<typeof verifySignedPeerRecord>>
      try {
        record = await verifySignedPeerRecord(bytes)
      } catch (err) {
        result.invalid++
        this.#log('dropped invalid record from %p - %e', from, err)
        continue
      }
      const key = record.peerId.toString()
      if (record.peerId.equals(this.#components.peerId) || seen.has(key)) {
        result.known++
        continue
      }
      seen.add(key)
      let updated: boolean
      try {
        updated = await this.#components.peerStore.consumePeerRecord(bytes, {
          expectedPeer: record.peerId,
          signal,
        })
      } catch (err) {
        this.#log.error('could not store record of %p - %e', record.peerId, err)
        continue
      }
      this.#rememberConsumed(envelopeKey, now)
      if (!updated) {
        result.known++
        continue
      }
      result.accepted++
      const info: PeerInfo = { id: record.peerId, multiaddrs: record.multiaddrs }
      result.discovered.push(info)
      this.safeDispatchEvent('peer', { detail: info })
    }
    this.#stats.recordsReceived += result.received
    this.#stats.recordsAccepted += result.accepted
    this.#stats.invalidRecords += result.invalid
    return result
  }

  #rememberConsumed(envelopeKey: string, now: number): void {
    this.#consumed.delete(envelopeKey)
    // checked again after a while (the peer store may have dropped the peer meanwhile)
    this.#consumed.set(envelopeKey, now + Math.max(60_000, 5 * this.#init.intervalMs))
    for (const key of this.#consumed.keys()) {
      if (this.#consumed.size <= CONSUMED_CACHE_SIZE) break
      this.#consumed.delete(key)
    }
  }

  #scheduleRound(): void {
    const shutdown = this.#shutdown
    if (shutdown === undefined) return
    this.#timers.clear(this.#roundTimer)
    this.#roundTimer = this.#timers.set(
      () => {
        // reschedule only within the same run (not after a stop/start during the round)
        void this.#round().finally(() => {
          if (this.#shutdown === shutdown) this.#scheduleRound()
        })
      },
      withJitter(this.#init.intervalMs, this.#init.jitter),
    )
  }

  /** One periodic round: ask a few random connected PEX peers, then top up connections. */
  async #round(): Promise<void> {
    const shutdown = this.#shutdown
    if (shutdown === undefined) return
    const candidates: PeerId[] = []
    const seen = new Set<string>()
    for (const conn of this.#components.connectionManager.getConnections()) {
      const key = conn.remotePeer.toString()
      if (conn.status !== 'open' || seen.has(key) || this.#asking.has(key)) continue
      seen.add(key)
      candidates.push(conn.remotePeer)
    }
    const chosen: PeerId[] = []
    for (const peer of shuffled(candidates)) {
      if (chosen.length >= this.#init.peersPerRound) break
      if (await this.#speaksPex(peer, shutdown.signal)) chosen.push(peer)
    }
    await Promise.allSettled(
      chosen.map((peer) => this.exchange(peer).catch((err) => this.#log('exchange with %p failed - %e', peer, err))),
    )
    this.#requestDialPass()
  }

  async #speaksPex(peer: PeerId, signal: AbortSignal): Promise<boolean> {
    try {
      const stored = await this.#components.peerStore.get(peer, { signal })
      return stored.protocols.includes(this.protocol)
    } catch {
      return false
    }
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (!this.#init.exchangeOnIdentify || this.#shutdown === undefined) return
    const { peerId, protocols } = evt.detail
    if (!protocols.includes(this.protocol) || this.#asking.has(peerId.toString())) return
    // under load the periodic round covers the peers skipped here
    if (this.#asking.size >= this.#init.maxConcurrentExchanges) return
    void this.exchange(peerId).catch((err) => this.#log('exchange with %p failed - %e', peerId, err))
  }

  readonly #onDisconnect = (): void => {
    // a lost connection may leave us below target
    this.#requestDialPass()
  }

  // ---------------------------------------------------------------- dialling

  #requestDialPass(): void {
    if (this.#shutdown === undefined) return
    if (this.#dialPass !== undefined) {
      this.#dialPassAgain = true
      return
    }
    this.#dialPass = this.#dialTowardsTarget()
      .catch((err) => this.#log.error('dial pass failed - %e', err))
      .finally(() => {
        this.#dialPass = undefined
        if (this.#dialPassAgain) {
          this.#dialPassAgain = false
          this.#requestDialPass()
        }
      })
  }

  /** Dial known, unconnected peers while below `targetPeers`, `dialConcurrency` at a time. */
  async #dialTowardsTarget(): Promise<void> {
    const shutdown = this.#shutdown
    if (shutdown === undefined) return
    const connected = connectedPeers(this.#components.connectionManager)
    let needed = this.#init.targetPeers - connected.size - this.#dialing.size
    if (needed <= 0) return
    const now = Date.now()
    const self = this.#components.peerId
    const peers = await this.#components.peerStore.all({
      filters: [
        (p) => {
          const key = p.id.toString()
          if (p.id.equals(self) || connected.has(key) || this.#dialing.has(key)) return false
          if (p.addresses.length === 0) return false
          const failure = this.#dialFailures.get(key)
          return failure === undefined || failure.retryAt <= now
        },
      ],
      signal: shutdown.signal,
    })
    // peers with signed (certified) addresses first: they came from records
    const certified = shuffled(peers.filter((p) => p.addresses.some((a) => a.isCertified)))
    const other = shuffled(peers.filter((p) => !p.addresses.some((a) => a.isCertified)))
    const queue = [...certified, ...other]
    const workers: Array<Promise<void>> = []
    const next = async (): Promise<void> => {
      while (needed > 0 && queue.length > 0 && this.#shutdown === shutdown) {
        const peer = queue.shift()
        if (peer === undefined) return
        needed--
        await this.#dial(peer.id, shutdown.signal)
      }
    }
    for (let i = 0; i < this.#init.dialConcurrency; i++) workers.push(next())
    await Promise.all(workers)
  }

  async #dial(peer: PeerId, shutdownSignal: AbortSignal): Promise<void> {
    const key = peer.toString()
    this.#dialing.add(key)
    this.#stats.dialsStarted++
    try {
      await this.#components.connectionManager.openConnection(peer, {
        signal: timeoutSignal(this.#init.dialTimeoutMs, shutdownSignal),
      })
      this.#dialFailures.delete(key)
    } catch (err) {
      this.#stats.dialsFailed++
      const backoff = (this.#dialFailures.get(key)?.backoff ?? DIAL_BACKOFF).next(undefined)
      this.#dialFailures.set(key, { backoff, retryAt: Date.now() + backoff.duration })
      this.#log('dial to %p failed - %e', peer, err)
    } finally {
      this.#dialing.delete(key)
    }
  }
}

function emptyStats(): PeerExchangeStats {
  return {
    exchanges: 0,
    exchangeFailures: 0,
    recordsReceived: 0,
    recordsAccepted: 0,
    invalidRecords: 0,
    requestsServed: 0,
    requestsRateLimited: 0,
    malformedRequests: 0,
    dialsStarted: 0,
    dialsFailed: 0,
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err))
}

/**
 * Peer exchange service factory. Registers `/vain/pex/1.0.0`; asks connected peers for the
 * signed peer records they know (right after identify and every `intervalMs` ± jitter), verifies
 * each record's signature and signer, stores valid ones in the peer store, emits `peer`
 * (PeerDiscovery) for new ones, and dials them while fewer than `targetPeers` are connected.
 * Needs the identify service (records come from identify). Throws {@link ConfigError} on bad
 * options.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { identify } from '@libp2p/identify'
 * import { peerExchange } from '@vain/net'
 *
 * const node = await createLibp2p({
 *   // ...transports, encrypters, muxers
 *   services: {
 *     identify: identify(),
 *     pex: peerExchange({ targetPeers: 20, intervalMs: 60_000 }),
 *   },
 * })
 * node.services.pex.addEventListener('peer', (evt) => console.log('learned', evt.detail.id))
 * ```
 */
export function peerExchange(init: PeerExchangeInit = {}): (components: PeerExchangeComponents) => PeerExchange {
  parseInit(InitSchema, init, 'peerExchange')
  return (components) => new DefaultPeerExchange(components, init)
}
