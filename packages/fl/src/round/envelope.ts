/**
 * Signed messages of the round: the signer signs **the exact bytes that are sent** — the CBOR
 * encoding of the message's fields (`body`), prefixed for the signature only by a domain tag
 * per message kind so a signature of one kind never verifies as another. Receivers verify the
 * signature over the bytes they received, then decode and validate them; nothing is re-encoded.
 * @module
 */
import { decode, encode } from 'cborg'
import { z } from 'zod'
import { InvalidMessageError } from './errors.js'

/** The kinds of signed round messages (the signature's domain). */
export type MessageKind = 'job' | 'update' | 'result' | 'holdings'

/** A signed message as it travels: the encoded body and the signature over it. */
export interface SignedMessage {
  /** CBOR of the message's fields: exactly what was signed. */
  body: Uint8Array
  signature: Uint8Array
}

const bytes = (max: number) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array && v.byteLength <= max, {
    message: `expected at most ${max} bytes`,
  })

/** Largest body of any signed round message (a job spec or a result listing 100,000 contributions). */
export const MAX_MESSAGE_BODY_BYTES = 16 * 1024 * 1024

/** zod schema of {@link SignedMessage} (what a transport carries). */
export const SignedMessageSchema = z.strictObject({
  body: bytes(MAX_MESSAGE_BODY_BYTES),
  signature: bytes(1024),
})

const encoder = new TextEncoder()

/** The bytes a signature covers: `vain-<kind>-v1\0` then the body, unchanged. */
export function signingInput(kind: MessageKind, body: Uint8Array): Uint8Array {
  const tag = encoder.encode(`vain-${kind}-v1\u0000`)
  const out = new Uint8Array(tag.byteLength + body.byteLength)
  out.set(tag, 0)
  out.set(body, tag.byteLength)
  return out
}

function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined)
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k, withoutUndefined(v)]),
    )
  }
  return value
}

/** Encode `fields` and sign the encoding. */
export async function signMessage(
  kind: MessageKind,
  fields: object,
  sign: (data: Uint8Array) => Promise<Uint8Array>,
): Promise<SignedMessage> {
  const body = encode(withoutUndefined(fields))
  return { body, signature: await sign(signingInput(kind, body)) }
}

/**
 * Decode and validate a message's body (its signature is checked separately, by
 * {@link verifyMessage}, once the cheap checks on the header passed).
 *
 * @throws {InvalidMessageError} for anything that is not a valid signed message of this kind
 */
export function openMessage<S extends z.ZodType>(kind: MessageKind, raw: unknown, schema: S): z.output<S> {
  const envelope = SignedMessageSchema.safeParse(raw)
  if (!envelope.success) throw new InvalidMessageError(`${kind}: not a signed message (${issue(envelope.error)})`)
  let value: unknown
  try {
    value = decode(envelope.data.body)
  } catch (err) {
    throw new InvalidMessageError(`${kind}: undecodable body: ${(err as Error).message}`)
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) throw new InvalidMessageError(`${kind}: ${issue(parsed.error)}`)
  return parsed.data
}

/** True when `message` carries `signer`'s signature over its body. */
export function verifyMessage(
  kind: MessageKind,
  message: SignedMessage,
  signer: string,
  verify: (signer: string, data: Uint8Array, signature: Uint8Array) => Promise<boolean>,
): Promise<boolean> {
  return verify(signer, signingInput(kind, message.body), message.signature)
}

function issue(error: z.ZodError): string {
  const first = error.issues[0]
  return first === undefined ? 'invalid' : `${first.path.join('.') || '(root)'}: ${first.message}`
}
