/**
 * A small typed framework for request/response protocols over libp2p streams: length-prefixed
 * frames, CBOR bodies validated with zod on both sides, a maximum message size, deadlines via
 * `AbortSignal`, typed remote errors, and hooks for rate limiting and authorization.
 * @module
 */
import type { AbortOptions, Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { z } from 'zod'
import {
  InvalidMessageError,
  MessageTooLargeError,
  TimeoutError,
  UnsupportedVersionError,
  VainNetError,
} from '../errors.js'
import { decodeMessage, encodeMessage } from '../wire/index.js'
import { fromWireError, RequestEnvelopeSchema, ResponseEnvelopeSchema, toWireError } from './envelope.js'
import { abortReason, encodeVarint, FramedStream, StreamClosedError } from './framed-stream.js'

/** The parts of a libp2p node this framework uses (a `Libp2p` satisfies it). */
export type ProtocolHost = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>

/** Where a request goes: a peer id, a multiaddr or a list of multiaddrs. */
export type DialTarget = PeerId | Multiaddr | Multiaddr[]

/** A request/response protocol: its id, version, message schemas and limits. */
export interface RequestProtocol<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  /** Multistream protocol id, e.g. `/vain/echo/1.0.0`. */
  readonly id: string
  /** Version carried in every envelope; a mismatch is answered with `UnsupportedVersionError`. */
  readonly version: number
  readonly request: Req
  readonly response: Res
  /** Largest encoded request accepted (bytes). */
  readonly maxRequestBytes: number
  /** Largest encoded response accepted (bytes). */
  readonly maxResponseBytes: number
  /** Default deadline of one call (ms). */
  readonly timeoutMs: number
}

/** Input of {@link defineRequestProtocol}; limits have defaults. */
export interface RequestProtocolInit<Req extends z.ZodType, Res extends z.ZodType> {
  id: string
  version?: number
  request: Req
  response: Res
  maxRequestBytes?: number
  maxResponseBytes?: number
  timeoutMs?: number
}

/**
 * Define a request/response protocol.
 *
 * @example
 * ```ts
 * import { z } from 'zod'
 * import { defineRequestProtocol } from '@vain/net'
 * export const echo = defineRequestProtocol({
 *   id: '/example/echo/1.0.0',
 *   request: z.object({ text: z.string().max(1000) }),
 *   response: z.object({ text: z.string() }),
 * })
 * ```
 */
export function defineRequestProtocol<Req extends z.ZodType, Res extends z.ZodType>(
  init: RequestProtocolInit<Req, Res>,
): RequestProtocol<Req, Res> {
  if (!init.id.startsWith('/')) throw new TypeError(`protocol id must start with '/': ${init.id}`)
  return {
    id: init.id,
    version: init.version ?? 1,
    request: init.request,
    response: init.response,
    maxRequestBytes: init.maxRequestBytes ?? 1024 * 1024,
    maxResponseBytes: init.maxResponseBytes ?? 4 * 1024 * 1024,
    timeoutMs: init.timeoutMs ?? 10_000,
  }
}

/** What a handler learns about the request besides its body. */
export interface RequestContext {
  remotePeer: PeerId
  connection: Connection
  protocol: string
  /** Fires when the request's deadline passes or the node stops. */
  signal: AbortSignal
}

/** Handles one decoded, validated request and returns the response body. */
export type RequestHandler<Req extends z.ZodType, Res extends z.ZodType> = (
  request: z.output<Req>,
  context: RequestContext,
) => Promise<z.input<Res>> | z.input<Res>

/**
 * Why an inbound request is refused before its stream is read, and how: `answer` writes one
 * typed error frame and closes (the remote learns e.g. when to retry); `reset` resets the
 * stream without an answer (nothing is encoded or written: the cheapest refusal, for a remote
 * that ignores its answers).
 */
export type InboundRefusal =
  | { action: 'answer'; name: string; message: string; retryAfterMs?: number }
  | { action: 'reset' }

/** Hooks the node uses to guard every inbound stream. */
export interface InboundGuard {
  /**
   * Decide on a request before anything of its stream is read: `undefined` serves it, an
   * {@link InboundRefusal} refuses it at once (no read, no decode, no deadline timers). When
   * given, request/response streams are not passed to `admit` (payload streams still are).
   */
  screen?(remotePeer: PeerId, protocol: string, connection: Connection): InboundRefusal | undefined
  /**
   * Throw (e.g. `RateLimitedError`, `PeerDeniedError`) to refuse the request with that error;
   * `connection` gives the remote address (`connection.remoteAddr`) for per-range budgets.
   */
  admit?(remotePeer: PeerId, protocol: string, connection?: Connection): void
  /** Called after each request with its outcome. */
  onInbound?(event: InboundEvent): void
}

/** Outcome of one inbound request, for sessions and metrics. */
export interface InboundEvent {
  remotePeer: PeerId
  protocol: string
  ok: boolean
  error?: string
  bytesIn: number
  bytesOut: number
  durationMs: number
}

