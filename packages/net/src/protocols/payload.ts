/**
 * Streaming of large binary payloads (model weights, updates: hundreds of MB) over one libp2p
 * stream with backpressure end to end: the sender waits for the muxer to drain, the receiver
 * reads a chunk only when the consumer asks for it. A zod-validated header carries metadata;
 * chunks travel raw (optionally compressed per chunk); the receiver acknowledges at the end so
 * the sender knows the payload was accepted.
 * @module
 */
import type { AbortOptions, Connection, Stream } from '@libp2p/interface'
import { z } from 'zod'
import { InvalidMessageError, MessageTooLargeError, TimeoutError, VainNetError } from '../errors.js'
import { decodeMessage, encodeMessage } from '../wire/index.js'
import { fromWireError, ResponseEnvelopeSchema, toWireError } from './envelope.js'
import { abortReason, FramedStream, StreamClosedError } from './framed-stream.js'
import {
  DialError,
  type DialTarget,
  type InboundGuard,
  type ProtocolHost,
  type RequestContext,
} from './request-response.js'

/** A streaming payload protocol: id, version, metadata schema and limits. */
export interface PayloadProtocol<Meta extends z.ZodType = z.ZodType> {
  readonly id: string
  readonly version: number
  readonly meta: Meta
  /** Largest payload accepted, in (uncompressed) bytes. */
  readonly maxPayloadBytes: number
  /** Size of the chunks the sender cuts the payload into. */
  readonly chunkBytes: number
  /** Longest wait for the next chunk before the transfer is abandoned (ms). */
  readonly idleTimeoutMs: number
  /** Largest encoded metadata (the header sent before the payload). */
  readonly maxMetaBytes: number
}

/** Input of {@link definePayloadProtocol}. */
export interface PayloadProtocolInit<Meta extends z.ZodType> {
  id: string
  version?: number
  meta: Meta
  maxPayloadBytes?: number
  chunkBytes?: number
  idleTimeoutMs?: number
  /** Largest encoded metadata, in bytes. Default 64 KiB. */
  maxMetaBytes?: number
}

/**
 * Define a streaming payload protocol.
 *
 * @example
 * ```ts
 * const modelTransfer = definePayloadProtocol({
 *   id: '/example/model/1.0.0',
 *   meta: z.object({ cid: z.string() }),
 *   maxPayloadBytes: 512 * 1024 * 1024,
 * })
 * ```
 */
export function definePayloadProtocol<Meta extends z.ZodType>(init: PayloadProtocolInit<Meta>): PayloadProtocol<Meta> {
  if (!init.id.startsWith('/')) throw new TypeError(`protocol id must start with '/': ${init.id}`)
  const chunkBytes = init.chunkBytes ?? 256 * 1024
  if (chunkBytes < 1024 || chunkBytes > 8 * 1024 * 1024) throw new RangeError('chunkBytes must be in [1 KiB, 8 MiB]')
  const maxMetaBytes = init.maxMetaBytes ?? DEFAULT_MAX_META_BYTES
  if (!Number.isSafeInteger(maxMetaBytes) || maxMetaBytes < 1024 || maxMetaBytes > 64 * 1024 * 1024) {
    throw new RangeError('maxMetaBytes must be in [1 KiB, 64 MiB]')
  }
  return {
    id: init.id,
    version: init.version ?? 1,
    meta: init.meta,
    maxPayloadBytes: init.maxPayloadBytes ?? 256 * 1024 * 1024,
    chunkBytes,
    idleTimeoutMs: init.idleTimeoutMs ?? 30_000,
    maxMetaBytes,
  }
}

/** Per-chunk compression used by payload transfers (see `AdaptiveCompressor`). */
export interface ChunkCodec {
  /** Compress one chunk; returns self-describing bytes. */
  compress(chunk: Uint8Array): Promise<Uint8Array>
  /** Decompress one chunk; must throw a typed error on bad input or output over `maxOutputBytes`. */
  decompress(bytes: Uint8Array, maxOutputBytes: number): Promise<Uint8Array>
}

const HeaderSchema = z.object({
  v: z.number().int().nonnegative(),
  meta: z.unknown(),
  /** Total payload bytes (uncompressed), when the sender knows it. */
  size: z.number().int().nonnegative().optional(),
  /** 1 when every chunk is compressed with the chunk codec. */
  c: z.union([z.literal(0), z.literal(1)]),
})

