/**
 * The envelope around every request/response message: a protocol version and either a body or a
 * typed error, so a remote's `RateLimitedError` arrives as a `RateLimitedError` here.
 * @module
 */
import { z } from 'zod'
import { RateLimitedError, RemoteError, UnsupportedVersionError, VainNetError } from '../errors.js'

/** Wire form of an error sent to the remote. */
export const WireErrorSchema = z.object({
  n: z.string().max(64),
  m: z.string().max(1024),
  r: z.number().int().nonnegative().max(86_400_000).optional(),
})
export type WireError = z.infer<typeof WireErrorSchema>

export const RequestEnvelopeSchema = z.object({ v: z.number().int().nonnegative(), b: z.unknown() })
export const ResponseEnvelopeSchema = z.union([
  z.object({ v: z.number().int().nonnegative(), ok: z.literal(true), b: z.unknown() }),
  z.object({ v: z.number().int().nonnegative(), ok: z.literal(false), e: WireErrorSchema }),
])

/**
 * Turn any local error into its wire form. Our typed errors and errors marked `expose: true` keep
 * their name and message; anything else becomes `InternalError` (no internals leak).
 */
export function toWireError(err: unknown): WireError {
  if (err instanceof RateLimitedError) return { n: err.name, m: err.message, r: err.retryAfterMs }
  if (err instanceof VainNetError) return { n: err.name, m: err.message.slice(0, 1024) }
  // other libraries' errors that are meant for the peer (e.g. a rejected model update) say so
  if (err instanceof Error && (err as { expose?: unknown }).expose === true) {
    return { n: err.name.slice(0, 64), m: err.message.slice(0, 1024) }
  }
  return { n: 'InternalError', m: 'the remote failed to handle the request' }
}

/** Turn a wire error from the remote into a typed local error. */
export function fromWireError(e: WireError, protocol: string): VainNetError {
  const message = `${protocol}: ${e.m}`
  switch (e.n) {
    case 'RateLimitedError':
      return new RateLimitedError(message, e.r ?? 1000)
    case 'UnsupportedVersionError':
      return new UnsupportedVersionError(message)
    default:
      return new RemoteError(e.n, message)
  }
}
