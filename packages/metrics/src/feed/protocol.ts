/**
 * The wire contract of a vAIn node's live feed (`GET /api/feed`, a WebSocket): the channels, the
 * messages a client sends (validated by {@link decodeClientMessage}, what the node's server uses),
 * the messages the server sends (zod schemas, what {@link FeedClient} validates with), the typed
 * error names and the close codes. Browser-safe: no Node-only imports.
 *
 * Client → server (JSON text frames, at most {@link MAX_CLIENT_FRAME_BYTES} bytes each):
 * `{"type":"subscribe","channels":[…],"peer"?:"<peerId>"}`,
 * `{"type":"unsubscribe","channels":[…],"peer"?:"<peerId>"}`, `{"type":"ping"}` and
 * `{"type":"auth","token":"…"}` (the node's API token, needed only for subscriptions routed to
 * another peer; it may also be given as `?token=` in the URL).
 *
 * Server → client: `hello` first, then `event`s (`seq` counts per connection), `error`s and `pong`s.
 * @module
 */
import { z } from 'zod'
import { MetricsError } from '../errors.js'

/** The protocol version `hello` carries. */
export const FEED_VERSION = 1

/** The channels of the feed. */
export const FEED_CHANNELS = ['peers', 'metrics', 'training', 'health', 'alerts', 'chain'] as const
/** One of {@link FEED_CHANNELS}. */
export type FeedChannel = (typeof FEED_CHANNELS)[number]

/** Largest frame a client may send (bytes): a bigger one is refused (`FrameTooLarge`, close 1009). */
export const MAX_CLIENT_FRAME_BYTES = 4096
/** Longest API token accepted in an `auth` message. */
export const MAX_TOKEN_LENGTH = 512

/**
 * The names of the feed's typed errors (`{"type":"error","error":<name>}` and {@link FeedError}'s
 * `code`): what a client switches on.
 */
export const FEED_ERRORS = [
  /** The frame is not JSON. */
  'InvalidJson',
  /** A frame over {@link MAX_CLIENT_FRAME_BYTES}. */
  'FrameTooLarge',
  /** A binary frame (the feed speaks JSON text only). */
  'BinaryFrame',
  /** JSON, but not a message of the protocol (wrong field types, missing fields). */
  'InvalidMessage',
  /** A `type` the protocol does not have. */
  'UnknownMessageType',
  /** A channel name the feed does not have. */
  'UnknownChannel',
  /** A `peer` that is not a peer id. */
  'InvalidPeerId',
  /** A subscription routed to another peer, without the node's API token. */
  'TokenRequired',
  /** A token that is not the node's. */
  'InvalidToken',
  /** More subscriptions than a connection may hold. */
  'TooManySubscriptions',
  /** Messages faster than the connection's budget. */
  'RateLimited',
  /** The node cannot route to that peer (not connected, not authenticated, no such feed). */
  'PeerUnavailable',
  /** The remote peer's feed answered with an error (its name is in the message). */
  'RemoteFeedError',
  /** This node does not route subscriptions to other peers. */
  'RoutingUnavailable',
  /** A message from the server that does not follow this contract (client side). */
  'InvalidServerMessage',
  /** The server went away or the socket failed (client side). */
  'ConnectionFailed',
] as const
/** One of {@link FEED_ERRORS}. */
export type FeedErrorName = (typeof FEED_ERRORS)[number]

/** WebSocket close codes the feed's server uses. */
export const FEED_CLOSE = {
  /** The node is stopping (a client reconnects). */
  GoingAway: 1001,
  /** Too many bad messages on one connection. */
  PolicyViolation: 1008,
  /** A frame over {@link MAX_CLIENT_FRAME_BYTES}. */
  MessageTooBig: 1009,
  /** The node holds as many feed connections as it may: try later. */
  TryAgainLater: 1013,
  /** The client reads slower than events come: its send buffer went over the cap. */
  SlowConsumer: 4008,
  /** The client sent messages faster than its budget, again and again. */
  RateLimited: 4029,
} as const

/** A feed failure with a stable {@link FeedErrorName} in `code` (and `name` `FeedError`). */
export class FeedError extends MetricsError {
  static override readonly name = 'FeedError'
  override name = 'FeedError'
  constructor(
    readonly code: FeedErrorName,
    message: string,
    /** The routed peer the error is about, if any. */
    readonly peer?: string,
  ) {
    super(message)
  }
}

/** A libp2p peer id as text (base58btc `12D3KooW…`/`Qm…`, or a CID in base32). */
export const PeerIdTextSchema = z
  .string()
  .min(8)
  .max(128)
  .regex(/^[1-9A-HJ-NP-Za-km-z]+$|^b[a-z2-7]+$/, 'not a peer id')

/** A channel name. */
export const FeedChannelSchema = z.enum(FEED_CHANNELS)

const ChannelsSchema = z.array(FeedChannelSchema).min(1).max(FEED_CHANNELS.length)

/** `subscribe`: start (or keep) receiving these channels, from this node or, with `peer`, from that peer through it. */
export const SubscribeMessageSchema = z.object({
  type: z.literal('subscribe'),
  channels: ChannelsSchema,
  peer: PeerIdTextSchema.optional(),
})
/** `unsubscribe`: stop receiving these channels (of `peer`, when given). */
export const UnsubscribeMessageSchema = z.object({
  type: z.literal('unsubscribe'),
  channels: ChannelsSchema,
  peer: PeerIdTextSchema.optional(),
})
/** `ping`: the server answers `pong`. */
export const PingMessageSchema = z.object({ type: z.literal('ping') })
/** `auth`: present the node's API token (for routed subscriptions). */
export const AuthMessageSchema = z.object({ type: z.literal('auth'), token: z.string().min(1).max(MAX_TOKEN_LENGTH) })

