/**
 * The trainer parts: train on this node's own data from the round's model, encode the update
 * (the job's codec), sign the exact header and stream it to the committee (to the trainer's
 * region's committee in hierarchical jobs). The asynchronous trainer never holds a round up: its
 * update, trained on an older model, joins the round running when it is done.
 * @module
 */

import type { Model } from '../../models/index.js'
import { regionOf } from '../committee.js'
import { clipToNorm, proveUpdateBlocks } from '../proofs.js'
import { privatize, signUpdate } from './common.js'
import { failRound, type PartContext, type RoundContext, type RoundPart, type RoundState } from './types.js'

function canTrain({ services, job }: PartContext): boolean {
  return services.roles.trainer && services.learner?.supports(job.spec) === true
}

/** Train from `model` (the base of round `origin`) and send the update to the round running then. */
async function trainAndSend(ctx: PartContext, origin: RoundState, model: Model): Promise<void> {
  const { services, job } = ctx
  const { spec, signal } = job
  const learner = services.learner
  if (learner === undefined) return
  const result = await learner.train(spec, model, origin.round, { signal })
  // asynchronous jobs send a late update to the round running now (it is weighted by staleness)
  const target = spec.staleness !== undefined ? job.current() : origin
  if (signal.aborted || target === undefined) return
  if (target !== origin && (spec.staleness === undefined || target.round - origin.round > spec.staleness.maxRounds)) {
    return
  }
  let delta = privatize(
    spec,
    Float32Array.from(result.params, (p, i) => p - (model.params[i] as number)),
  )
  // proven updates: clip to the job's norm bound (with room for quantization), then prove each block
  if (spec.proofs !== undefined) delta = clipToNorm(delta, spec.proofs.normBound * 0.98)
  let payload = job.runtime.encodeUpdate(delta)
  let proofs: { count: number; bytes: number } | undefined
  if (spec.proofs !== undefined) {
    const system = services.proofs
    if (system === undefined) return
    const started = services.now()
    let proven: { section: Uint8Array; count: number }
    try {
      proven = await proveUpdateBlocks(
        system,
        spec,
        { jobId: job.jobId, round: target.round, trainer: services.self, numParams: job.numParams },
        payload,
        signal,
      )
    } catch (err) {
      if (signal.aborted) return
      failRound(ctx, `cannot prove this node's update: ${(err as Error).message}`)
      return
    }
    const full = new Uint8Array(payload.byteLength + proven.section.byteLength)
    full.set(payload)
    full.set(proven.section, payload.byteLength)
    payload = full
    proofs = { count: proven.count, bytes: proven.section.byteLength }
    services.emit('update:proven', {
      jobId: job.jobId,
      round: target.round,
      proofs: proven.count,
      bytes: proven.section.byteLength,
      ms: services.now() - started,
    })
    if (signal.aborted) return
  }
  const targets =
    target.regions === undefined
      ? target.committee
      : (target.regions[regionOf(job.jobId, services.self, target.regions.length)] ?? [])
  const header = await signUpdate(
    ctx,
    {
      round: target.round,
      baseModel: origin.baseModel,
      numSamples: Math.min(result.numSamples, spec.maxSamplesPerUpdate),
      ...(proofs !== undefined ? { proofs } : {}),
    },
    payload,
  )
  const failed = await services.sendUpdate(targets, header, payload, signal)
  services.emit('update:sent', {
    jobId: job.jobId,
    round: target.round,
    to: [...targets],
    bytes: payload.byteLength,
    failed,
  })
}

/**
 * A trainer of a synchronous job (no secure aggregation): trains, then sends its update.
 *
 * @example
 * ```ts
 * createParticipant({ ...components, parts: [trainer(), committeeMember()] })
 * ```
 */
export function trainer(): RoundPart {
  return {
    name: 'trainer',
    plays: (ctx) => canTrain(ctx) && ctx.job.spec.staleness === undefined && !ctx.job.spec.secureAggregation,
    run: (ctx: RoundContext) => trainAndSend(ctx, ctx.round, ctx.model),
  }
}

/**
 * A trainer of an asynchronous job (`spec.staleness`): one training at a time per job, which the
 * round does not wait for.
 */
export function asyncTrainer(): RoundPart {
  const training = new Map<string, Promise<void>>()
  return {
    name: 'async-trainer',
    plays: (ctx) => canTrain(ctx) && ctx.job.spec.staleness !== undefined,
    run: async (ctx) => {
      const jobId = ctx.job.jobId
      if (training.has(jobId)) return
      const task = trainAndSend(ctx, ctx.round, ctx.model)
        .catch(() => {})
        .finally(() => training.delete(jobId))
      training.set(jobId, task)
    },
    stop: async () => {
      await Promise.allSettled([...training.values()])
    },
  }
}