const DEFAULT_MAX_META_BYTES = 64 * 1024
/** Room for the header's own fields around the metadata. */
const HEADER_OVERHEAD_BYTES = 1024

/** Handles one validated payload; `body` yields its chunks as the sender's data arrives. */
export type PayloadHandler<Meta extends z.ZodType> = (
  meta: z.output<Meta>,
  body: AsyncIterable<Uint8Array>,
  context: RequestContext & { size?: number },
) => Promise<void>

/** Options of {@link handlePayloads}. */
export interface HandlePayloadOptions extends InboundGuard {
  maxInboundStreams?: number
  /** Decompresses chunks of senders that compress. Without it, compressed payloads are refused. */
  codec?: ChunkCodec
  signal?: AbortSignal
}

/**
 * Register a receiver for a payload protocol.
 *
 * @example
 * ```ts
 * await handlePayloads(libp2p, modelTransfer, async (meta, body) => {
 *   for await (const chunk of body) file.write(chunk)
 * })
 * ```
 */
export async function handlePayloads<Meta extends z.ZodType>(
  host: ProtocolHost,
  protocol: PayloadProtocol<Meta>,
  handler: PayloadHandler<Meta>,
  options: HandlePayloadOptions = {},
): Promise<void> {
  await host.handle(
    protocol.id,
    async (stream: Stream, connection: Connection) => {
      await receiveOne(stream, connection, protocol, handler, options)
    },
    { maxInboundStreams: options.maxInboundStreams ?? 16, runOnLimitedConnection: false },
  )
}

async function receiveOne<Meta extends z.ZodType>(
  stream: Stream,
  connection: Connection,
  protocol: PayloadProtocol<Meta>,
  handler: PayloadHandler<Meta>,
  options: HandlePayloadOptions,
): Promise<void> {
  const started = performance.now()
  const remotePeer = connection.remotePeer
  const stop = new AbortController()
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, options.signal])
  // a compressed chunk may be a little larger than the raw one
  const maxHeaderBytes = protocol.maxMetaBytes + HEADER_OVERHEAD_BYTES
  const framed = new FramedStream(stream, { maxFrameBytes: protocol.chunkBytes + 64 * 1024 + maxHeaderBytes })
  let ok = false
  let errorName: string | undefined
  let payloadBytes = 0
  let finished = false
  try {
    try {
      options.admit?.(remotePeer, protocol.id, connection)
      const first = await framed.read({ signal: idle(signal, protocol.idleTimeoutMs) })
      if (first === null) throw new InvalidMessageError(`${protocol.id}: stream closed before a header`)
      const header = decodeMessage(first, HeaderSchema, { maxBytes: maxHeaderBytes, label: protocol.id })
      if (header.v !== protocol.version) {
        throw new InvalidMessageError(`${protocol.id}: version ${header.v} not supported`)
      }
      if (header.size !== undefined && header.size > protocol.maxPayloadBytes) {
        throw new MessageTooLargeError(header.size, protocol.maxPayloadBytes)
      }
      if (header.c === 1 && options.codec === undefined) {
        throw new InvalidMessageError(`${protocol.id}: compressed payloads are not accepted here`)
      }
      const meta = protocol.meta.safeParse(header.meta)
      if (!meta.success) {
        throw new InvalidMessageError(`${protocol.id}: invalid metadata (${meta.error.issues[0]?.message})`)
      }
      const codec = header.c === 1 ? options.codec : undefined
      const body: AsyncIterable<Uint8Array> = {
        [Symbol.asyncIterator]: async function* () {
          for (;;) {
            const frame = await framed.read({ signal: idle(signal, protocol.idleTimeoutMs) })
            if (frame === null) throw new StreamClosedError(`${protocol.id}: payload ended without end marker`)
            if (frame.byteLength === 0) break
            const chunk =
              codec === undefined
                ? frame
                : await codec.decompress(frame, Math.min(protocol.chunkBytes, protocol.maxPayloadBytes - payloadBytes))
            payloadBytes += chunk.byteLength
            if (payloadBytes > protocol.maxPayloadBytes) {
              throw new MessageTooLargeError(payloadBytes, protocol.maxPayloadBytes)
            }
            yield chunk
          }
          if (header.size !== undefined && payloadBytes !== header.size) {
            throw new InvalidMessageError(`${protocol.id}: announced ${header.size} bytes, received ${payloadBytes}`)
          }
          finished = true
        },
      }
      await handler(meta.data, body, {
        remotePeer,
        connection,
        protocol: protocol.id,
        signal,
        ...(header.size !== undefined ? { size: header.size } : {}),
      })
      if (!finished) throw new InvalidMessageError(`${protocol.id}: handler did not consume the payload`)
      await framed.write(encodeMessage({ v: protocol.version, ok: true, b: null }))
      ok = true
    } catch (err) {
      errorName = (err as Error)?.name ?? 'Error'
      if (err instanceof StreamClosedError) throw err
      await framed.write(encodeMessage({ v: protocol.version, ok: false, e: toWireError(err) }), {
        signal: AbortSignal.timeout(5_000),
      })
    }
    await framed.closeWrite({ signal: AbortSignal.timeout(5_000) })
    if (!finished) {
      // refused before the whole payload was read: reset the stream so the rest is neither read
      // nor buffered, and the sender stops (our answer, sent first, reaches it before the reset)
      framed.abort(new StreamClosedError(`${protocol.id}: payload refused (${errorName ?? 'not read'})`))
    }
  } catch (err) {
    errorName ??= (err as Error)?.name ?? 'Error'
    framed.abort(err instanceof Error ? err : new Error(String(err)))
  } finally {
    stop.abort()
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

function idle(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)])
}

