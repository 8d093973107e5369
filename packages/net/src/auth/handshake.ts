/**
 * The vAIn application handshake as a libp2p service: on every new connection the dialer
 * proves its key over the listener's nonce and vice versa, and both exchange signed node
 * descriptors. Peers that fail, or that do not complete the handshake within a grace period,
 * are disconnected and denied for a while.
 * @module
 */
import { randomBytes } from 'node:crypto'
import type {
  AbortOptions,
  ComponentLogger,
  Connection,
  Libp2pEvents,
  Logger,
  PeerId,
  PrivateKey,
  Startable,
  Stream,
  StreamHandler,
  StreamHandlerOptions,
} from '@libp2p/interface'
import { serviceCapabilities } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { ExponentialBackoff, type IBackoff, noJitterGenerator } from 'cockatiel'
import type { TypedEventTarget } from 'main-event'
import { setMaxListeners, TypedEventEmitter } from 'main-event'
import type { z } from 'zod'
import {
  HandshakeError,
  InvalidMessageError,
  NotStartedError,
  PeerDeniedError,
  TimeoutError,
  UnsupportedVersionError,
  VainNetError,
} from '../errors.js'
import { decodeMessage, encodeMessage } from '../wire/index.js'
import { PeerDenyList } from './deny-list.js'
import {
  createNodeDescriptor,
  encodeNodeDescriptor,
  type LocalDescriptorInit,
  type NodeDescriptor,
  VAIN_PROTOCOL_VERSION,
  verifyNodeDescriptor,
} from './descriptor.js'
import {
  AckSchema,
  ChallengeSchema,
  HANDSHAKE_PROTOCOL,
  HANDSHAKE_WIRE_VERSION,
  HelloSchema,
  handshakeTranscript,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  NONCE_BYTES,
  ProofSchema,
  type TranscriptRole,
} from './messages.js'

/** Longest delay a timer takes (`setTimeout` fires at once beyond it). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** Options of {@link handshake}. */
export interface HandshakeInit {
  /** What this node says about itself (peer id, protocol version and time are filled in). */
  descriptor: LocalDescriptorInit
  /**
   * Deny list shared with the node's `connectionGater` (`denyList.gater()`). Without one the
   * service keeps a private list, which closes connections but cannot refuse new ones.
   */
  denyList?: PeerDenyList
  /** How long a peer that connected to us has to complete the handshake. Default 10 s. */
  graceMs?: number
  /** Deadline of one handshake attempt. Default 5 s. */
  timeoutMs?: number
  /** Attempts (dialer side) before a peer failing with transient errors is denied. Default 3. */
  maxAttempts?: number
  /** Backoff before the 2nd attempt; doubles for each further one. Default 250 ms. */
  retryBaseMs?: number
  /** How long a rejected peer stays denied. Default: the deny list's default TTL. */
  denyTtlMs?: number
  /** How long a peer that timed out or kept failing transiently stays denied (ms). Default 30 s. */
  softDenyTtlMs?: number
  /**
   * Peers never denied for timeouts or transient failures (only disconnected), e.g. bootstrap
   * peers: when many nodes join at once the bootstrap is slow, and denying it would cut a node
   * off from the only peer it knows. Hard failures (forgery) still deny.
   */
  isProtected?: (peer: PeerId) => boolean
  /** Largest accepted |now − descriptor timestamp|. Default 5 minutes. */
  maxClockSkewMs?: number
  /** Accepted vAIn protocol versions. Default `[descriptor.protocolVersion ?? 1]`. */
  supportedProtocolVersions?: number[]
  /**
   * Extra admission policy, run after signature checks: return `false` or a reason string to
   * reject the peer (e.g. require a chain address).
   */
  authorize?: (descriptor: NodeDescriptor, peerId: PeerId) => boolean | string | Promise<boolean | string>
  /** How long a rejected connection may take to close gracefully before it is aborted. Default 2 s. */
  closeTimeoutMs?: number
  /** Clock, ms since epoch, for descriptor timestamps. Default `Date.now`. */
  now?: () => number
}

/**
 * What the service needs from libp2p. libp2p passes its components bag; tests can pass stubs.
 * (Structural subsets of `@libp2p/interface-internal`'s Registrar and ConnectionManager.)
 */
export interface HandshakeComponents {
  peerId: PeerId
  privateKey: PrivateKey
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string, options?: AbortOptions): Promise<void>
  }
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    openConnection(peer: PeerId, options?: AbortOptions): Promise<Connection>
  }
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