/** Options of {@link handleRequests}. */
export interface HandleOptions extends InboundGuard {
  maxInboundStreams?: number
  /** Per-request deadline on the serving side (reading + handling + writing). */
  timeoutMs?: number
  /** Aborted when the service stops. */
  signal?: AbortSignal
}

/**
 * Register a handler for a request/response protocol. Malformed, oversized or wrong-version
 * requests are answered with a typed error and the stream is closed; the node keeps serving.
 *
 * @example
 * ```ts
 * await handleRequests(libp2p, echo, async (req) => ({ text: req.text }))
 * ```
 */
export async function handleRequests<Req extends z.ZodType, Res extends z.ZodType>(
  host: ProtocolHost,
  protocol: RequestProtocol<Req, Res>,
  handler: RequestHandler<Req, Res>,
  options: HandleOptions = {},
): Promise<void> {
  await host.handle(
    protocol.id,
    async (stream: Stream, connection: Connection) => {
      await serveOne(stream, connection, protocol, handler, options)
    },
    { maxInboundStreams: options.maxInboundStreams ?? 64, runOnLimitedConnection: false },
  )
}

async function serveOne<Req extends z.ZodType, Res extends z.ZodType>(
  stream: Stream,
  connection: Connection,
  protocol: RequestProtocol<Req, Res>,
  handler: RequestHandler<Req, Res>,
  options: HandleOptions,
): Promise<void> {
  const started = performance.now()
  const remotePeer = connection.remotePeer
  const refusal = options.screen?.(remotePeer, protocol.id, connection)
  if (refusal !== undefined) {
    const bytesOut = refuse(stream, protocol, refusal)
    options.onInbound?.({
      remotePeer,
      protocol: protocol.id,
      ok: false,
      error: refusal.action === 'answer' ? refusal.name : 'StreamResetError',
      bytesIn: 0,
      bytesOut,
      durationMs: performance.now() - started,
    })
    return
  }
  const deadline = AbortSignal.timeout(options.timeoutMs ?? protocol.timeoutMs)
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal])
  const framed = new FramedStream(stream, { maxFrameBytes: protocol.maxRequestBytes })
  let ok = false
  let errorName: string | undefined
  try {
    let body: unknown
    try {
      if (options.screen === undefined) options.admit?.(remotePeer, protocol.id, connection)
      const frame = await framed.read({ signal })
      if (frame === null) throw new InvalidMessageError(`${protocol.id}: stream closed before a request`)
      const envelope = decodeMessage(frame, RequestEnvelopeSchema, {
        maxBytes: protocol.maxRequestBytes,
        label: protocol.id,
      })
      if (envelope.v !== protocol.version) {
        throw new UnsupportedVersionError(
          `${protocol.id}: version ${envelope.v} not supported (this node speaks ${protocol.version})`,
        )
      }
      const request = protocol.request.safeParse(envelope.b)
      if (!request.success) {
        throw new InvalidMessageError(`${protocol.id}: invalid request (${request.error.issues[0]?.message})`)
      }
      const response = await handler(request.data, { remotePeer, connection, protocol: protocol.id, signal })
      const checked = protocol.response.safeParse(response)
      if (!checked.success) {
        // our own handler broke the contract: report a generic error, never send invalid data
        throw new Error(`handler returned an invalid response: ${checked.error.issues[0]?.message}`)
      }
      body = checked.data
      const encoded = encodeMessage({ v: protocol.version, ok: true, b: body })
      await framed.write(encoded, { signal })
      ok = true
    } catch (err) {
      errorName = (err as Error)?.name ?? 'Error'
      if (err instanceof StreamClosedError || signal.aborted) throw err
      const encoded = encodeMessage({ v: protocol.version, ok: false, e: toWireError(err) })
      await framed.write(encoded, { signal })
    }
    await framed.closeWrite({ signal })
  } catch (err) {
    errorName ??= (err as Error)?.name ?? 'Error'
    framed.abort(err instanceof Error ? err : new Error(String(err)))
  } finally {
    framed.release()
    options.onInbound?.({
      remotePeer,
      protocol: protocol.id,
      ok,
      ...(errorName !== undefined ? { error: errorName } : {}),
      bytesIn: framed.bytesRead,
      bytesOut: framed.bytesWritten,
      durationMs: performance.now() - started,
    })
  }
}

/**
 * Refuse a request without reading it: one error frame and a close, or a reset. Nothing is
 * awaited (the close completes in the background). Returns the bytes written.
 */
