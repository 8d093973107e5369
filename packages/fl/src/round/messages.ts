/**
 * Messages of the federated round: the job announcement, the header that travels before each
 * update's payload, a committee member's round result, and the holdings a member declares at the
 * deadline. Each is a {@link SignedMessage} whose body is the CBOR of the fields below, signed as
 * sent; decoded values keep their `envelope` so a node can pass on or persist the exact bytes.
 * @module
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { type MessageKind, openMessage, type SignedMessage, signMessage } from './envelope.js'
import {
  Hex64Schema,
  type JobSpec,
  JobSpecSchema,
  ModelAddressSchema,
  PeerIdSchema,
  ROUND_PROTOCOL_VERSION,
} from './spec.js'

const v = z.literal(ROUND_PROTOCOL_VERSION)
const round = z.number().int().nonnegative().max(1e9)
const attempt = z.number().int().min(0).max(100)

/** One trainer's accepted update, as a result lists it. */
export const ContributionSchema = z.strictObject({
  trainer: PeerIdSchema,
  numSamples: z.number().int().min(1).max(1e9),
  payloadHash: Hex64Schema,
  payloadBytes: z.number().int().min(1),
  /** Proven updates: the digest of the update's proofs (what a settlement leaf commits to). */
  proofDigest: z
    .string()
    .regex(/^0x[0-9a-f]{64}$/, 'must be 0x and 64 lowercase hex chars')
    .optional(),
})
export type Contribution = z.output<typeof ContributionSchema>

/** Fields of a job announcement (signed by `creator`). */
export const JobBodySchema = z.strictObject({
  v,
  jobId: Hex64Schema,
  spec: JobSpecSchema,
  creator: PeerIdSchema,
  createdAt: z.number().int().nonnegative(),
})

/**
 * Fields of an update's header (signed by `trainer`; by the regional member for a regional
 * aggregate): everything a member checks before it reads one payload byte.
 */
export const UpdateMetaBodySchema = z.strictObject({
  v,
  jobId: Hex64Schema,
  round,
  /** The global model this update was trained from. */
  baseModel: ModelAddressSchema,
  trainer: PeerIdSchema,
  numSamples: z.number().int().min(1).max(1e9),
  /** sha2-256 of the encoded update bytes. */
  payloadHash: Hex64Schema,
  payloadBytes: z.number().int().min(1),
  /**
   * Proven updates: the payload ends with `count` proofs of `bytes` bytes in all (within
   * `payloadBytes`, covered by `payloadHash`), one per block of 256 quantized values.
   */
  proofs: z
    .strictObject({
      count: z
        .number()
        .int()
        .min(1)
        .max(1 << 24),
      bytes: z.number().int().min(1),
    })
    .optional(),
  /** Set on a regional aggregate (hierarchical jobs): the region and the updates it combines. */
  region: z
    .strictObject({
      index: z.number().int().min(0).max(255),
      contributions: z.array(ContributionSchema).min(1).max(100_000),
    })
    .optional(),
})

/** Fields of a committee member's result for a round (signed by `aggregator`). */
export const RoundResultBodySchema = z.strictObject({
  v,
  jobId: Hex64Schema,
  round,
  /** Committee attempt (raised when a committee failed to agree in time). */
  attempt,
  baseModel: ModelAddressSchema,
  newModel: ModelAddressSchema,
  contributions: z.array(ContributionSchema).max(100_000),
  aggregator: PeerIdSchema,
})

/** One update a member holds: who trained it and the hash of its payload. */
export const HeldEntrySchema = z.strictObject({ trainer: PeerIdSchema, payloadHash: Hex64Schema })
export type HeldEntry = z.output<typeof HeldEntrySchema>

/**
 * What a committee member holds when it stops taking updates (signed by `member`): members
 * aggregate the updates a majority of them hold (see `agreeOnContributors`).
 */
export const HoldingsBodySchema = z.strictObject({
  v,
  jobId: Hex64Schema,
  round,
  attempt,
  baseModel: ModelAddressSchema,
  /** −1: the round's committee; r ≥ 0: region r's committee (hierarchical jobs). */
  scope: z.number().int().min(-1).max(255),
  member: PeerIdSchema,
  held: z.array(HeldEntrySchema).max(100_000),
})

/** A decoded message with the exact signed bytes it came in. */
export type Enveloped<T> = T & { readonly envelope: SignedMessage }

export type JobAnnouncement = Enveloped<z.output<typeof JobBodySchema>>
export type UpdateMeta = Enveloped<z.output<typeof UpdateMetaBodySchema>>
export type RoundResult = Enveloped<z.output<typeof RoundResultBodySchema>>
export type Holdings = Enveloped<z.output<typeof HoldingsBodySchema>>

const schemas = {
  job: JobBodySchema,
  update: UpdateMetaBodySchema,
  result: RoundResultBodySchema,
  holdings: HoldingsBodySchema,
} as const satisfies Record<MessageKind, z.ZodType>

type Body<K extends MessageKind> = z.output<(typeof schemas)[K]>
type Input<K extends MessageKind> = z.input<(typeof schemas)[K]>

/** Sign a message of `kind`: validates the fields, encodes them once, signs those bytes. */
export async function signRoundMessage<K extends MessageKind>(
  kind: K,
  fields: Input<K>,
  sign: (data: Uint8Array) => Promise<Uint8Array>,
): Promise<Enveloped<Body<K>>> {
  const valid = schemas[kind].parse(fields) as Body<K>
  const envelope = await signMessage(kind, valid, sign)
  return { ...valid, envelope }
}

/**
 * Decode and validate a message of `kind` from raw transport bytes (signature not yet checked).
 *
 * @throws {InvalidMessageError}
 */
export function openRoundMessage<K extends MessageKind>(kind: K, raw: unknown): Enveloped<Body<K>> {
  const value = openMessage(kind, raw, schemas[kind]) as Body<K>
  const envelope = raw as SignedMessage
  return { ...value, envelope: { body: envelope.body, signature: envelope.signature } }
}

/** The fields of a decoded message, without its envelope. */
export function fieldsOf<T extends object>(message: Enveloped<T>): T {
  const { envelope: _envelope, ...fields } = message
  return fields as unknown as T
}

/** The job id: sha2-256 over the spec, the creator and the creation time. */
export function computeJobId(spec: JobSpec, creator: string, createdAt: number): string {
  return createHash('sha256')
    .update(JSON.stringify(['vain-job-id-v1', sortKeys(spec), creator, createdAt]))
    .digest('hex')
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, sortKeys(x)]),
    )
  }
  return value
}

/** A contribution record of an update header. */
export function contributionOf(
  header: Pick<UpdateMeta, 'trainer' | 'numSamples' | 'payloadHash' | 'payloadBytes'>,
  proofDigest?: string,
): Contribution {
  return {
    trainer: header.trainer,
    numSamples: header.numSamples,
    payloadHash: header.payloadHash,
    payloadBytes: header.payloadBytes,
    ...(proofDigest !== undefined ? { proofDigest } : {}),
  }
}
