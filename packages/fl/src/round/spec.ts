/**
 * What a training job asks for ({@link JobSpecSchema}): the model, data, strategy, robust
 * aggregator, codec, privacy, deadlines and committee sizes every node of the job reads the same.
 * @module
 */
import { z } from 'zod'
import { isLocalDataset, LocalDatasetSchema } from '../data/local.js'
import { ArchitectureSchema, inputSizeOf } from '../models/architecture.js'

/** Protocol version carried in every message. */
export const ROUND_PROTOCOL_VERSION = 1

/** Quantized values one update proof covers (the int8 codec's block: one scale per proof). */
export const PROOF_CHUNK_VALUES = 256

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

/** Deepest nesting of a free-form field of a job (`architecture`, each `params`). */
export const MAX_JOB_FIELD_DEPTH = 16
/** Largest encoded size of a free-form field of a job (bytes, about its CBOR size). */
export const MAX_JOB_FIELD_BYTES = 64 * 1024

const utf8 = new TextEncoder()

/** Bytes of a CBOR header carrying `n`. */
function headerBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9
}

/**
 * Nesting depth and about the CBOR size of `value`, walked without recursion; stops as soon as
 * either passes its limit (so a deep, huge or cyclic value costs at most the limits to refuse).
 * A scalar has depth 0, `{ a: 1 }` depth 1.
 */
export function measureValue(
  value: unknown,
  limits: { maxDepth: number; maxBytes: number },
): { depth: number; bytes: number; exceeded?: 'depth' | 'bytes' } {
  let depth = 0
  let bytes = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number]
    if (v !== null && typeof v === 'object' && !ArrayBuffer.isView(v) && d + 1 > depth) {
      depth = d + 1 // a container: one level more than where it is
      if (depth > limits.maxDepth) return { depth, bytes, exceeded: 'depth' }
    }
    if (typeof v === 'string') {
      bytes += v.length > limits.maxBytes ? v.length : utf8.encode(v).byteLength
      bytes += headerBytes(v.length)
    } else if (typeof v === 'number') {
      bytes += Number.isInteger(v) ? headerBytes(Math.abs(v)) : 9
    } else if (typeof v === 'bigint') {
      bytes += 9
    } else if (v === null || v === undefined || typeof v === 'boolean') {
      bytes += 1
    } else if (ArrayBuffer.isView(v)) {
      bytes += v.byteLength + headerBytes(v.byteLength)
    } else if (Array.isArray(v)) {
      bytes += v.length > limits.maxBytes ? v.length : headerBytes(v.length) // items take a byte or more
      for (let i = v.length - 1; i >= 0 && bytes <= limits.maxBytes; i--) stack.push([v[i], d + 1])
    } else if (v instanceof Map) {
      bytes += v.size > limits.maxBytes ? v.size : headerBytes(v.size)
      for (const [k, item] of v) {
        if (bytes > limits.maxBytes) break
        stack.push([k, d + 1], [item, d + 1])
      }
    } else if (typeof v === 'object') {
      const keys = Object.keys(v as object)
      bytes += keys.length > limits.maxBytes ? keys.length : headerBytes(keys.length)
      for (const k of keys) {
        if (bytes > limits.maxBytes) break
        bytes += utf8.encode(k).byteLength + 1
        stack.push([(v as Record<string, unknown>)[k], d + 1])
      }
    } else {
      bytes += 9 // a function or a symbol: refused by the encoder anyway
    }
    if (bytes > limits.maxBytes) return { depth, bytes, exceeded: 'bytes' }
  }
  return { depth, bytes }
}

/** Refuse a free-form value nested deeper than 16 levels or encoding to more than 64 KiB. */
function bounded(value: unknown, ctx: z.RefinementCtx): void {
  const m = measureValue(value, { maxDepth: MAX_JOB_FIELD_DEPTH, maxBytes: MAX_JOB_FIELD_BYTES })
  if (m.exceeded === 'depth') {
    ctx.addIssue({ code: 'custom', message: `nested deeper than ${MAX_JOB_FIELD_DEPTH} levels` })
  } else if (m.exceeded === 'bytes') {
    ctx.addIssue({ code: 'custom', message: `larger than ${MAX_JOB_FIELD_BYTES} bytes encoded` })
  }
}

/** Free-form parameters of a part (or the dataset): at most 16 levels deep and 64 KiB. */
const Params = z.record(z.string(), z.unknown()).superRefine(bounded).default({})

/** Names of pluggable parts; the runtime resolves them from registries. */
const Named = z.strictObject({ name: z.string().min(1).max(64), params: Params })