function refuse(stream: Stream, protocol: RequestProtocol, refusal: InboundRefusal): number {
  try {
    if (refusal.action === 'reset' || stream.writeStatus !== 'writable') {
      stream.abort(REFUSED)
      return 0
    }
    const body = encodeMessage({
      v: protocol.version,
      ok: false,
      e: {
        n: refusal.name.slice(0, 64),
        m: refusal.message.slice(0, 1024),
        ...(refusal.retryAfterMs !== undefined ? { r: Math.min(86_400_000, Math.ceil(refusal.retryAfterMs)) } : {}),
      },
    })
    const header = encodeVarint(body.byteLength)
    const frame = new Uint8Array(header.byteLength + body.byteLength)
    frame.set(header)
    frame.set(body, header.byteLength)
    stream.send(frame)
    stream.close().catch((err: unknown) => stream.abort(err instanceof Error ? err : new Error(String(err))))
    return frame.byteLength
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    return 0
  }
}

/**
 * The reason given to libp2p for resetting a refused request's stream (it does not reach the
 * remote: a reset carries no message). One instance: a flood is refused many times a second,
 * and each `new Error` captures a stack.
 */
const REFUSED = Object.assign(new Error('request refused without an answer'), { name: 'StreamResetError' })

/** Options of {@link sendRequest}. */
export interface RequestOptions extends AbortOptions {
  /** Deadline for this call; defaults to the protocol's `timeoutMs`. */
  timeoutMs?: number
}

/** Outcome of one outbound request, with transfer sizes for sessions and metrics. */
export interface RequestResult<T> {
  response: T
  bytesIn: number
  bytesOut: number
  rttMs: number
}

/**
 * Send one request and await its validated response.
 *
 * @throws {TimeoutError} when the deadline passes or `signal` aborts
 * @throws {RateLimitedError} when the remote rate-limited us
 * @throws {InvalidMessageError} when the response is malformed
 * @throws {RemoteError} when the remote failed and said why
 * @example
 * ```ts
 * const { response } = await sendRequest(libp2p, peerId, echo, { text: 'hi' })
 * ```
 */
export async function sendRequest<Req extends z.ZodType, Res extends z.ZodType>(
  host: ProtocolHost,
  target: DialTarget,
  protocol: RequestProtocol<Req, Res>,
  request: z.input<Req>,
  options: RequestOptions = {},
): Promise<RequestResult<z.output<Res>>> {
  const checked = protocol.request.safeParse(request)
  if (!checked.success) {
    throw new InvalidMessageError(`${protocol.id}: invalid request (${checked.error.issues[0]?.message})`)
  }
  const encoded = encodeMessage({ v: protocol.version, b: checked.data })
  if (encoded.byteLength > protocol.maxRequestBytes) {
    throw new MessageTooLargeError(encoded.byteLength, protocol.maxRequestBytes)
  }
  const deadline = AbortSignal.timeout(options.timeoutMs ?? protocol.timeoutMs)
  const signal = options.signal === undefined ? deadline : AbortSignal.any([deadline, options.signal])
  const started = performance.now()
  let stream: Stream
  try {
    stream = await host.dialProtocol(target, protocol.id, { signal })
  } catch (err) {
    if (signal.aborted) throw abortReason(signal)
    throw wrapDialError(err, protocol.id)
  }
  const framed = new FramedStream(stream, { maxFrameBytes: protocol.maxResponseBytes })
  try {
    await framed.write(encoded, { signal })
    await framed.closeWrite({ signal })
    const frame = await framed.read({ signal })
    if (frame === null) throw new InvalidMessageError(`${protocol.id}: remote closed without a response`)
    const envelope = decodeMessage(frame, ResponseEnvelopeSchema, {
      maxBytes: protocol.maxResponseBytes,
      label: protocol.id,
    })
    if (!envelope.ok) throw fromWireError(envelope.e, protocol.id)
    if (envelope.v !== protocol.version) {
      throw new InvalidMessageError(`${protocol.id}: response version ${envelope.v} != ${protocol.version}`)
    }
    const response = protocol.response.safeParse(envelope.b)
    if (!response.success) {
      throw new InvalidMessageError(`${protocol.id}: invalid response (${response.error.issues[0]?.message})`)
    }
    return {
      response: response.data,
      bytesIn: framed.bytesRead,
      bytesOut: framed.bytesWritten,
      rttMs: performance.now() - started,
    }
  } catch (err) {
    framed.abort(err instanceof Error ? err : new Error(String(err)))
    if (signal.aborted && !(err instanceof VainNetError && err.name !== 'StreamClosedError')) {
      throw abortReason(signal)
    }
    throw err
  } finally {
    framed.release()
  }
}

/** A dial or protocol negotiation failed; `cause` holds libp2p's error. */
export class DialError extends VainNetError {
  static override name = 'DialError'
  override name = 'DialError'
}

function wrapDialError(err: unknown, protocol: string): VainNetError {
  if (err instanceof VainNetError) return err
  const e = err as Error
  if (e?.name === 'UnsupportedProtocolError') {
    return new DialError(`remote does not support ${protocol}`, { cause: err })
  }
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') {
    return new TimeoutError(`${protocol}: dial timed out`, { cause: err })
  }
  return new DialError(`${protocol}: could not open a stream: ${e?.message ?? String(err)}`, { cause: err })
}
