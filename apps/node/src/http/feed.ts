/**
 * The live feed: `GET /api/feed`, upgraded to a WebSocket (`@fastify/websocket` over `ws`,
 * permessage-deflate on). Read-only. The wire contract (messages, channels, error names, close
 * codes) is `@vain/metrics/feed`'s; its typed client is `FeedClient` there.
 *
 * - The upgrade passes the API's guard: `Host` must name this server, an `Origin` must be this
 *   server's (the dashboard at `/`), else 403 before any WebSocket exists.
 * - Channels `peers`, `metrics`, `training`, `health`, `chain`: `{snapshot}` (the REST body of the
 *   same panel) on subscribe and whenever it changes (checked every second, unchanged ones not
 *   sent), and `{event}` for discrete events; `alerts`: `{alert}`.
 * - Routed subscriptions (`"peer": "<peerId>"`): the channels of another peer's feed, polled
 *   through this node over `/vain/feed/1.0.0`, events carry `peer`. They need the node's API token:
 *   `?token=<token>` in the URL, or an `{"type":"auth","token":"<token>"}` message first.
 * - Bounds: {@link FEED_LIMITS} (connections, subscriptions, remote peers per connection, send
 *   buffer bytes, message rate); bad input answers a typed `error`, a frame over 4 KiB closes
 *   with 1009, a slow reader with 4008.
 * @module
 */
import websocket, { type WebSocket } from '@fastify/websocket'
import { peerIdFromString } from '@libp2p/peer-id'
import {
  type ClientMessage,
  decodeClientMessage,
  FEED_CHANNELS,
  FEED_CLOSE,
  FEED_VERSION,
  type FeedChannel,
  FeedError,
  type FeedErrorName,
} from '@vain/metrics/feed'
import { type RemoteFeedWatch, watchRemoteFeed } from '@vain/metrics/vain-net'
import { ApiError } from './errors.js'
import { feedSnapshot, type SnapshotParts } from './feed-snapshots.js'
import { tokenMatches } from './guard.js'
import type { ApiApp, ApiParts } from './parts.js'

/** The feed's bounds. */
export const FEED_LIMITS = {
  /** Open feed connections at most (more: closed with 1013). */
  connections: 64,
  /** (channel, peer) subscriptions per connection. */
  subscriptions: 24,
  /** Other peers one connection may subscribe to. */
  remotePeers: 4,
  /** Bytes queued on a connection at most: a reader slower than its events is closed (4008). */
  bufferedBytes: 4 * 1024 * 1024,
  /** Messages a connection may send: a burst of this many… */
  messageBurst: 20,
  /** …refilled at this many per second. */
  messagesPerSecond: 5,
  /** Refused messages (bad or over the rate) before the connection is closed (1008 / 4029). */
  strikes: 32,
  /** How often snapshots are checked for changes (ms). */
  snapshotIntervalMs: 1000,
  /** Largest WebSocket message `ws` reads at all (bigger: closed by `ws` with 1009). */
  maxPayload: 64 * 1024,
} as const

interface Remote {
  channels: Set<FeedChannel>
  watch: RemoteFeedWatch
}

interface Connection {
  socket: WebSocket
  seq: number
  authed: boolean
  /** Local channels and the text of the snapshot last sent. */
  local: Map<FeedChannel, string | undefined>
  remote: Map<string, Remote>
  tokens: number
  refilledAt: number
  strikes: number
}

const OPEN = 1

