/**
 * Steps several parts share: weighing an update, signing and sending an update, storing a new
 * model and publishing this member's signed result.
 * @module
 */
import { encodeModel, toModel } from '../../models/index.js'
import { privatizeUpdate } from '../../privacy/index.js'
import { sha256 } from '../hash.js'
import type { HeldUpdate } from '../inbox.js'
import { type Contribution, signRoundMessage, type UpdateMeta } from '../messages.js'
import type { VerifiedUpdate } from '../ports.js'
import { type JobSpec, ROUND_PROTOCOL_VERSION } from '../spec.js'
import type { PartContext, RoundContext } from './types.js'

/** Aggregation weight of an update: its samples, scaled down by staleness in asynchronous jobs. */
export function weightOf(spec: JobSpec, u: HeldUpdate): number {
  const a = spec.staleness?.exponent ?? 0
  return u.header.numSamples * (1 + u.staleness) ** -a
}

/** Held updates as the aggregation runtime takes them (in the given order). */
export function verifiedUpdates(spec: JobSpec, held: readonly HeldUpdate[]): VerifiedUpdate[] {
  return held.map((u) => ({ trainer: u.header.trainer, numSamples: weightOf(spec, u), delta: u.delta }))
}

/** The job's differential privacy, applied by a trainer to its own update (none without `spec.privacy`). */
export function privatize(spec: JobSpec, delta: Float32Array): Float32Array {
  if (spec.privacy === undefined) return delta
  return privatizeUpdate(delta, { ...spec.privacy, parties: spec.participants?.trainers?.length ?? 1 })
}

/** Sign an update header for `payload` (fields other than the payload's hash and size given). */
export function signUpdate(
  ctx: PartContext,
  fields: Omit<UpdateMeta, 'v' | 'jobId' | 'trainer' | 'payloadHash' | 'payloadBytes' | 'envelope'>,
  payload: Uint8Array,
): Promise<UpdateMeta> {
  return signRoundMessage(
    'update',
    {
      v: ROUND_PROTOCOL_VERSION,
      jobId: ctx.job.jobId,
      trainer: ctx.services.self,
      payloadHash: sha256(payload),
      payloadBytes: payload.byteLength,
      ...fields,
    },
    (d) => ctx.services.transport.sign(d),
  )
}

/** Store the new model and publish this member's signed result. */
export async function publishAggregate(
  ctx: RoundContext,
  params: Float32Array,
  contributions: Contribution[],
): Promise<void> {
  const { services, job, round, model } = ctx
  const newModel = await services.models.put(encodeModel(toModel(model.architecture, params)))
  const result = await signRoundMessage(
    'result',
    {
      v: ROUND_PROTOCOL_VERSION,
      jobId: job.jobId,
      round: round.round,
      attempt: round.attempt,
      baseModel: round.baseModel,
      newModel,
      contributions,
      aggregator: services.self,
    },
    (d) => services.transport.sign(d),
  )
  await services.publishResult(result)
}
