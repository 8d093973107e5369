/**
 * A typed client of a vAIn node's live feed (`GET /api/feed`): it connects, keeps its
 * subscriptions, reconnects with exponential backoff and jitter when the socket closes (a node
 * restart, a network blip), subscribes again after each reconnect, and hands out validated,
 * typed messages. In Node it uses `ws` (permessage-deflate negotiated); in a browser pass the
 * page's `WebSocket` (browsers negotiate permessage-deflate themselves).
 * @module
 */
import {
  decodeServerMessage,
  type ErrorMessage,
  type EventMessage,
  FEED_CHANNELS,
  type FeedChannel,
  FeedError,
  type HelloMessage,
  type ServerMessage,
} from './protocol.js'

/** The parts of a WebSocket the client uses (the WHATWG `WebSocket` and `ws`'s both have them). */
export interface WebSocketLike {
  readonly readyState: number
  /** The extensions the server accepted (`permessage-deflate` when negotiated). */
  readonly extensions: string
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
  addEventListener(type: 'error', listener: (event: unknown) => void): void
}

/** A WebSocket constructor: `globalThis.WebSocket` in a browser, `ws`'s `WebSocket` in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** Reconnection backoff: the n-th retry waits `min(maxMs, initialMs × factor^n)`, minus up to `jitter` of it at random. */
export interface BackoffOptions {
  /** First delay (ms). Default 250. */
  initialMs?: number
  /** Largest delay (ms). Default 30 000. */
  maxMs?: number
  /** Growth per failed attempt. Default 2. */
  factor?: number
  /** Fraction of a delay taken off at random (0: none, 1: "full jitter"). Default 0.5. */
  jitter?: number
}

/** Options of {@link FeedClient}. */
export interface FeedClientOptions {
  /** The feed's URL: `ws://127.0.0.1:8080/api/feed` (an `http(s)://` URL is turned into `ws(s)://`). */
  url: string
  /** The node's API token, for subscriptions routed to other peers (sent in an `auth` message, never in the URL). */
  token?: string
  /** The WebSocket to use. Default: `ws` in Node (permessage-deflate on), else `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor
  backoff?: BackoffOptions
  /** Aborting closes the client for good (as {@link FeedClient.close}). */
  signal?: AbortSignal
  /** Random numbers in [0, 1) for the jitter (tests). Default `Math.random`. */
  random?: () => number
}

/** The client's connection state. */
export type FeedState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** The events of a {@link FeedClient}, by their argument. */
export interface FeedClientEvents {
  /** A (re)connection's `hello`: the node's id and channels. */
  hello: HelloMessage
  /** An update of a channel. */
  event: EventMessage
  /** A typed error: from the server (`ErrorMessage`), or the client's own {@link FeedError}. */
  error: ErrorMessage | FeedError
  /** The socket closed; `retryInMs` is the wait before the next attempt (absent once closed for good). */
  close: { code: number; reason: string; retryInMs?: number }
  /** The server answered a {@link FeedClient.ping} (the server handles a connection's messages in order). */
  pong: Record<string, never>
  /** The state changed. */
  state: FeedState
}

type Listener<K extends keyof FeedClientEvents> = (value: FeedClientEvents[K]) => void

/** `ws` in Node, loaded on first use (a browser bundle never reaches this). */
async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'
  if (isNode) {
    const mod = (await import('ws')) as unknown as { WebSocket: WebSocketConstructor }
    return mod.WebSocket
  }
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (global === undefined) throw new FeedError('ConnectionFailed', 'no WebSocket: pass one in the WebSocket option')
  return global
}

const key = (channel: FeedChannel, peer: string | undefined) => `${peer ?? ''}|${channel}`

/**
 * A live feed client. Subscriptions are remembered: they are sent when the socket opens and again
 * after every reconnect. Listeners never see an unvalidated message.
 *
 * @example
 * ```ts
 * import { FeedClient } from '@vain/metrics/feed'
 *
 * const feed = new FeedClient({ url: 'ws://127.0.0.1:8080/api/feed' })
 * feed.on('event', (e) => {
 *   if (e.channel === 'training' && 'snapshot' in e.data) console.log(e.data.snapshot)
 * })
 * feed.subscribe(['training', 'peers'])
 * // another peer's metrics, routed through this node (needs the node's API token):
 * // new FeedClient({ url, token }).subscribe(['metrics'], { peer: '12D3KooW…' })
 * feed.close()
 * ```
 */
