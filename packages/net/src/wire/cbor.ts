/**
 * Control messages travel as CBOR (cborg, deterministic encoding) and are validated with zod
 * after decoding. Any bytes in give a valid value or an {@link InvalidMessageError} /
 * {@link MessageTooLargeError} out — never another kind of throw. Nesting is bounded
 * ({@link DEFAULT_MAX_MESSAGE_DEPTH}) while decoding, so deep input is refused before anything
 * recurses into it.
 * @module
 */
import { encode } from 'cborg'
import type { z } from 'zod'
import { InvalidMessageError, MessageTooLargeError } from '../errors.js'
import { decodeCborBounded } from './depth.js'

/** Default maximum size of one control message (1 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024

/**
 * Default deepest nesting of arrays, maps and tags in one control message. Our messages nest a
 * few levels (an envelope, its body, a list of records); cborg and zod recurse per level.
 */
export const DEFAULT_MAX_MESSAGE_DEPTH = 32

/** Options for {@link decodeMessage}. */
export interface DecodeMessageOptions {
  /** Reject input longer than this many bytes. Default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  maxBytes?: number
  /** Reject input nested deeper than this many arrays, maps and tags. Default {@link DEFAULT_MAX_MESSAGE_DEPTH}. */
  maxDepth?: number
  /** A label used in error messages, e.g. the protocol id. */
  label?: string
}

/**
 * Encode a value as deterministic CBOR. `undefined` properties are dropped.
 *
 * @example
 * ```ts
 * const bytes = encodeMessage({ v: 1, text: 'hello' })
 * ```
 */
export function encodeMessage(value: unknown): Uint8Array {
  return encode(stripUndefined(value))
}

/**
 * Decode CBOR bytes and validate them against a zod schema.
 *
 * @throws {MessageTooLargeError} when `bytes` is longer than `maxBytes`
 * @throws {InvalidMessageError} when the bytes are not CBOR, nest deeper than `maxDepth` or do
 *   not match the schema
 * @example
 * ```ts
 * const Hello = z.object({ v: z.literal(1), text: z.string() })
 * const hello = decodeMessage(bytes, Hello) // typed as { v: 1, text: string }
 * ```
 */
export function decodeMessage<S extends z.ZodType>(
  bytes: Uint8Array,
  schema: S,
  options: DecodeMessageOptions = {},
): z.output<S> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES
  const label = options.label === undefined ? 'message' : `${options.label} message`
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidMessageError(`${label}: expected bytes`)
  }
  if (bytes.byteLength > maxBytes) {
    throw new MessageTooLargeError(bytes.byteLength, maxBytes)
  }
  let raw: unknown
  try {
    raw = decodeCborBounded(bytes, options.maxDepth ?? DEFAULT_MAX_MESSAGE_DEPTH, {
      useMaps: false,
      rejectDuplicateMapKeys: true,
      strict: false,
    })
  } catch (cause) {
    throw new InvalidMessageError(`${label}: not valid CBOR (${(cause as Error)?.message ?? cause})`, {
      cause,
    })
  }
  let result: ReturnType<S['safeParse']>
  try {
    result = schema.safeParse(raw) as ReturnType<S['safeParse']>
  } catch (cause) {
    throw new InvalidMessageError(`${label}: validation failed`, { cause })
  }
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ')
    throw new InvalidMessageError(`${label}: invalid (${issues})`, { cause: result.error })
  }
  return result.data as z.output<S>
}

function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined)
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = stripUndefined(v)
    }
    return out
  }
  return value
}
