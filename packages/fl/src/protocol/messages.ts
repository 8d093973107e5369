/**
 * Messages of the federated round protocol: the signed job announcement, the signed update
 * metadata that travels with each client update, and the signed round result each committee
 * member publishes. All validated with zod; every signature covers a domain-separated, canonical
 * encoding of the exact fields, bound to job, round and base model (no replay across them).
 * @module
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'

/** Protocol version carried in every message. */
export const ROUND_PROTOCOL_VERSION = 1

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars (sha2-256)')
const peerIdString = z.string().min(1).max(128)
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, { message: 'expected bytes' })

/** Names of pluggable parts; the runtime resolves them from registries. */
const Named = z.strictObject({ name: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).default({}) })

/** What a training job asks for. `jobId` is the hash of this spec and its creator. */
export const JobSpecSchema = z.strictObject({
  name: z.string().min(1).max(128),
  /** Architecture (see `ArchitectureSchema`). */
  architecture: z.unknown(),
  /** CID / hash of the initial model. */
  initialModel: hex64,
  /** Dataset descriptor every trainer resolves locally, e.g. { name: 'mnist' }. */
  dataset: z.strictObject({ name: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).default({}) }),
  strategy: Named,
  aggregator: Named,
  codec: Named,
  privacy: z.strictObject({ clip: z.number().positive(), noiseMultiplier: z.number().min(0) }).optional(),
  secureAggregation: z.boolean().default(false),
  rounds: z.number().int().min(1).max(100_000),
  roundDeadlineMs: z
    .number()
    .int()
    .min(100)
    .max(24 * 3600_000),
  /** Minimum accepted updates for a committee member to aggregate. */
  minUpdates: z.number().int().min(1).max(100_000),
  committeeSize: z.number().int().min(1).max(101),
  local: z.strictObject({
    epochs: z.number().int().min(1).max(1000),
    batchSize: z.number().int().min(1).max(65_536),
    lr: z.number().positive().max(100),
    momentum: z.number().min(0).max(0.999).default(0),
    weightDecay: z.number().min(0).max(1).default(0),
    proxMu: z.number().min(0).max(100).default(0),
  }),
  /** Largest accepted encoded update (bytes). */
  maxUpdateBytes: z
    .number()
    .int()
    .min(64)
    .max(1024 * 1024 * 1024),
  /**
   * Allow-lists signed into the job by its creator: who may aggregate and who is expected to
   * train. Every node reads the same lists, so every node computes the same committee.
   */
  participants: z
    .strictObject({
      aggregators: z.array(peerIdString).max(10_000).optional(),
      trainers: z.array(peerIdString).max(100_000).optional(),
    })
    .optional(),
  /**
   * Two-level aggregation for networks too large for one committee: trainers are split into
   * `regions` (by hash of job and peer id); each region's committee aggregates its trainers'
   * updates and sends the regional aggregate to the root committee (`committeeSize`), which
   * aggregates the regions and publishes the round's result.
   */
  hierarchy: z
    .strictObject({
      regions: z.number().int().min(2).max(256),
      /** Members of each regional committee (default `committeeSize`). */
      regionalCommitteeSize: z.number().int().min(1).max(101).optional(),
    })
    .optional(),
  /**
   * Asynchronous mode: a round does not wait for a slow trainer; its update, trained on an
   * older model, joins the round that is running when it arrives (at most `maxRounds` behind),
   * weighted by `(1 + τ)^(−exponent)` for staleness τ (FedAsync / FedBuff weighting).
   */
  staleness: z
    .strictObject({
      maxRounds: z.number().int().min(1).max(100),
      exponent: z.number().min(0).max(4).default(0.5),
    })
    .optional(),
  /** Stop once a round's model reaches this accuracy on the creator's held-out set (optional). */
  targetAccuracy: z.number().min(0).max(1).optional(),
})
export type JobSpec = z.output<typeof JobSpecSchema>
export type JobSpecInput = z.input<typeof JobSpecSchema>

