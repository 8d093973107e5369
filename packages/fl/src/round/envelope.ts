/**
 * Signed messages of the round: the signer signs **the exact bytes that are sent** — the CBOR
 * encoding of the message's fields (`body`), prefixed for the signature only by a domain tag
 * per message kind so a signature of one kind never verifies as another. Receivers verify the
 * signature over the bytes they received, then decode and validate them; nothing is re-encoded.
 * @module
 */
import { type DecodeOptions, decode, encode, type Token, Tokenizer, Type } from 'cborg'
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

/**
 * Deepest nesting of arrays and maps in a message body. Round messages nest a few levels (a job
 * spec's free-form fields add at most 16 more); cborg decodes recursively, so deeper bodies are
 * refused before they are decoded that deep.
 */
export const MAX_MESSAGE_DEPTH = 64

type DecodeTokenizer = NonNullable<DecodeOptions['tokenizer']>

/** cborg's tokenizer, counting open arrays, maps and tags: refuses nesting deeper than `maxDepth`. */
class DepthLimitedTokenizer implements DecodeTokenizer {
  private readonly inner: Tokenizer
  /** Items left in each open container (2 per map entry); `Infinity` for an indefinite length. */
  private readonly open: number[] = []
  private readonly maxDepth: number

  constructor(data: Uint8Array, maxDepth: number) {
    // cborg's default decode options (what `decode` hands its own tokenizer)
    this.inner = new Tokenizer(data, { strict: false, allowIndefinite: true, allowUndefined: true, allowBigInt: true })
    this.maxDepth = maxDepth
  }

  done(): boolean {
    return this.inner.done()
  }

  pos(): number {
    return this.inner.pos()
  }

  next(): Token {
    const token = this.inner.next()
    const open = this.open
    if (Type.equals(token.type, Type.break)) {
      // the end of an indefinite-length container (any other break is refused by the decoder)
      if (open[open.length - 1] === Infinity) open.pop()
    } else {
      const top = open.length - 1
      if (top >= 0 && open[top] !== Infinity) (open[top] as number)--
      const items = Type.equals(token.type, Type.array)
        ? (token.value as number)
        : Type.equals(token.type, Type.map)
          ? (token.value as number) * 2
          : Type.equals(token.type, Type.tag)
            ? 1
            : 0
      if (items > 0) {
        open.push(items)
        if (open.length > this.maxDepth) throw new Error(`nested deeper than ${this.maxDepth} levels`)
      }
    }
    while (open.length > 0 && open[open.length - 1] === 0) open.pop()
    return token
  }
}

/**
 * cborg's `decode` (strict defaults), refusing bodies nested deeper than `maxDepth` before the
 * recursive decoder gets there.
 *
 * @throws {Error} for bytes that are not one CBOR value or nest too deep
 */
export function decodeBounded(body: Uint8Array, maxDepth = MAX_MESSAGE_DEPTH): unknown {
  return decode(body, { tokenizer: new DepthLimitedTokenizer(body, maxDepth) })
}

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
    value = decodeBounded(envelope.data.body)
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
