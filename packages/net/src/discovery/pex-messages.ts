/**
 * Wire messages of the peer-exchange protocol, CBOR + zod, one length-prefixed message each way:
 * the asker sends a {@link PexRequest}, the server answers with a {@link PexResponse}.
 * @module
 */
import type { LengthPrefixedStream } from '@libp2p/utils'
import { z } from 'zod'
import { InvalidMessageError, MessageTooLargeError, TimeoutError } from '../errors.js'
import { decodeMessage } from '../wire/index.js'

/** Protocol id of peer exchange. */
export const PEX_PROTOCOL = '/vain/pex/1.0.0'

/**
 * The peer-store tag a vAIn node sets on a peer once it passed the vAIn handshake (and removes
 * when the peer is rejected); peer exchange passes on only peers carrying it.
 */
export const AUTHENTICATED_PEER_TAG = 'vain/authenticated'

/** Current message version. */
export const PEX_VERSION = 1

/** Ask for up to `max` signed peer records. */
export const PexRequest = z.object({
  v: z.literal(PEX_VERSION),
  max: z.number().int().min(0).max(10_000),
})
export type PexRequest = z.output<typeof PexRequest>

const Bytes = z.instanceof(Uint8Array)

/** The answer: marshalled peer record envelopes, or an error the server chose to report. */
export function pexResponseSchema(maxRecords: number) {
  return z.union([
    z.object({ v: z.literal(PEX_VERSION), records: z.array(Bytes).max(maxRecords) }),
    z.object({
      v: z.literal(PEX_VERSION),
      error: z.object({
        name: z.string().max(100),
        message: z.string().max(1000),
        retryAfterMs: z.number().int().min(0).optional(),
      }),
    }),
  ])
}
export type PexResponse = z.output<ReturnType<typeof pexResponseSchema>>

/**
 * Read one length-prefixed message and decode it; every failure becomes a typed error:
 * {@link MessageTooLargeError}, {@link InvalidMessageError} (bad CBOR/shape, early end of
 * stream) or {@link TimeoutError} (the signal fired). Other stream errors are rethrown as is.
 */
export async function readMessage<S extends z.ZodType>(
  lp: LengthPrefixedStream,
  schema: S,
  options: { maxBytes: number; label: string; signal: AbortSignal },
): Promise<z.output<S>> {
  let bytes: Uint8Array
  try {
    bytes = (await lp.read({ signal: options.signal })).subarray()
  } catch (err) {
    throw toReadError(err, options)
  }
  return decodeMessage(bytes, schema, { maxBytes: options.maxBytes, label: options.label })
}

function toReadError(err: unknown, options: { maxBytes: number; label: string; signal: AbortSignal }): unknown {
  const name = (err as Error | undefined)?.name
  const message = (err as Error | undefined)?.message ?? String(err)
  if (name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError') {
    const size = Number(/(\d+) > \d+/.exec(message)?.[1] ?? Number.NaN)
    return new MessageTooLargeError(Number.isFinite(size) ? size : options.maxBytes + 1, options.maxBytes, {
      cause: err,
    })
  }
  if (name === 'UnexpectedEOFError') {
    return new InvalidMessageError(`${options.label}: stream ended before a full message`, { cause: err })
  }
  if (options.signal.aborted) {
    return new TimeoutError(`${options.label}: no message before the deadline`, { cause: err })
  }
  return err
}
