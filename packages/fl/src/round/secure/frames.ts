/**
 * Secure aggregation over the round protocol: the network message flow around the
 * `createSecAggClient` / `recoverSum` core (Bonawitz et al. 2017), selected per job with
 * `secureAggregation: true`. Committee members learn the weighted **sum** of the trainers'
 * updates, never one trainer's update, and the sum survives trainers dropping out.
 *
 * The flow of one round (attempt), with the committee's first member as its **coordinator** — it
 * only fixes the cut-off of each stage; every member recomputes the sum on its own, so members
 * still compare results as in a plain round:
 *
 * 1. **keys** — trainer → coordinator: two X25519 public keys and its sample count, signed. The
 *    coordinator closes the stage when every expected trainer advertised (or at 25 % of the
 *    round deadline) and answers every trainer with the **roster** it signs: ids, keys, counts.
 * 2. **shares** — trainer → coordinator: Shamir shares of its mask key and self-mask seed, one
 *    encrypted to each other roster member. At the cut-off (all in, or 40 % of the deadline)
 *    each trainer gets its **inbox**: the shares addressed to it.
 * 3. **masked** — trainer → every member: its update × (its samples / the roster's samples) in
 *    fixed point, masked; signed, the body bound by its hash. The coordinator closes the stage
 *    when every sharer uploaded (or at the round deadline) and answers with the **survivors**
 *    it signs: who uploaded, and the hash of each upload.
 * 4. **unmask** — trainer → every member: the signed roster and survivors, and its shares of
 *    survivors' self-mask seeds and of dropped trainers' mask keys. With `threshold` of them a
 *    member removes every mask (`recoverSum`), divides by the survivors' weight and aggregates.
 *
 * Every message is signed by its sender and bound to job, round, attempt and base model; a
 * member checks that the uploads it holds are the ones the coordinator listed (a trainer that
 * sent different uploads to different members is caught). Semi-honest model for the coordinator:
 * a coordinator that lies about the cut-offs can make the round fail, not learn an update.
 * @module
 */
import { z } from 'zod'
import { parseJsonBounded } from '../../internal/json-depth.js'
import { ForgedMessageError, RejectedUpdateError, RoundProtocolError } from '../errors.js'
import { sha256 } from '../hash.js'
import { ModelAddressSchema } from '../spec.js'

/** Version carried in every secure-aggregation message. */
export const SECAGG_PROTOCOL_VERSION = 1

/** A secure-aggregation message is malformed (bad frame, fails its schema, too large). */
export class InvalidSecAggMessageError extends RoundProtocolError {
  static override name = 'InvalidSecAggMessageError'
  override name = 'InvalidSecAggMessageError'
}