/**
 * A dataset read from each node's own files (`dataset.params.format`): its schema must be valid
 * ({@link LocalDatasetSchema}, strict), and the model must fit it — input size = the number of
 * features (C × H × W for images; a CNN's `inputShape` = [C, H, W]), `numClasses` = the classes.
 */
function localDatasetIssues(
  spec: { architecture: unknown; dataset: { params: Record<string, unknown> } },
  ctx: z.RefinementCtx,
): void {
  if (!isLocalDataset(spec.dataset)) return
  const parsed = LocalDatasetSchema.safeParse(spec.dataset.params)
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      ctx.addIssue({ code: 'custom', path: ['dataset', 'params', ...issue.path], message: issue.message })
    return
  }
  const arch = ArchitectureSchema.safeParse(spec.architecture)
  if (!arch.success) return // reported where the architecture is checked
  const d = parsed.data
  const features = d.format === 'csv' ? d.features.length : (d.channels === 'rgb' ? 3 : 1) * d.height * d.width
  const classes = d.format === 'csv' ? (d.classes?.length ?? (d.numClasses as number)) : d.classes.length
  const a = arch.data
  if (a.kind === 'cnn' && d.format === 'image-folder') {
    const shape = [d.channels === 'rgb' ? 3 : 1, d.height, d.width]
    if (a.inputShape.some((v, i) => v !== shape[i]))
      ctx.addIssue({
        code: 'custom',
        path: ['architecture', 'inputShape'],
        message: `the images are [${shape.join(', ')}] (channels, height, width); the model takes [${a.inputShape.join(', ')}]`,
      })
  } else if (inputSizeOf(a) !== features) {
    ctx.addIssue({
      code: 'custom',
      path: ['architecture'],
      message: `the dataset has ${features} features per row; the model takes ${inputSizeOf(a)}`,
    })
  }
  if (a.numClasses !== classes)
    ctx.addIssue({
      code: 'custom',
      path: ['architecture', 'numClasses'],
      message: `the dataset has ${classes} classes; the model has ${a.numClasses} outputs`,
    })
}

/** What a training job asks for. `jobId` is the hash of this spec and its creator. */
export const JobSpecSchema = z
  .strictObject({
    name: z.string().min(1).max(128),
    /** Architecture (see `ArchitectureSchema`); at most 16 levels deep and 64 KiB. */
    architecture: z.unknown().superRefine(bounded),
    /** Content address of the initial model (see {@link ModelAddressSchema}). */
    initialModel: ModelAddressSchema,
    /** Dataset descriptor every trainer resolves locally, e.g. { name: 'mnist' }. */
    dataset: z.strictObject({ name: z.string().min(1).max(64), params: Params }),
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
    /**
     * Proven updates: each trainer attaches zero-knowledge proofs (one per block of
     * {@link PROOF_CHUNK_VALUES} quantized values) that its update's L2 norm is at most `normBound`
     * and that the proofs are about the very values it sent; committee members refuse an update whose
     * proofs are missing or invalid (see `round/proofs.ts`). Needs int8 values in blocks of 256
     * (`int8`, or `top-k` with int8 values), and no secure aggregation (members must see the values).
     */
    proofs: z
      .strictObject({
        /** The largest L2 norm of an update (of the dequantized values a trainer sends). */
        normBound: z.number().positive().max(1e9),
      })
      .optional(),
  })
  .superRefine((spec, ctx) => {
    localDatasetIssues(spec, ctx)
    if (spec.proofs === undefined) return
    const p = spec.codec.params as { values?: unknown; blockSize?: unknown }
    const int8Values = spec.codec.name === 'int8' || (spec.codec.name === 'top-k' && (p.values ?? 'int8') === 'int8')
    if (!int8Values || (p.blockSize ?? PROOF_CHUNK_VALUES) !== PROOF_CHUNK_VALUES) {
      ctx.addIssue({
        code: 'custom',
        path: ['proofs'],
        message: `proven updates need int8 values in blocks of ${PROOF_CHUNK_VALUES} (codec int8 or top-k with int8 values, blockSize ${PROOF_CHUNK_VALUES})`,
      })
    }
    if (spec.secureAggregation) {
      ctx.addIssue({
        code: 'custom',
        path: ['proofs'],
        message: 'proven updates cannot be combined with secure aggregation (members must see the values they check)',
      })
    }
  })
export type JobSpec = z.output<typeof JobSpecSchema>
export type JobSpecInput = z.input<typeof JobSpecSchema>