/** Detail of `peer:authenticated`. */
export interface PeerAuthenticatedEvent {
  peerId: PeerId
  descriptor: NodeDescriptor
}

/** Detail of `peer:rejected`. */
export interface PeerRejectedEvent {
  peerId: PeerId
  /** Human-readable reason (the error's message). */
  reason: string
  /** The typed error: HandshakeError, InvalidMessageError, UnsupportedVersionError, TimeoutError… */
  error: VainNetError
}

/** Events of the handshake service. */
export interface HandshakeEvents {
  'peer:authenticated': CustomEvent<PeerAuthenticatedEvent>
  'peer:rejected': CustomEvent<PeerRejectedEvent>
}

/** The handshake service, found at `node.services.handshake`. */
export interface HandshakeService extends TypedEventTarget<HandshakeEvents>, Startable {
  /** The protocol id, `/vain/handshake/1.0.0`. */
  readonly protocol: string
  /** The deny list the service writes to. */
  readonly denyList: PeerDenyList
  /** Whether `peer` completed the handshake on its current connections. */
  isAuthenticated(peer: PeerId): boolean
  /** The verified descriptor of an authenticated peer. */
  descriptor(peer: PeerId): NodeDescriptor | undefined
  /** All authenticated peers and their descriptors. */
  authenticatedPeers(): PeerAuthenticatedEvent[]
  /**
   * Resolve with the peer's descriptor once it is authenticated: at once if it already is,
   * otherwise joining the running handshake or starting one (dialling if not connected).
   *
   * @throws {PeerDeniedError} when the peer is denied
   * @throws {HandshakeError} (or a more specific typed error) when the handshake fails
   * @throws {TimeoutError} when `options.signal` aborts first
   * @throws {NotStartedError} when the service is not running
   */
  authenticate(peer: PeerId, options?: AbortOptions): Promise<NodeDescriptor>
}

/**
 * Create the vAIn handshake service, js-libp2p style: `handshake(init)` goes in the
 * `services` map of `createLibp2p`, which calls the returned function with its components.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { PeerDenyList, handshake } from '@vain/net'
 *
 * const denyList = new PeerDenyList()
 * const node = await createLibp2p({
 *   privateKey,
 *   connectionGater: denyList.gater(),
 *   services: {
 *     identify: identify(),
 *     handshake: handshake({
 *       denyList,
 *       descriptor: { softwareVersion: 'vain/0.1.0', roles: ['trainer'], capabilities: ['fl/mnist'] },
 *     }),
 *   },
 * })
 * node.services.handshake.addEventListener('peer:authenticated', (evt) => {
 *   console.log(evt.detail.peerId.toString(), evt.detail.descriptor.roles)
 * })
 * const remote = await node.services.handshake.authenticate(otherPeerId, { signal: AbortSignal.timeout(10_000) })
 * ```
 */
export function handshake(init: HandshakeInit): (components: HandshakeComponents) => HandshakeService {
  return (components) => new VainHandshake(components, init)
}

/** Errors after which retrying cannot help. */
const PERMANENT = new Set([
  'HandshakeError',
  'InvalidMessageError',
  'MessageTooLargeError',
  'UnsupportedVersionError',
  'PeerDeniedError',
])

interface Classified {
  error: VainNetError
  transient: boolean
}

interface Deadline {
  signal: AbortSignal
  timedOut(): boolean
  dispose(): void
}

class VainHandshake extends TypedEventEmitter<HandshakeEvents> implements HandshakeService {
  readonly protocol = HANDSHAKE_PROTOCOL
  readonly denyList: PeerDenyList
  readonly [serviceCapabilities]: string[] = ['@vain/handshake']
  readonly [Symbol.toStringTag] = '@vain/handshake'

  readonly #components: HandshakeComponents
  readonly #init: HandshakeInit
  readonly #log: Logger
  readonly #graceMs: number
  readonly #softDenyTtlMs: number
  readonly #timeoutMs: number
  readonly #maxAttempts: number
  /** Waits between dialer-side attempts: `retryBaseMs`, doubling, no jitter. */
  readonly #retryBackoff: ExponentialBackoff<number>
  readonly #closeTimeoutMs: number
  readonly #maxClockSkewMs: number
  readonly #supportedVersions: readonly number[]
  readonly #now: () => number