/** A secure-aggregation round cannot go on: too few trainers left, or a stage is closed. */
export class SecureRoundError extends RoundProtocolError {
  static override name = 'SecureRoundError'
  override name = 'SecureRoundError'
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars')
const hexSig = z
  .string()
  .regex(/^[0-9a-f]*$/, 'must be lowercase hex')
  .min(2)
  .max(512)
const peer = z.string().min(1).max(128)
const clientId = z.number().int().min(1).max(65_535)
/** A share's y (field element < 2^521) in hex: 66 bytes at most. */
const fieldHex = z
  .string()
  .regex(/^[0-9a-f]+$/, 'must be lowercase hex')
  .max(132)
const MAX_CLIENTS = 1_000

const roundRef = {
  v: z.literal(SECAGG_PROTOCOL_VERSION),
  jobId: hex64,
  round: z.number().int().nonnegative(),
  attempt: z.number().int().min(0).max(100),
  baseModel: ModelAddressSchema,
}

export const RosterEntrySchema = z.strictObject({
  id: clientId,
  peer,
  encryptionKey: hex64,
  maskingKey: hex64,
  numSamples: z.number().int().min(1).max(1e9),
})
export type RosterEntry = z.output<typeof RosterEntrySchema>

/** Stage 1's outcome, signed by the coordinator. */
export const SignedRosterSchema = z.strictObject({
  ...roundRef,
  kind: z.literal('roster'),
  coordinator: peer,
  threshold: z.number().int().min(2).max(MAX_CLIENTS),
  entries: z.array(RosterEntrySchema).min(2).max(MAX_CLIENTS),
  signature: hexSig,
})
export type SignedRoster = z.output<typeof SignedRosterSchema>

/** Stage 3's outcome, signed by the coordinator. */
export const SignedSurvivorsSchema = z.strictObject({
  ...roundRef,
  kind: z.literal('survivors'),
  coordinator: peer,
  rosterHash: hex64,
  sharers: z.array(clientId).max(MAX_CLIENTS),
  survivors: z.array(z.strictObject({ id: clientId, maskedHash: hex64 })).max(MAX_CLIENTS),
  signature: hexSig,
})
export type SignedSurvivors = z.output<typeof SignedSurvivorsSchema>

const revealed = z.strictObject({ owner: clientId, x: clientId, y: fieldHex })

/** Messages a trainer sends (each signed by it). */
export const SecAggRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    ...roundRef,
    kind: z.literal('keys'),
    trainer: peer,
    encryptionKey: hex64,
    maskingKey: hex64,
    numSamples: z.number().int().min(1).max(1e9),
    signature: hexSig,
  }),
  z.strictObject({
    ...roundRef,
    kind: z.literal('shares'),
    trainer: peer,
    from: clientId,
    shares: z
      .array(
        z.strictObject({
          to: clientId,
          ciphertext: z
            .string()
            .regex(/^[0-9a-f]+$/)
            .max(512),
        }),
      )
      .max(MAX_CLIENTS),
    signature: hexSig,
  }),
  z.strictObject({
    ...roundRef,
    kind: z.literal('masked'),
    trainer: peer,
    from: clientId,
    length: z
      .number()
      .int()
      .min(0)
      .max(256 * 1024 * 1024),
    /** sha2-256 of the frame's body: the masked vector as little-endian uint32s. */
    bodyHash: hex64,
    signature: hexSig,
  }),
  z.strictObject({
    ...roundRef,
    kind: z.literal('unmask'),
    trainer: peer,
    from: clientId,
    roster: SignedRosterSchema,
    survivors: SignedSurvivorsSchema,
    selfMaskShares: z.array(revealed).max(MAX_CLIENTS),
    maskingKeyShares: z.array(revealed).max(MAX_CLIENTS),
    signature: hexSig,
  }),
])
export type SecAggRequest = z.output<typeof SecAggRequestSchema>

/** Answers. */
export const SecAggResponseSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('roster'), roster: SignedRosterSchema }),
  z.strictObject({
    kind: z.literal('inbox'),
    shares: z
      .array(
        z.strictObject({
          from: clientId,
          ciphertext: z
            .string()
            .regex(/^[0-9a-f]+$/)
            .max(512),
        }),
      )
      .max(MAX_CLIENTS),
  }),
  z.strictObject({ kind: z.literal('survivors'), survivors: SignedSurvivorsSchema }),
  z.strictObject({ kind: z.literal('ack') }),
])
export type SecAggResponse = z.output<typeof SecAggResponseSchema>

/** Largest header accepted in a frame (the roster of 1,000 trainers fits comfortably). */
export const MAX_SECAGG_HEADER_BYTES = 4 * 1024 * 1024

/**
 * Deepest JSON nesting of a frame's header (an unmask message nests 4 levels: the message, its
 * roster, the roster's entries, an entry). Deeper headers are refused before they are parsed.
 */
export const MAX_SECAGG_HEADER_DEPTH = 16

/**
 * Frame = 4-byte big-endian header length ‖ UTF-8 JSON header ‖ binary body.
 *
 * @example
 * ```ts
 * const bytes = encodeSecAggFrame({ kind: 'ack' })
 * decodeSecAggFrame(bytes, SecAggResponseSchema).header // { kind: 'ack' }
 * ```
 */
export function encodeSecAggFrame(header: unknown, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header))
  if (json.byteLength > MAX_SECAGG_HEADER_BYTES) {
    throw new InvalidSecAggMessageError(`header of ${json.byteLength} bytes exceeds ${MAX_SECAGG_HEADER_BYTES}`)
  }
  const out = new Uint8Array(4 + json.byteLength + body.byteLength)
  new DataView(out.buffer).setUint32(0, json.byteLength)
  out.set(json, 4)
  out.set(body, 4 + json.byteLength)
  return out
}

/**
 * Decode and validate a frame; any malformed input (a header nested deeper than
 * {@link MAX_SECAGG_HEADER_DEPTH} included) gives {@link InvalidSecAggMessageError}.
 *
 * @example
 * ```ts
 * const { header, body } = decodeSecAggFrame(bytes, SecAggRequestSchema)
 * ```
 */