/** Every message a client may send. */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  SubscribeMessageSchema,
  UnsubscribeMessageSchema,
  PingMessageSchema,
  AuthMessageSchema,
])
/** A client's message, validated. */
export type ClientMessage = z.output<typeof ClientMessageSchema>

const CLIENT_TYPES = new Set(['subscribe', 'unsubscribe', 'ping', 'auth'])
const CHANNELS = new Set<string>(FEED_CHANNELS)

/** UTF-8 length of a string, stopping once past `limit` (no encoding of huge strings). */
function utf8Length(s: string, limit: number): number {
  let n = 0
  for (let i = 0; i < s.length && n <= limit; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/**
 * Decode one frame a client sent: a JSON text frame of at most {@link MAX_CLIENT_FRAME_BYTES}
 * bytes holding one {@link ClientMessage}. Never throws anything but a {@link FeedError} (its
 * `code`: `FrameTooLarge`, `BinaryFrame`, `InvalidJson`, `UnknownMessageType`, `UnknownChannel`,
 * `InvalidPeerId` or `InvalidMessage`).
 *
 * @param frame the frame's payload: text, or bytes (decoded as UTF-8 unless `binary`)
 * @param binary whether the frame was a binary frame (refused)
 */
export function decodeClientMessage(frame: string | Uint8Array, binary = false): ClientMessage {
  const size = typeof frame === 'string' ? utf8Length(frame, MAX_CLIENT_FRAME_BYTES) : frame.byteLength
  if (size > MAX_CLIENT_FRAME_BYTES) {
    throw new FeedError('FrameTooLarge', `a frame may hold at most ${MAX_CLIENT_FRAME_BYTES} bytes`)
  }
  if (binary) throw new FeedError('BinaryFrame', 'the feed takes JSON text frames only')
  let text: string
  if (typeof frame === 'string') text = frame
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(frame)
    } catch {
      throw new FeedError('InvalidJson', 'the frame is not UTF-8 text')
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new FeedError('InvalidJson', 'the frame is not valid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FeedError('InvalidMessage', 'a message is a JSON object with a "type"')
  }
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string' || !CLIENT_TYPES.has(type)) {
    throw new FeedError(
      'UnknownMessageType',
      `unknown message type ${JSON.stringify(type)?.slice(0, 40) ?? 'undefined'}: one of ${[...CLIENT_TYPES].join(', ')}`,
    )
  }
  const channels = (value as { channels?: unknown }).channels
  if (Array.isArray(channels)) {
    const unknown = channels.find((c) => typeof c === 'string' && !CHANNELS.has(c))
    if (unknown !== undefined) {
      throw new FeedError(
        'UnknownChannel',
        `unknown channel ${JSON.stringify(unknown).slice(0, 60)}: one of ${FEED_CHANNELS.join(', ')}`,
      )
    }
  }
  const peer = (value as { peer?: unknown }).peer
  if (peer !== undefined && !PeerIdTextSchema.safeParse(peer).success) {
    throw new FeedError('InvalidPeerId', `${JSON.stringify(peer).slice(0, 60)} is not a peer id`)
  }
  const parsed = ClientMessageSchema.safeParse(value)
  if (!parsed.success) {
    throw new FeedError(
      'InvalidMessage',
      parsed.error.issues
        .slice(0, 4)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    )
  }
  return parsed.data
}

/** `hello`: the server's first message. */
export const HelloMessageSchema = z.looseObject({
  type: z.literal('hello'),
  version: z.number().int(),
  /** The node's peer id. */
  node: z.string(),
  channels: z.array(z.string()),
})
/** `event`: one update of one channel. */
export const EventMessageSchema = z.looseObject({
  type: z.literal('event'),
  channel: FeedChannelSchema,
  /** Counts the connection's events from 1. */
  seq: z.number().int().nonnegative(),
  /** ms since epoch (the sending node's clock). */
  ts: z.number(),
  /** The peer whose feed it comes from, when routed through this node. */
  peer: z.string().optional(),
  /** `{snapshot}` (a panel's REST body), `{event}` (a discrete event) or `{alert}`. */
  data: z.record(z.string(), z.unknown()),
})
/** `error`: a typed failure (`error` is a {@link FeedErrorName}). */
export const ErrorMessageSchema = z.looseObject({
  type: z.literal('error'),
  error: z.string(),
  message: z.string(),
  peer: z.string().optional(),
})
/** `pong`: the answer to `ping`. */
export const PongMessageSchema = z.looseObject({ type: z.literal('pong') })

/** Every message a server may send. */
export const ServerMessageSchema = z.discriminatedUnion('type', [
  HelloMessageSchema,
  EventMessageSchema,
  ErrorMessageSchema,
  PongMessageSchema,
])
export type HelloMessage = z.output<typeof HelloMessageSchema>
export type EventMessage = z.output<typeof EventMessageSchema>
export type ErrorMessage = z.output<typeof ErrorMessageSchema>
export type ServerMessage = z.output<typeof ServerMessageSchema>

/**
 * Decode one message from a server. Throws only {@link FeedError} (`InvalidServerMessage`).
 */
export function decodeServerMessage(text: string): ServerMessage {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new FeedError('InvalidServerMessage', 'the server sent a frame that is not JSON')
  }
  const r = ServerMessageSchema.safeParse(value)
  if (!r.success) {
    throw new FeedError(
      'InvalidServerMessage',
      r.error.issues
        .slice(0, 4)
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; '),
    )
  }
  return r.data
}
