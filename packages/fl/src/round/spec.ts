/**
 * What a training job asks for ({@link JobSpecSchema}): the model, data, strategy, robust
 * aggregator, codec, privacy, deadlines and committee sizes every node of the job reads the same.
 * @module
 */
import { z } from 'zod'

/** Protocol version carried in every message. */
export const ROUND_PROTOCOL_VERSION = 1

/** sha2-256 hex (payload hashes, job ids). */
export const Hex64Schema = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex chars (sha2-256)')
/**
 * A model's content address: whatever the {@link ModelStore} returns for its bytes (the
 * `@vain/memory` CID in the node, sha2-256 hex in the in-process network). Opaque to the round.
 */
export const ModelAddressSchema = z
  .string()
  .regex(/^[A-Za-z0-9]{16,128}$/, 'must be a content address (16..128 letters and digits)')
/** A peer id string. */
export const PeerIdSchema = z.string().min(1).max(128)

/** Names of pluggable parts; the runtime resolves them from registries. */
const Named = z.strictObject({ name: z.string().min(1).max(64), params: z.record(z.string(), z.unknown()).default({}) })

/** What a training job asks for. `jobId` is the hash of this spec and its creator. */
export const JobSpecSchema = z.strictObject({
  name: z.string().min(1).max(128),
  /** Architecture (see `ArchitectureSchema`). */
  architecture: z.unknown(),
  /** Content address of the initial model (see {@link ModelAddressSchema}). */
  initialModel: ModelAddressSchema,
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
   * Most samples one trainer's update may claim (its aggregation weight and its share of rewards
   * are self-reported): honest trainers declare at most this many, members refuse more.
   */
  maxSamplesPerUpdate: z.number().int().min(1).max(1e9).default(1_000_000),
  /**
   * Allow-lists signed into the job by its creator: who may aggregate and who is expected to
   * train. Every node reads the same lists, so every node computes the same committee.
   */
  participants: z
    .strictObject({
      aggregators: z.array(PeerIdSchema).max(10_000).optional(),
      trainers: z.array(PeerIdSchema).max(100_000).optional(),
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