export class FeedClient {
  private readonly url: string
  private readonly token: string | undefined
  private readonly random: () => number
  private readonly backoff: Required<BackoffOptions>
  private ctor: WebSocketConstructor | undefined
  private socket: WebSocketLike | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private attempt = 0
  private readonly subscriptions = new Map<string, { channel: FeedChannel; peer: string | undefined }>()
  private readonly listeners = new Map<keyof FeedClientEvents, Set<(v: never) => void>>()
  private _state: FeedState = 'connecting'
  private _hello: HelloMessage | undefined
  private _connections = 0
  private _lastSeq = 0

  constructor(options: FeedClientOptions) {
    this.url = options.url.replace(/^http(s?):\/\//, 'ws$1://')
    this.token = options.token
    this.ctor = options.WebSocket
    this.random = options.random ?? Math.random
    this.backoff = {
      initialMs: options.backoff?.initialMs ?? 250,
      maxMs: options.backoff?.maxMs ?? 30_000,
      factor: options.backoff?.factor ?? 2,
      jitter: Math.min(1, Math.max(0, options.backoff?.jitter ?? 0.5)),
    }
    if (options.signal?.aborted === true) {
      this._state = 'closed'
      return
    }
    options.signal?.addEventListener('abort', () => this.close(), { once: true })
    void this.connect()
  }

  /** The connection state. */
  get state(): FeedState {
    return this._state
  }

  /** The last `hello` (the node's peer id, version, channels), once connected. */
  get hello(): HelloMessage | undefined {
    return this._hello
  }

  /** How many times a socket opened (1 after the first connection; +1 per reconnect). */
  get connections(): number {
    return this._connections
  }

  /** The `seq` of the last event on the current connection (0 after a reconnect, until the first). */
  get lastSeq(): number {
    return this._lastSeq
  }

  /** The extensions the server accepted on the current socket (`permessage-deflate` …). */
  get extensions(): string {
    return this.socket?.extensions ?? ''
  }

  /** Listen to an event; returns the function that stops listening. */
  on<K extends keyof FeedClientEvents>(type: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(type)
    if (set === undefined) {
      set = new Set()
      this.listeners.set(type, set)
    }
    set.add(listener as (v: never) => void)
    return () => set.delete(listener as (v: never) => void)
  }

  /**
   * Resolve with the first `type` event that `predicate` accepts.
   *
   * @throws the signal's reason when it aborts; a `FeedError` (`ConnectionFailed`) when the client closes
   */
  next<K extends keyof FeedClientEvents>(
    type: K,
    predicate: (value: FeedClientEvents[K]) => boolean = () => true,
    options: { signal?: AbortSignal } = {},
  ): Promise<FeedClientEvents[K]> {
    return new Promise((resolve, reject) => {
      const done = () => {
        off()
        offState()
        options.signal?.removeEventListener('abort', aborted)
      }
      const aborted = () => {
        done()
        reject(options.signal?.reason)
      }
      const off = this.on(type, (v) => {
        if (!predicate(v)) return
        done()
        resolve(v)
      })
      const offState = this.on('state', (s) => {
        if (s !== 'closed') return
        done()
        reject(new FeedError('ConnectionFailed', 'the feed client was closed'))
      })
      if (options.signal?.aborted === true) aborted()
      else options.signal?.addEventListener('abort', aborted, { once: true })
    })
  }

  /**
   * Subscribe to channels: of this node, or with `peer` of that peer through this node (the node
   * needs its API token: give `token`). Kept across reconnects until {@link unsubscribe}.
   */
  subscribe(channels: readonly FeedChannel[], options: { peer?: string } = {}): void {
    const fresh = channels.filter((c) => !this.subscriptions.has(key(c, options.peer)))
    for (const channel of channels) this.subscriptions.set(key(channel, options.peer), { channel, peer: options.peer })
    if (fresh.length > 0) this.sendJson({ type: 'subscribe', channels: fresh, ...peerField(options.peer) })
  }

  /** Stop receiving channels (of `peer`, when given). */
  unsubscribe(channels: readonly FeedChannel[], options: { peer?: string } = {}): void {
    for (const channel of channels) this.subscriptions.delete(key(channel, options.peer))
    this.sendJson({ type: 'unsubscribe', channels: [...channels], ...peerField(options.peer) })
  }

  /** The subscriptions the client keeps. */
  subscriptionList(): Array<{ channel: FeedChannel; peer?: string }> {
    return [...this.subscriptions.values()].map((s) => ({ channel: s.channel, ...peerField(s.peer) }))
  }

  /** Send a `ping` (the server answers `pong`). */
  ping(): void {
    this.sendJson({ type: 'ping' })
  }

  /** Send a raw text frame (for tests of a server's input handling). */
  sendRaw(text: string): void {
    if (this.socket?.readyState === 1) this.socket.send(text)
  }

  /** Close for good: no reconnect. */
  close(): void {
    if (this._state === 'closed') return
    clearTimeout(this.timer)
    this.setState('closed')
    const socket = this.socket
    this.socket = undefined
    try {
      socket?.close(1000, 'client closed')
    } catch {
      // a socket still connecting: closing it throws in some implementations
    }
  }

  private emit<K extends keyof FeedClientEvents>(type: K, value: FeedClientEvents[K]): void {
    for (const l of [...(this.listeners.get(type) ?? [])]) {
      try {
        ;(l as Listener<K>)(value)
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private setState(s: FeedState): void {
    if (this._state === s) return
    this._state = s
    this.emit('state', s)
  }

  private sendJson(msg: unknown): void {
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(msg))
  }

  private async connect(): Promise<void> {
    if (this._state === 'closed') return
    let socket: WebSocketLike
    try {
      this.ctor ??= await defaultWebSocket()
      if ((this._state as FeedState) === 'closed') return
      socket = new this.ctor(this.url)
    } catch (err) {
      this.emit('error', err instanceof FeedError ? err : new FeedError('ConnectionFailed', String(err)))
      this.scheduleReconnect(1006, 'cannot open a socket')
      return
    }
    this.socket = socket
    this._lastSeq = 0
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return
      this._connections++
      if (this.token !== undefined) socket.send(JSON.stringify({ type: 'auth', token: this.token }))
      // the subscriptions, grouped by peer
      const byPeer = new Map<string | undefined, FeedChannel[]>()
      for (const s of this.subscriptions.values()) byPeer.set(s.peer, [...(byPeer.get(s.peer) ?? []), s.channel])
      for (const [peer, channels] of byPeer) {
        const ordered = FEED_CHANNELS.filter((c) => channels.includes(c))
        socket.send(JSON.stringify({ type: 'subscribe', channels: ordered, ...peerField(peer) }))
      }
      this.setState('open')
    })
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket) return
      const data = event.data
      if (typeof data !== 'string') {
        this.emit('error', new FeedError('InvalidServerMessage', 'the server sent a binary frame'))
        return
      }
      let msg: ServerMessage
      try {
        msg = decodeServerMessage(data)
      } catch (err) {
        this.emit('error', err as FeedError)
        return
      }
      switch (msg.type) {
        case 'hello':
          this._hello = msg
          this.attempt = 0
          this.emit('hello', msg)
          break
        case 'event':
          this._lastSeq = msg.seq
          this.emit('event', msg)
          break
        case 'error':
          this.emit('error', msg)
          break
        case 'pong':
          this.emit('pong', {})
          break
      }
    })
    socket.addEventListener('error', () => {
      // the close event follows; it carries what there is to know
    })
    socket.addEventListener('close', (event) => {
      if (this.socket !== socket) return
      this.socket = undefined
      this.scheduleReconnect(event.code, event.reason)
    })
  }

  /** The wait before attempt `n` (exported logic: see {@link backoffDelay}). */
  private scheduleReconnect(code: number, reason: string): void {
    if (this._state === 'closed') return
    const delay = backoffDelay(this.attempt++, this.backoff, this.random)
    this.setState('reconnecting')
    this.emit('close', { code, reason, retryInMs: delay })
    this.timer = setTimeout(() => void this.connect(), delay)
  }
}

const peerField = (peer: string | undefined): { peer?: string } => (peer === undefined ? {} : { peer })

/**
 * The delay before reconnection attempt `attempt` (0-based): `min(maxMs, initialMs × factor^attempt)`,
 * less a random part of up to `jitter` of it.
 */
export function backoffDelay(attempt: number, backoff: Required<BackoffOptions>, random: () => number): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.min(attempt, 64))
  return Math.max(0, Math.round(base * (1 - backoff.jitter * random())))
}