/** Options of {@link sendPayload}. */
export interface SendPayloadOptions extends AbortOptions {
  /** Compress each chunk with this codec (the receiver must accept compression). */
  codec?: ChunkCodec
  /** Called after each chunk with the payload bytes sent so far. */
  onProgress?: (sentBytes: number, totalBytes: number | undefined) => void
}

/** What a transfer cost. */
export interface SendPayloadResult {
  /** Payload bytes (uncompressed). */
  payloadBytes: number
  /** Bytes that went over the stream (frames, header, compression). */
  wireBytes: number
  /** payloadBytes / wireBytes. */
  ratio: number
  durationMs: number
}

/**
 * Stream a payload to a peer; resolves when the receiver has consumed and accepted it.
 *
 * @example
 * ```ts
 * const result = await sendPayload(libp2p, peerId, modelTransfer, { cid }, weightsBytes)
 * console.log(`${result.payloadBytes} bytes in ${result.durationMs} ms`)
 * ```
 */
export async function sendPayload<Meta extends z.ZodType>(
  host: ProtocolHost,
  target: DialTarget,
  protocol: PayloadProtocol<Meta>,
  meta: z.input<Meta>,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  options: SendPayloadOptions = {},
): Promise<SendPayloadResult> {
  const checkedMeta = protocol.meta.safeParse(meta)
  if (!checkedMeta.success) {
    throw new InvalidMessageError(`${protocol.id}: invalid metadata (${checkedMeta.error.issues[0]?.message})`)
  }
  const size = data instanceof Uint8Array ? data.byteLength : undefined
  if (size !== undefined && size > protocol.maxPayloadBytes) {
    throw new MessageTooLargeError(size, protocol.maxPayloadBytes)
  }
  const started = performance.now()
  const signal = options.signal
  let stream: Stream
  try {
    stream = await host.dialProtocol(target, protocol.id, signal === undefined ? {} : { signal })
  } catch (err) {
    if (signal?.aborted === true) throw abortReason(signal)
    throw new DialError(`${protocol.id}: could not open a stream: ${(err as Error)?.message}`, { cause: err })
  }
  const framed = new FramedStream(stream, { maxFrameBytes: 64 * 1024 })
  // the receiver answers once: after the end marker, or early when it refuses the header or the
  // payload (it then resets the stream): read its answer while sending, stop sending when it comes
  const answerDeadline = new AbortController()
  const stopSending = new AbortController()
  const answer = framed
    .read({ signal: signal === undefined ? answerDeadline.signal : AbortSignal.any([signal, answerDeadline.signal]) })
    .then(
      (frame) => ({ frame }),
      (error: unknown) => ({ error }),
    )
    .finally(() => stopSending.abort())
  const writeOpts = {
    signal: signal === undefined ? stopSending.signal : AbortSignal.any([signal, stopSending.signal]),
  }
  let payloadBytes = 0
  let deadline: ReturnType<typeof setTimeout> | undefined
  try {
    const header = encodeMessage({
      v: protocol.version,
      meta: checkedMeta.data,
      size,
      c: options.codec === undefined ? 0 : 1,
    })
    if (header.byteLength > protocol.maxMetaBytes + HEADER_OVERHEAD_BYTES) {
      throw new MessageTooLargeError(header.byteLength, protocol.maxMetaBytes + HEADER_OVERHEAD_BYTES)
    }
    let complete = false
    try {
      await framed.write(header, writeOpts)
      for await (const piece of chunked(data, protocol.chunkBytes)) {
        if (stopSending.signal.aborted) break
        payloadBytes += piece.byteLength
        if (payloadBytes > protocol.maxPayloadBytes) {
          throw new MessageTooLargeError(payloadBytes, protocol.maxPayloadBytes)
        }
        const frame = options.codec === undefined ? piece : await options.codec.compress(piece)
        await framed.write(frame, writeOpts)
        // libp2p takes one more frame into the stream's buffer per window update, however full it
        // is: keep at most a few chunks there (memory; and a refusal stops the transfer at once)
        await drained(framed.stream, 4 * protocol.chunkBytes, writeOpts.signal)
        options.onProgress?.(payloadBytes, size)
      }
      if (!stopSending.signal.aborted) {
        await framed.write(new Uint8Array(0), writeOpts)
        await framed.closeWrite(writeOpts)
        complete = true
      }
    } catch (err) {
      // the answer came, or the stream failed (after a refusal, the answer is already here)
      if (signal?.aborted === true || !(stopSending.signal.aborted || err instanceof StreamClosedError)) throw err
    }
    deadline = setTimeout(
      () => answerDeadline.abort(new TimeoutError(`${protocol.id}: no answer within ${protocol.idleTimeoutMs} ms`)),
      protocol.idleTimeoutMs,
    )
    const got = await answer
    if ('error' in got) throw got.error
    if (got.frame === null) throw new StreamClosedError(`${protocol.id}: receiver closed without an acknowledgement`)
    const envelope = decodeMessage(got.frame, ResponseEnvelopeSchema, { label: protocol.id })
    if (!envelope.ok) throw fromWireError(envelope.e, protocol.id)
    if (!complete) throw new InvalidMessageError(`${protocol.id}: receiver accepted a payload it did not receive`)
    const wireBytes = framed.bytesWritten
    return {
      payloadBytes,
      wireBytes,
      ratio: wireBytes === 0 ? 1 : payloadBytes / wireBytes,
      durationMs: performance.now() - started,
    }
  } catch (err) {
    framed.abort(err instanceof Error ? err : new Error(String(err)))
    if (signal?.aborted === true) throw abortReason(signal)
    if (err instanceof VainNetError) throw err
    throw new StreamClosedError(`${protocol.id}: transfer failed: ${(err as Error)?.message}`, { cause: err })
  } finally {
    clearTimeout(deadline)
    answerDeadline.abort()
    framed.release()
  }
}