  #started = false
  #shutdown = new AbortController()
  readonly #authenticated = new Map<string, PeerAuthenticatedEvent>()
  readonly #initiators = new Map<string, Promise<NodeDescriptor>>()
  readonly #responders = new Map<string, Promise<void>>()
  readonly #graceTimers = new Map<string, ReturnType<typeof setTimeout>>()
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()

  constructor(components: HandshakeComponents, init: HandshakeInit) {
    super()
    this.#components = components
    this.#init = init
    this.#log = components.logger.forComponent('vain:handshake')
    this.denyList = init.denyList ?? new PeerDenyList()
    this.#graceMs = init.graceMs ?? 10_000
    this.#softDenyTtlMs = init.softDenyTtlMs ?? 30_000
    this.#timeoutMs = init.timeoutMs ?? 5_000
    this.#maxAttempts = Math.max(1, init.maxAttempts ?? 3)
    this.#retryBackoff = new ExponentialBackoff({
      initialDelay: init.retryBaseMs ?? 250,
      maxDelay: MAX_TIMER_MS,
      generator: noJitterGenerator,
    })
    this.#closeTimeoutMs = init.closeTimeoutMs ?? 2_000
    this.#maxClockSkewMs = init.maxClockSkewMs ?? 5 * 60_000
    this.#supportedVersions = init.supportedProtocolVersions ?? [
      init.descriptor.protocolVersion ?? VAIN_PROTOCOL_VERSION,
    ]
    this.#now = init.now ?? Date.now
    // fail fast on a bad local descriptor (throws HandshakeError)
    createNodeDescriptor(init.descriptor, components.peerId, this.#now())
    this.handleStream = this.handleStream.bind(this)
    this.onConnectionOpen = this.onConnectionOpen.bind(this)
    this.onPeerDisconnect = this.onPeerDisconnect.bind(this)
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#shutdown = new AbortController()
    setMaxListeners(Infinity, this.#shutdown.signal)
    await this.#components.registrar.handle(HANDSHAKE_PROTOCOL, this.handleStream, {
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
      // peers reached through a relay must be able to authenticate too
      runOnLimitedConnection: true,
    })
    this.#components.events.addEventListener('connection:open', this.onConnectionOpen)
    this.#components.events.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.#started = true
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    this.#components.events.removeEventListener('connection:open', this.onConnectionOpen)
    this.#components.events.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.#shutdown.abort(new NotStartedError('handshake service stopped'))
    for (const timer of this.#graceTimers.values()) clearTimeout(timer)
    this.#graceTimers.clear()
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
    // in-flight handshakes fail fast on the aborted signal; they are not awaited here
    await this.#components.registrar.unhandle(HANDSHAKE_PROTOCOL).catch(() => undefined)
    this.#authenticated.clear()
    this.#initiators.clear()
    this.#responders.clear()
  }

  isAuthenticated(peer: PeerId): boolean {
    return this.#authenticated.has(peer.toString())
  }

  descriptor(peer: PeerId): NodeDescriptor | undefined {
    return this.#authenticated.get(peer.toString())?.descriptor
  }

  authenticatedPeers(): PeerAuthenticatedEvent[] {
    return [...this.#authenticated.values()]
  }

  async authenticate(peer: PeerId, options: AbortOptions = {}): Promise<NodeDescriptor> {
    if (!this.#started) throw new NotStartedError('handshake service is not started')
    const known = this.#authenticated.get(peer.toString())
    if (known !== undefined) return known.descriptor
    this.#assertNotDenied(peer)
    const signal = options.signal
    return raceAbort(
      (async () => {
        const responder = this.#responders.get(peer.toString())
        if (responder !== undefined) {
          await responder
          const done = this.#authenticated.get(peer.toString())
          if (done !== undefined) return done.descriptor
          this.#assertNotDenied(peer)
        }
        let connection = this.#openConnection(peer)
        if (connection === undefined) {
          try {
            connection = await this.#components.connectionManager.openConnection(peer, {
              signal: anySignal(this.#shutdown.signal, signal),
            })
          } catch (err) {
            if (this.denyList.isDenied(peer) || (err as Error)?.name === 'DialDeniedError') {
              throw new PeerDeniedError(`peer ${peer} is denied`, { cause: err })
            }
            throw new HandshakeError(`cannot connect to ${peer}: ${(err as Error)?.message ?? err}`, { cause: err })
          }
        }
        const done = this.#authenticated.get(peer.toString())
        if (done !== undefined) return done.descriptor
        return this.#runInitiator(peer, connection)
      })(),
      signal,
      () => new TimeoutError(`authentication of ${peer} aborted`),
    )
  }

  // --- connection events -------------------------------------------------------------------

  private onConnectionOpen(evt: CustomEvent<Connection>): void {
    if (!this.#started) return
    const connection = evt.detail
    const peer = connection.remotePeer
    const key = peer.toString()
    if (this.denyList.isDenied(peer)) {
      void this.#disconnect(peer, connection)
      return
    }
    if (this.#authenticated.has(key)) return
    if (connection.direction === 'outbound') {
      if (this.#responders.has(key)) return
      this.#runInitiator(peer, connection).catch((err) => {
        this.#log('handshake with %p failed: %s', peer, (err as Error)?.message)
      })
    } else {
      this.#startGraceTimer(peer)
    }
  }

  private onPeerDisconnect(evt: CustomEvent<PeerId>): void {
    const key = evt.detail.toString()
    const timer = this.#graceTimers.get(key)
    if (timer !== undefined) clearTimeout(timer)
    this.#graceTimers.delete(key)
    this.#authenticated.delete(key)
  }

  #startGraceTimer(peer: PeerId): void {
    const key = peer.toString()
    if (this.#graceTimers.has(key)) return
    const timer = setTimeout(() => {
      this.#graceTimers.delete(key)
      if (!this.#started || this.#authenticated.has(key) || this.#initiators.has(key)) return
      if (this.#components.connectionManager.getConnections(peer).length === 0) return
      if (this.#responders.has(key)) {
        // a handshake from this peer is under way (a loaded node is slow, not hostile): wait for it
        this.#startGraceTimer(peer)
        return
      }
      this.#reject(
        peer,
        new TimeoutError(`peer ${key} did not complete the handshake within ${this.#graceMs} ms`),
        true,
      )
    }, this.#graceMs)
    this.#graceTimers.set(key, timer)
  }

  // --- dialer side -------------------------------------------------------------------------

  #runInitiator(peer: PeerId, connection: Connection): Promise<NodeDescriptor> {
    const key = peer.toString()
    const running = this.#initiators.get(key)
    if (running !== undefined) return running
    const attempt = this.#initiate(peer, connection).finally(() => {
      if (this.#initiators.get(key) === attempt) this.#initiators.delete(key)
    })
    this.#initiators.set(key, attempt)
    return attempt
  }

  async #initiate(peer: PeerId, first: Connection): Promise<NodeDescriptor> {
    let lastError: VainNetError | undefined
    // the loop is not a cockatiel retry policy because a policy's wait cannot be cancelled, and
    // stop() must release every timer at once; the waits come from cockatiel's backoff
    let backoff: IBackoff<unknown> | undefined
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      this.#assertRunning()
      const connection = first.status === 'open' ? first : this.#openConnection(peer)
      if (connection === undefined) {
        // the peer went away: nothing to deny
        throw new HandshakeError(`no open connection to ${peer}`, { cause: lastError })
      }
      try {
        const descriptor = await this.#initiateOnce(peer, connection)
        this.#accept(peer, descriptor)
        return descriptor
      } catch (err) {
        this.#assertRunning()
        const done = this.#authenticated.get(peer.toString())
        if (done !== undefined) return done.descriptor
        const { error, transient } = err instanceof ClassifiedError ? err.classified : classify(err, false)
        if (!transient) {
          this.#reject(peer, error)
          throw error
        }
        lastError = error
        this.#log('handshake attempt %d/%d with %p failed: %s', attempt, this.#maxAttempts, peer, error.message)
        if (attempt < this.#maxAttempts) {
          backoff = (backoff ?? this.#retryBackoff).next(undefined)
          await this.#sleep(backoff.duration)
        }
      }
    }
    if (this.#openConnection(peer) === undefined) {
      throw new HandshakeError(`no open connection to ${peer}`, { cause: lastError })
    }
    const error = new HandshakeError(
      `handshake with ${peer} failed after ${this.#maxAttempts} attempts: ${lastError?.message ?? 'unknown error'}`,
      { cause: lastError },
    )
    // only transient failures got here: deny briefly (back off), not for the full deny period
    this.#reject(peer, error, true)
    throw error
  }

  async #initiateOnce(peer: PeerId, connection: Connection): Promise<NodeDescriptor> {
    const deadline = this.#deadline(this.#timeoutMs)
    const options = { signal: deadline.signal }
    let stream: Stream | undefined
    try {
      stream = await connection.newStream(HANDSHAKE_PROTOCOL, { ...options, runOnLimitedConnection: true })
      const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE_BYTES })
      const nonce = randomBytes(NONCE_BYTES)
      await lp.write(encodeMessage({ t: 'hello', v: HANDSHAKE_WIRE_VERSION, nonce }), options)
      const challenge = decode((await lp.read(options)).subarray(), ChallengeSchema)
      if (challenge.t === 'error') throw new HandshakeError(`peer ${peer} refused the handshake: ${challenge.reason}`)
      let descriptor: NodeDescriptor
      try {
        descriptor = this.#verifyDescriptor(challenge.descriptor, peer)
        await this.#verifySignature(
          peer,
          'responder',
          nonce,
          this.#components.peerId,
          challenge.descriptor,
          challenge.sig,
        )
      } catch (err) {
        await lp.write(encodeMessage({ t: 'error', reason: truncate((err as Error).message) }), options).catch(() => {})
        throw err
      }
      const ours = this.#localDescriptorBytes()
      const sig = await this.#components.privateKey.sign(
        handshakeTranscript('initiator', challenge.nonce, peer.toMultihash().bytes, ours),
      )
      await lp.write(encodeMessage({ t: 'proof', descriptor: ours, sig }), options)
      const ack = decode((await lp.read(options)).subarray(), AckSchema)
      if (ack.t === 'error') throw new HandshakeError(`peer ${peer} rejected our handshake: ${ack.reason}`)
      await stream.close(options).catch(() => undefined)
      return descriptor
    } catch (err) {
      const classified = classify(err, deadline.timedOut())
      stream?.abort(classified.error)
      throw new ClassifiedError(classified)
    } finally {
      deadline.dispose()
    }
  }

  // --- listener side -----------------------------------------------------------------------

  private handleStream(stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer
    const key = peer.toString()
    if (!this.#started) {
      stream.abort(new NotStartedError('handshake service is not started'))
      return
    }
    if (this.denyList.isDenied(peer)) {
      stream.abort(new PeerDeniedError(`peer ${key} is denied`))
      void this.#disconnect(peer, connection)
      return
    }
    if (this.#responders.has(key)) {
      stream.abort(new HandshakeError(`a handshake with ${key} is already in progress`))
      return
    }
    const work = this.#respond(stream, peer).finally(() => {
      if (this.#responders.get(key) === work) this.#responders.delete(key)
    })
    this.#responders.set(key, work)
  }

  async #respond(stream: Stream, peer: PeerId): Promise<void> {
    const deadline = this.#deadline(this.#timeoutMs)
    const options = { signal: deadline.signal }
    const lp = lpStream(stream, { maxDataLength: MAX_HANDSHAKE_MESSAGE_BYTES })
    let failureSent = false
    const sendFailure = async (reason: string): Promise<void> => {
      failureSent = true
      await lp.write(encodeMessage({ t: 'error', reason: truncate(reason) }), options).catch(() => undefined)
    }
    try {
      const hello = decode((await lp.read(options)).subarray(), HelloSchema)
      if (hello.v !== HANDSHAKE_WIRE_VERSION) {
        const err = new UnsupportedVersionError(
          `peer ${peer} speaks handshake version ${hello.v}; this node speaks ${HANDSHAKE_WIRE_VERSION}`,
        )
        await sendFailure(err.message)
        throw err
      }
      const nonce = randomBytes(NONCE_BYTES)
      const ours = this.#localDescriptorBytes()
      const sig = await this.#components.privateKey.sign(
        handshakeTranscript('responder', hello.nonce, peer.toMultihash().bytes, ours),
      )
      await lp.write(encodeMessage({ t: 'challenge', nonce, descriptor: ours, sig }), options)
      const proof = decode((await lp.read(options)).subarray(), ProofSchema)
      if (proof.t === 'error') {
        failureSent = true
        throw new HandshakeError(`peer ${peer} refused the handshake: ${proof.reason}`)
      }
      const descriptor = this.#verifyDescriptor(proof.descriptor, peer)
      await this.#verifySignature(peer, 'initiator', nonce, this.#components.peerId, proof.descriptor, proof.sig)
      await this.#authorize(descriptor, peer)
      await lp.write(encodeMessage({ t: 'ack' }), options)
      this.#accept(peer, descriptor)
      await stream.close(options).catch(() => undefined)
    } catch (err) {
      const { error, transient } = classify(err, deadline.timedOut())
      if (!this.#started) {
        stream.abort(error)
        return
      }
      if (!transient) {
        if (!failureSent) await sendFailure(error.message)
        this.#reject(peer, error)
      } else {
        this.#log('inbound handshake from %p failed: %s', peer, error.message)
        stream.abort(error)
      }
    } finally {
      deadline.dispose()
    }
  }

  // --- shared ------------------------------------------------------------------------------

  #localDescriptorBytes(): Uint8Array {
    return encodeNodeDescriptor(createNodeDescriptor(this.#init.descriptor, this.#components.peerId, this.#now()))
  }

  #verifyDescriptor(bytes: Uint8Array, peer: PeerId): NodeDescriptor {
    return verifyNodeDescriptor(bytes, {
      peerId: peer,
      now: this.#now(),
      maxClockSkewMs: this.#maxClockSkewMs,
      supportedProtocolVersions: this.#supportedVersions,
    })
  }

  async #verifySignature(
    peer: PeerId,
    role: TranscriptRole,
    nonce: Uint8Array,
    self: PeerId,
    descriptor: Uint8Array,
    sig: Uint8Array,
  ): Promise<void> {
    const publicKey = peer.publicKey
    if (publicKey === undefined) {
      throw new HandshakeError(`peer id ${peer} does not embed a public key; cannot verify its handshake`)
    }
    let valid = false
    try {
      valid = await publicKey.verify(handshakeTranscript(role, nonce, self.toMultihash().bytes, descriptor), sig)
    } catch {
      valid = false
    }
    if (!valid) throw new HandshakeError(`invalid handshake signature from ${peer}`)
  }

  async #authorize(descriptor: NodeDescriptor, peer: PeerId): Promise<void> {
    if (this.#init.authorize === undefined) return
    let verdict: boolean | string
    try {
      verdict = await this.#init.authorize(descriptor, peer)
    } catch (cause) {
      throw new HandshakeError(`authorize() failed for ${peer}: ${(cause as Error)?.message ?? cause}`, { cause })
    }
    if (verdict === true) return
    throw new HandshakeError(`peer ${peer} not authorized${typeof verdict === 'string' ? `: ${verdict}` : ''}`)
  }

  #accept(peer: PeerId, descriptor: NodeDescriptor): void {
    if (!this.#started) return
    const key = peer.toString()
    const timer = this.#graceTimers.get(key)
    if (timer !== undefined) clearTimeout(timer)
    this.#graceTimers.delete(key)
    const isNew = !this.#authenticated.has(key)
    const detail = { peerId: peer, descriptor }
    this.#authenticated.set(key, detail)
    if (isNew) {
      this.#log('authenticated %p', peer)
      this.safeDispatchEvent('peer:authenticated', { detail })
    }
  }

  /**
   * Deny and disconnect a peer. `soft` (timeouts, transient failures exhausted) denies only for
   * `softDenyTtlMs` — a back-off for slow or overloaded peers; hard failures (bad signature, wrong
   * key, unsupported version) deny for `denyTtlMs`.
   */
  #reject(peer: PeerId, error: VainNetError, soft = false): void {
    if (!this.#started) return
    if (soft && this.#init.isProtected?.(peer) === true) {
      this.#log('handshake with protected peer %p failed, disconnecting without deny: %s', peer, error.message)
      this.#authenticated.delete(peer.toString())
      void this.#disconnect(peer)
      return
    }
    const key = peer.toString()
    const timer = this.#graceTimers.get(key)
    if (timer !== undefined) clearTimeout(timer)
    this.#graceTimers.delete(key)
    this.#authenticated.delete(key)
    const alreadyDenied = this.denyList.isDenied(peer)
    this.denyList.deny(peer, `${error.name}: ${error.message}`, soft ? this.#softDenyTtlMs : this.#init.denyTtlMs)
    if (!alreadyDenied) {
      this.#log('rejected %p: %s', peer, error.message)
      this.safeDispatchEvent('peer:rejected', { detail: { peerId: peer, reason: error.message, error } })
    }
    void this.#disconnect(peer)
  }

  async #disconnect(peer: PeerId, extra?: Connection): Promise<void> {
    const connections = new Set(this.#components.connectionManager.getConnections(peer))
    if (extra !== undefined) connections.add(extra)
    await Promise.all(
      [...connections].map(async (connection) => {
        if (connection.status !== 'open') return
        const deadline = this.#deadline(this.#closeTimeoutMs)
        try {
          await connection.close({ signal: deadline.signal })
        } catch (err) {
          connection.abort(err instanceof Error ? err : new PeerDeniedError(`peer ${peer} is denied`))
        } finally {
          deadline.dispose()
        }
      }),
    )
  }

  #openConnection(peer: PeerId): Connection | undefined {
    return this.#components.connectionManager.getConnections(peer).find((c) => c.status === 'open')
  }

  #assertRunning(): void {
    if (!this.#started) throw new NotStartedError('handshake service stopped')
  }

  #assertNotDenied(peer: PeerId): void {
    const entry = this.denyList.get(peer)
    if (entry !== undefined) throw new PeerDeniedError(`peer ${peer} is denied: ${entry.reason}`)
  }

  /** An abort signal firing after `ms` or on stop(); its timer is tracked so stop() clears it. */
  #deadline(ms: number): Deadline {
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      timedOut = true
      controller.abort(new TimeoutError(`handshake step timed out after ${ms} ms`))
    }, ms)
    this.#timers.add(timer)
    const signal = anySignal(this.#shutdown.signal, controller.signal)
    return {
      signal,
      timedOut: () => timedOut,
      dispose: () => {
        clearTimeout(timer)
        this.#timers.delete(timer)
      },
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const signal = this.#shutdown.signal
      if (signal.aborted) {
        reject(new NotStartedError('handshake service stopped'))
        return
      }
      const onAbort = (): void => {
        clearTimeout(timer)
        this.#timers.delete(timer)
        reject(new NotStartedError('handshake service stopped'))
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer)
        signal.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      this.#timers.add(timer)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}

/** Carries a classification out of one attempt. */
class ClassifiedError extends Error {
  readonly classified: Classified
  constructor(classified: Classified) {
    super(classified.error.message)
    this.classified = classified
  }
}

function decode<S extends z.ZodType>(bytes: Uint8Array, schema: S): z.output<S> {
  return decodeMessage(bytes, schema, { maxBytes: MAX_HANDSHAKE_MESSAGE_BYTES, label: HANDSHAKE_PROTOCOL })
}

/** Map any error from a handshake attempt to a typed error, and say whether a retry may help. */
function classify(err: unknown, timedOut: boolean): Classified {
  if (err instanceof ClassifiedError) return err.classified
  if (err instanceof NotStartedError) return { error: err, transient: false }
  if (err instanceof VainNetError && PERMANENT.has(err.name)) return { error: err, transient: false }
  if (timedOut) {
    return { error: new TimeoutError('handshake timed out', { cause: err }), transient: true }
  }
  if (err instanceof TimeoutError) return { error: err, transient: true }
  const name = (err as Error)?.name ?? 'Error'
  const message = (err as Error)?.message ?? String(err)
  switch (name) {
    case 'InvalidDataLengthError':
    case 'InvalidDataLengthLengthError':
    case 'InvalidMessageLengthError':
      return {
        error: new InvalidMessageError(`handshake frame rejected: ${message}`, { cause: err }),
        transient: false,
      }
    case 'UnsupportedProtocolError':
      return {
        error: new HandshakeError(`peer does not speak ${HANDSHAKE_PROTOCOL}`, { cause: err }),
        transient: false,
      }
    default:
      // stream reset, connection closed, unexpected EOF, muxer errors…
      return {
        error: new HandshakeError(`handshake stream failed: ${name}: ${message}`, { cause: err }),
        transient: true,
      }
  }
}

function anySignal(...signals: Array<AbortSignal | undefined>): AbortSignal {
  const defined = signals.filter((s): s is AbortSignal => s !== undefined)
  const signal = defined.length === 1 ? (defined[0] as AbortSignal) : AbortSignal.any(defined)
  setMaxListeners(Infinity, signal)
  return signal
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, error: () => Error): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) {
    promise.catch(() => undefined)
    return Promise.reject(error())
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(error())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

function truncate(text: string): string {
  return text.length > 500 ? `${text.slice(0, 497)}...` : text
}