export function decodeSecAggFrame<S extends z.ZodType>(
  bytes: Uint8Array,
  schema: S,
): { header: z.output<S>; body: Uint8Array } {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < 4) {
    throw new InvalidSecAggMessageError('secure-aggregation frame shorter than its length prefix')
  }
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0)
  if (length > MAX_SECAGG_HEADER_BYTES || 4 + length > bytes.byteLength) {
    throw new InvalidSecAggMessageError(`secure-aggregation header length ${length} does not fit the frame`)
  }
  let raw: unknown
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(4, 4 + length))
    raw = parseJsonBounded(text, MAX_SECAGG_HEADER_DEPTH)
  } catch (cause) {
    throw new InvalidSecAggMessageError(
      `secure-aggregation header is not UTF-8 JSON nested at most ${MAX_SECAGG_HEADER_DEPTH} levels: ${(cause as Error).message}`,
    )
  }
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new InvalidSecAggMessageError(
      `invalid secure-aggregation message: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
    )
  }
  return { header: parsed.data, body: bytes.subarray(4 + length) }
}

function sortedReplacer(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  return value
}

/** Bytes a sender signs: a domain tag and the canonical JSON of every field but the signature. */
export function secAggSigningBytes(message: { kind: string; signature?: string }): Uint8Array {
  const { signature: _omit, ...fields } = message
  return new TextEncoder().encode(`vain-secagg-v1|${message.kind}\n${JSON.stringify(fields, sortedReplacer)}`)
}

/** The content hash of a signed roster (what the survivors list refers to). */
export function rosterHash(roster: SignedRoster): string {
  return sha256(secAggSigningBytes(roster))
}

/** Hex ↔ bytes. */
export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
export const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'))

/** A masked vector as little-endian bytes (a copy on big-endian hosts). */
export function maskedToBytes(masked: Uint32Array): Uint8Array {
  const out = new Uint8Array(masked.length * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < masked.length; i++) view.setUint32(4 * i, masked[i] as number, true)
  return out
}

/** Little-endian bytes back to a masked vector; `RejectedUpdateError` when the size is off. */
export function bytesToMasked(bytes: Uint8Array, length: number): Uint32Array {
  if (bytes.byteLength !== 4 * length) {
    throw new RejectedUpdateError(`masked input of ${bytes.byteLength} bytes, expected ${4 * length}`)
  }
  const out = new Uint32Array(length)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < length; i++) out[i] = view.getUint32(4 * i, true)
  return out
}

/** The Shamir threshold for a roster of `n`: a strict majority, at least 2. */
export function secAggThreshold(n: number): number {
  return Math.max(2, Math.floor(n / 2) + 1)
}

/** Which stage cut-offs a coordinator uses, as fractions of the round deadline. */
export const SECAGG_STAGE_FRACTIONS = { keys: 0.25, shares: 0.4 } as const

/** Check a roster's or survivors list's coordinator signature; `ForgedMessageError` if bad. */
export async function verifyCoordinatorSigned(
  message: SignedRoster | SignedSurvivors,
  expected: { coordinator: string; jobId: string; round: number; attempt: number; baseModel: string },
  verify: (signer: string, data: Uint8Array, signature: Uint8Array) => Promise<boolean>,
): Promise<void> {
  if (
    message.coordinator !== expected.coordinator ||
    message.jobId !== expected.jobId ||
    message.round !== expected.round ||
    message.attempt !== expected.attempt ||
    message.baseModel !== expected.baseModel
  ) {
    throw new ForgedMessageError(`${message.kind} is not from this round's coordinator or for this round`)
  }
  if (!(await verify(message.coordinator, secAggSigningBytes(message), fromHex(message.signature)))) {
    throw new ForgedMessageError(`bad coordinator signature on the ${message.kind}`)
  }
}

/**
 * The mean update a member recovers: the survivors' sum of weighted updates, divided by the
 * survivors' share of the roster's samples.
 */
export function meanFromSum(
  sum: Float64Array,
  roster: readonly RosterEntry[],
  survivors: readonly number[],
): { mean: Float32Array; numSamples: number } {
  const total = roster.reduce((a, e) => a + e.numSamples, 0)
  const byId = new Map(roster.map((e) => [e.id, e]))
  const numSamples = survivors.reduce((a, id) => a + (byId.get(id)?.numSamples ?? 0), 0)
  const weight = numSamples / total
  const mean = new Float32Array(sum.length)
  for (let i = 0; i < sum.length; i++) mean[i] = (sum[i] as number) / weight
  return { mean, numSamples }
}
