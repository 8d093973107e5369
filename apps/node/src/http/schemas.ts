/**
 * zod schemas of the REST API's requests and responses: fastify validates with them and
 * `@fastify/swagger` turns the same schemas into the OpenAPI document (`/openapi.json`).
 * @module
 */
import { z } from 'zod'

/** `{ error: { name, message } }`: every failure. */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      name: z.string().describe('Stable error name: TokenRequired, JobNotFound, InvalidRequest…'),
      message: z.string(),
    }),
  })
  .describe('A typed error')

/** Error responses a route may answer, for the OpenAPI document. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBodySchema]))

export const JobIdSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, 'a job id is 64 lowercase hex chars')
  .describe('Job id (64 hex chars)')

export const ModelAddressParamSchema = z.string().min(1).describe('Content id of a model (bafy…)')

export const JobParamsSchema = z.object({ jobId: z.string().describe('Job id (64 hex chars)') })
export const ModelParamsSchema = z.object({ address: ModelAddressParamSchema })

/** Anything JSON (figures whose shape belongs to another package). */
export const AnyJson = z.unknown()

export const StatusSchema = z.looseObject({
  peerId: z.string(),
  multiaddrs: z.array(z.string()),
  roles: z.array(z.string()),
  jobs: z.array(z.string()),
  health: AnyJson,
  chain: AnyJson.optional(),
  resources: AnyJson.optional(),
})

export const PeerSchema = z.object({
  peerId: z.string(),
  authenticated: z.boolean(),
  roles: z.array(z.string()),
  session: AnyJson.optional(),
})

export const JobSummarySchema = z.object({
  jobId: z.string(),
  name: z.string().optional(),
  state: z.enum(['running', 'paused', 'completed', 'cancelled', 'abandoned', 'finished']),
  round: z.number(),
  rounds: z.number().optional(),
  attempt: z.number(),
  model: z.string(),
  history: z.array(
    z.looseObject({ round: z.number(), model: z.string(), contributions: z.number(), completedAt: z.number() }),
  ),
})

export const TrainingStatusSchema = z.object({
  jobs: z.array(JobSummarySchema),
})

const ControlAction = <A extends string>(action: A) => z.object({ action: z.literal(action), jobId: JobIdSchema })

export const TrainingControlSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('start'),
    spec: z.record(z.string(), z.unknown()).describe('A job spec (see POST /api/jobs)'),
  }),
  ControlAction('pause'),
  ControlAction('resume'),
  ControlAction('stop'),
  ControlAction('cancel'),
])

export const TrainingControlResultSchema = z.object({
  jobId: z.string(),
  action: z.enum(['start', 'pause', 'resume', 'stop', 'cancel']),
  state: JobSummarySchema.shape.state,
})

export const StakeSchema = z.object({
  amount: z
    .string()
    .regex(/^\d+(\.\d{1,18})?$/, 'an amount of VAIN, e.g. "1000" or "0.5"')
    .describe('VAIN to stake (decimal string)'),
})

export const PeerExchangeSchema = z.object({
  peerId: z.string().min(1).optional().describe('Exchange with this peer only (default: every authenticated peer)'),
})

export const PeerExchangeResultSchema = z.object({
  exchanges: z.array(
    z.object({
      peerId: z.string(),
      received: z.number().optional(),
      accepted: z.number().optional(),
      known: z.number().optional(),
      invalid: z.number().optional(),
      discovered: z.array(z.string()).optional(),
      error: z.object({ name: z.string(), message: z.string() }).optional(),
    }),
  ),
})

export const ModelUpdateSchema = z.object({
  jobId: JobIdSchema,
  round: z.number().int().nonnegative().describe('The round (0-based, as the job status reports it)'),
  model: z.string().min(1).describe('Content id of the trained model (upload it with POST /api/models)'),
  numSamples: z.number().int().positive().max(1e12),
  publicKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'an Ed25519 public key, 64 hex chars'),
  signature: z.string().regex(/^[0-9a-fA-F]{128}$/, 'an Ed25519 signature, 128 hex chars'),
})

export const ModelUpdateResultSchema = z.object({
  accepted: z.literal(true),
  jobId: z.string(),
  round: z.number(),
  trainer: z.string(),
})

export const UploadResultSchema = z.object({ address: z.string(), bytes: z.number(), params: z.number() })