/** Resolves once `stream` holds at most `maxQueued` bytes not yet handed to the muxer (or closed). */
async function drained(stream: Stream, maxQueued: number, signal: AbortSignal): Promise<void> {
  while (stream.writeBufferLength > maxQueued && stream.writeStatus === 'writable') {
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        for (const type of ['drain', 'idle', 'close'] as const) stream.removeEventListener(type, done)
        signal.removeEventListener('abort', aborted)
      }
      const done = () => {
        cleanup()
        resolve()
      }
      const aborted = () => {
        cleanup()
        reject(abortReason(signal))
      }
      for (const type of ['drain', 'idle', 'close'] as const) stream.addEventListener(type, done)
      signal.addEventListener('abort', aborted)
      if (signal.aborted) aborted()
    })
  }
}

/** Re-cut a payload into chunks of at most `size` bytes (copies only when merging small pieces). */
async function* chunked(data: Uint8Array | AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    for (let offset = 0; offset < data.byteLength; offset += size) {
      yield data.subarray(offset, Math.min(offset + size, data.byteLength))
    }
    return
  }
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  for await (const piece of data) {
    if (!(piece instanceof Uint8Array)) throw new TypeError('payload chunks must be Uint8Array')
    let rest = piece
    while (rest.byteLength > 0) {
      const take = Math.min(size - pendingBytes, rest.byteLength)
      pending.push(rest.subarray(0, take))
      pendingBytes += take
      rest = rest.subarray(take)
      if (pendingBytes === size) {
        yield concat(pending, pendingBytes)
        pending = []
        pendingBytes = 0
      }
    }
  }
  if (pendingBytes > 0) yield concat(pending, pendingBytes)
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0]
  const out = new Uint8Array(total)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}