export const JobAnnouncementSchema = z.strictObject({
  v: z.literal(ROUND_PROTOCOL_VERSION),
  jobId: hex64,
  spec: JobSpecSchema,
  creator: peerIdString,
  createdAt: z.number().int().nonnegative(),
  signature: bytes,
})
export type JobAnnouncement = z.output<typeof JobAnnouncementSchema>

/** Travels with each update; the trainer signs it. */
export const UpdateMetaSchema = z.strictObject({
  v: z.literal(ROUND_PROTOCOL_VERSION),
  jobId: hex64,
  round: z.number().int().nonnegative(),
  /** The global model this update was trained from. */
  baseModel: hex64,
  trainer: peerIdString,
  numSamples: z.number().int().min(1).max(1e9),
  /** sha2-256 of the encoded update bytes. */
  payloadHash: hex64,
  payloadBytes: z.number().int().min(1),
  /**
   * Set on a regional aggregate (hierarchical jobs): the region, and the trainers' updates it
   * sums (`trainer` is then the regional committee member that sends it).
   */
  region: z
    .strictObject({
      index: z.number().int().min(0).max(255),
      contributions: z.array(z.lazy(() => ContributionSchema)).max(100_000),
    })
    .optional(),
  signature: bytes,
})
export type UpdateMeta = z.output<typeof UpdateMetaSchema>

export const ContributionSchema = z.strictObject({
  trainer: peerIdString,
  numSamples: z.number().int().min(1),
  payloadHash: hex64,
  payloadBytes: z.number().int().min(1),
})
export type Contribution = z.output<typeof ContributionSchema>

/** A committee member's result for one round. */
export const RoundResultSchema = z.strictObject({
  v: z.literal(ROUND_PROTOCOL_VERSION),
  jobId: hex64,
  round: z.number().int().nonnegative(),
  /** Committee attempt (raised when a committee failed to agree in time). */
  attempt: z.number().int().min(0).max(100),
  baseModel: hex64,
  newModel: hex64,
  contributions: z.array(ContributionSchema).max(100_000),
  aggregator: peerIdString,
  signature: bytes,
})
export type RoundResult = z.output<typeof RoundResultSchema>

function canonical(domain: string, fields: unknown[]): Uint8Array {
  // JSON of an array of primitives/plain objects with sorted keys: unambiguous and stable
  return new TextEncoder().encode(`${domain}\n${JSON.stringify(fields, sortedReplacer)}`)
}

function sortedReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  return value
}

/** Bytes a job creator signs. */
export function jobSigningBytes(a: Omit<JobAnnouncement, 'signature'>): Uint8Array {
  return canonical('vain-job-v1', [a.v, a.jobId, a.spec, a.creator, a.createdAt])
}

/** The job id: sha2-256 over the spec, the creator and the creation time. */
export function computeJobId(spec: JobSpec, creator: string, createdAt: number): string {
  return createHash('sha256')
    .update(canonical('vain-job-id-v1', [spec, creator, createdAt]))
    .digest('hex')
}

/** Bytes a trainer signs for an update. */
export function updateSigningBytes(m: Omit<UpdateMeta, 'signature'>): Uint8Array {
  return canonical('vain-update-v1', [
    m.v,
    m.jobId,
    m.round,
    m.baseModel,
    m.trainer,
    m.numSamples,
    m.payloadHash,
    m.payloadBytes,
    ...(m.region !== undefined ? [m.region] : []),
  ])
}

/** Bytes a committee member signs for a round result. */
export function resultSigningBytes(r: Omit<RoundResult, 'signature'>): Uint8Array {
  return canonical('vain-result-v1', [
    r.v,
    r.jobId,
    r.round,
    r.attempt,
    r.baseModel,
    r.newModel,
    r.contributions,
    r.aggregator,
  ])
}

/** sha2-256 hex of bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