/** Register the feed on the API (`@fastify/websocket` and `GET /api/feed`). */
export async function feedRoutes(app: ApiApp, parts: ApiParts): Promise<void> {
  const connections = new Set<Connection>()
  const snapshotParts: SnapshotParts = parts
  const routing = parts.feed?.routing !== false
  await app.register(websocket, {
    options: { maxPayload: FEED_LIMITS.maxPayload, perMessageDeflate: { threshold: 256 } },
    preClose: (done) => {
      for (const c of connections) closeConnection(c, FEED_CLOSE.GoingAway, 'the node is stopping')
      app.websocketServer.close(() => done())
    },
  })

  // an upgrade refused (403 from the guard, 404…) is answered on the raw socket, which nothing
  // else would ever close: closed here once the answer is out (a node could not stop otherwise)
  app.addHook('onSend', async (request, reply, payload) => {
    const upgrade = request.headers.upgrade
    if (typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket' && reply.statusCode !== 101) {
      const socket = reply.raw.socket ?? request.raw.socket
      reply.header('connection', 'close')
      reply.raw.once('finish', () => {
        socket?.end()
        setTimeout(() => socket?.destroy(), 1000).unref()
      })
    }
    return payload
  })

  const send = (c: Connection, msg: Record<string, unknown>): void => {
    if (c.socket.readyState !== OPEN) return
    if (c.socket.bufferedAmount > FEED_LIMITS.bufferedBytes) {
      closeConnection(c, FEED_CLOSE.SlowConsumer, 'slow consumer: the send buffer is full')
      return
    }
    c.socket.send(JSON.stringify(msg))
  }
  const sendEvent = (c: Connection, channel: FeedChannel, data: Record<string, unknown>, peer?: string, ts?: number) =>
    send(c, {
      type: 'event',
      channel,
      seq: ++c.seq,
      ts: ts ?? Date.now(),
      ...(peer !== undefined ? { peer } : {}),
      data,
    })
  const sendError = (c: Connection, name: FeedErrorName, message: string, peer?: string) =>
    send(c, { type: 'error', error: name, message, ...(peer !== undefined ? { peer } : {}) })

  function closeConnection(c: Connection, code: number, reason: string): void {
    if (!connections.delete(c)) return
    if (code === FEED_CLOSE.SlowConsumer) parts.log.warn('feed: a slow reader was closed', { reason })
    for (const r of c.remote.values()) r.watch.stop()
    c.remote.clear()
    try {
      c.socket.close(code, reason)
    } catch {
      c.socket.terminate()
    }
    // a peer that does not answer the close handshake
    setTimeout(() => c.socket.terminate(), 30_000).unref()
  }

  // discrete events of this node, to every connection subscribed to their channel
  const offLog = parts.feed?.log.listen((e) => {
    for (const c of connections) if (c.local.has(e.channel)) sendEvent(c, e.channel, e.data, undefined, e.ts)
  })

  // snapshots: computed once per channel per tick, sent where they changed
  const snapshotText = async (channel: FeedChannel): Promise<string | undefined> => {
    const value = await feedSnapshot(snapshotParts, channel)
    return value === undefined ? undefined : JSON.stringify(value)
  }
  const sendSnapshot = (c: Connection, channel: FeedChannel, text: string | undefined) => {
    if (text === undefined || !c.local.has(channel) || c.local.get(channel) === text) return
    c.local.set(channel, text)
    // the text is the JSON of a snapshot: spliced in, not parsed and encoded again
    if (c.socket.readyState !== OPEN) return
    if (c.socket.bufferedAmount > FEED_LIMITS.bufferedBytes) {
      closeConnection(c, FEED_CLOSE.SlowConsumer, 'slow consumer: the send buffer is full')
      return
    }
    c.socket.send(
      `{"type":"event","channel":"${channel}","seq":${++c.seq},"ts":${Date.now()},"data":{"snapshot":${text}}}`,
    )
  }
  let ticking = false
  const tick = async () => {
    if (ticking || connections.size === 0) return
    ticking = true
    try {
      const wanted = new Set<FeedChannel>()
      for (const c of connections) for (const ch of c.local.keys()) wanted.add(ch)
      for (const channel of FEED_CHANNELS) {
        if (!wanted.has(channel) || channel === 'alerts') continue
        let text: string | undefined
        try {
          text = await snapshotText(channel)
        } catch (err) {
          parts.log.debug('feed: snapshot failed', { channel, error: String(err) })
          continue
        }
        for (const c of connections) sendSnapshot(c, channel, text)
      }
    } finally {
      ticking = false
    }
  }
  const timer = setInterval(() => void tick(), FEED_LIMITS.snapshotIntervalMs)
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    offLog?.()
    for (const c of connections) closeConnection(c, FEED_CLOSE.GoingAway, 'the node is stopping')
  })

  const subscriptions = (c: Connection) =>
    c.local.size + [...c.remote.values()].reduce((n, r) => n + r.channels.size, 0)

  const handle = async (c: Connection, msg: ClientMessage): Promise<void> => {
    switch (msg.type) {
      case 'ping':
        send(c, { type: 'pong' })
        return
      case 'auth':
        if (!tokenMatches(msg.token, parts.token)) {
          c.authed = false
          throw new FeedError('InvalidToken', "the token is not this node's API token (<dataDir>/api-token)")
        }
        c.authed = true
        return
      case 'unsubscribe': {
        if (msg.peer === undefined) {
          for (const ch of msg.channels) c.local.delete(ch)
          return
        }
        const r = c.remote.get(msg.peer)
        if (r === undefined) return
        for (const ch of msg.channels) r.channels.delete(ch)
        if (r.channels.size === 0) {
          r.watch.stop()
          c.remote.delete(msg.peer)
        }
        return
      }
      case 'subscribe': {
        const fresh = msg.channels.filter((ch) =>
          msg.peer === undefined ? !c.local.has(ch) : c.remote.get(msg.peer)?.channels.has(ch) !== true,
        )
        if (subscriptions(c) + fresh.length > FEED_LIMITS.subscriptions) {
          throw new FeedError(
            'TooManySubscriptions',
            `a connection holds at most ${FEED_LIMITS.subscriptions} subscriptions`,
          )
        }
        if (msg.peer === undefined || msg.peer === parts.node.peerId.toString()) {
          for (const ch of fresh) c.local.set(ch, undefined)
          for (const ch of fresh) {
            if (ch === 'alerts') continue
            sendSnapshot(c, ch, await snapshotText(ch))
          }
          return
        }
        await subscribeRemote(c, msg.peer, fresh)
        return
      }
    }
  }

  const subscribeRemote = async (c: Connection, peer: string, channels: FeedChannel[]): Promise<void> => {
    if (!routing) throw new FeedError('RoutingUnavailable', 'this node does not route feeds of other peers', peer)
    if (!c.authed) {
      throw new FeedError(
        'TokenRequired',
        "subscribing to another peer's feed needs the node's API token: ?token=<token> or an auth message first",
        peer,
      )
    }
    let id: ReturnType<typeof peerIdFromString>
    try {
      id = peerIdFromString(peer)
    } catch {
      throw new FeedError('InvalidPeerId', `${peer} is not a peer id`, peer)
    }
    if (!parts.node.authenticatedPeers().some((p) => p.equals(id))) {
      throw new FeedError('PeerUnavailable', `peer ${peer} is not an authenticated peer of this node`, peer)
    }
    const existing = c.remote.get(peer)
    if (existing !== undefined) {
      for (const ch of channels) existing.channels.add(ch)
      existing.watch.wake()
      return
    }
    if (c.remote.size >= FEED_LIMITS.remotePeers) {
      throw new FeedError(
        'TooManySubscriptions',
        `a connection follows at most ${FEED_LIMITS.remotePeers} other peers`,
        peer,
      )
    }
    const wanted = new Set(channels)
    const remote: Remote = {
      channels: wanted,
      watch: watchRemoteFeed(parts.node, id, {
        channels: () => [...wanted],
        onSnapshot: (channel, snapshot) => sendEvent(c, channel, { snapshot }, peer),
        onEvent: (e) => sendEvent(c, e.channel, e.data, peer, e.ts),
        onError: (err) =>
          sendError(c, 'RemoteFeedError', `${peer}'s feed: ${err.name}: ${err.message.slice(0, 300)}`, peer),
        intervalMs: FEED_LIMITS.snapshotIntervalMs,
      }),
    }
    c.remote.set(peer, remote)
  }

  const strike = (c: Connection, code: number, reason: string) => {
    if (++c.strikes >= FEED_LIMITS.strikes) closeConnection(c, code, reason)
  }

  app.route({
    method: 'GET',
    url: '/api/feed',
    schema: { hide: true },
    // a plain GET (no upgrade): a typed error body
    handler: async () => {
      throw new ApiError(426, 'UpgradeRequired', 'GET /api/feed is a WebSocket: connect with ws://…/api/feed')
    },
    wsHandler: (socket, request) => {
      if (connections.size >= FEED_LIMITS.connections) {
        socket.close(FEED_CLOSE.TryAgainLater, `at most ${FEED_LIMITS.connections} feed connections`)
        return
      }
      const query = request.query as { token?: unknown } | undefined
      const token = typeof query?.token === 'string' ? query.token : undefined
      const c: Connection = {
        socket,
        seq: 0,
        authed: token !== undefined && tokenMatches(token, parts.token),
        local: new Map(),
        remote: new Map(),
        tokens: FEED_LIMITS.messageBurst,
        refilledAt: Date.now(),
        strikes: 0,
      }
      connections.add(c)
      socket.on('close', () => closeConnection(c, FEED_CLOSE.GoingAway, ''))
      socket.on('error', () => closeConnection(c, FEED_CLOSE.GoingAway, ''))
      send(c, {
        type: 'hello',
        version: FEED_VERSION,
        node: parts.node.peerId.toString(),
        channels: [...FEED_CHANNELS],
      })
      if (token !== undefined && !c.authed) sendError(c, 'InvalidToken', "?token= is not this node's API token")
      // messages are handled one at a time, in order
      let queue = Promise.resolve()
      socket.on('message', (data, isBinary) => {
        if (!connections.has(c)) return
        const now = Date.now()
        c.tokens = Math.min(
          FEED_LIMITS.messageBurst,
          c.tokens + ((now - c.refilledAt) / 1000) * FEED_LIMITS.messagesPerSecond,
        )
        c.refilledAt = now
        if (c.tokens < 1) {
          sendError(c, 'RateLimited', `at most ${FEED_LIMITS.messagesPerSecond} messages a second`)
          strike(c, FEED_CLOSE.RateLimited, 'too many messages')
          return
        }
        c.tokens -= 1
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
        let msg: ClientMessage
        try {
          msg = decodeClientMessage(isBinary ? bytes : bytes.toString('utf8'), isBinary)
        } catch (err) {
          const e = err as FeedError
          sendError(c, e.code, e.message)
          if (e.code === 'FrameTooLarge') closeConnection(c, FEED_CLOSE.MessageTooBig, 'frame over 4096 bytes')
          else strike(c, FEED_CLOSE.PolicyViolation, 'too many bad messages')
          return
        }
        queue = queue.then(async () => {
          if (!connections.has(c)) return
          try {
            await handle(c, msg)
          } catch (err) {
            if (err instanceof FeedError) {
              sendError(c, err.code, err.message, err.peer)
              strike(c, FEED_CLOSE.PolicyViolation, 'too many bad messages')
            } else {
              parts.log.warn('feed: a message failed', { error: String(err) })
              sendError(c, 'InvalidMessage', 'the node could not handle the message')
            }
          }
        })
      })
    },
  })
}
