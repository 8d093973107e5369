/**
 * Secure aggregation as two parts: the member (its `SecureRoundMember` serves the round's frames
 * and recovers the sum of the survivors' masked updates) and the trainer (masks its update;
 * members only ever see the sum). The flow is described in `../secure/frames.ts`.
 * @module
 */
import { countParameters, parseArchitecture } from '../../models/index.js'
import { RejectedUpdateError } from '../errors.js'
import { encodeSecAggFrame } from '../secure/frames.js'
import { SecureRoundMember } from '../secure/member.js'
import { runSecureTrainer } from '../secure/trainer.js'
import { onCommittee } from './committee-member.js'
import { privatize, publishAggregate } from './common.js'
import { failRound, type RoundPart, type RoundState } from './types.js'

/**
 * A committee member of a job with `secureAggregation: true`.
 *
 * @example
 * ```ts
 * createParticipant({ ...components, parts: [secureTrainer(), secureMember()] })
 * ```
 */
export function secureMember(): RoundPart {
  const members = new WeakMap<RoundState, SecureRoundMember>()
  return {
    name: 'secure-member',
    plays: (ctx) => onCommittee(ctx) && ctx.job.spec.secureAggregation,
    prepare: (ctx) => {
      const { services, job, round } = ctx
      const { spec } = job
      const member = new SecureRoundMember({
        ref: { jobId: job.jobId, round: round.round, attempt: round.attempt, baseModel: round.baseModel },
        self: services.self,
        committee: round.committee,
        vectorLength: countParameters(parseArchitecture(spec.architecture)),
        expected: round.expected,
        deadlineMs: spec.roundDeadlineMs,
        unmaskWaitMs: services.graceMs(spec) / 2,
        sign: (d) => services.transport.sign(d),
        verify: (a, d, sig) => services.transport.verify(a, d, sig),
        signal: job.signal,
      })
      members.set(round, member)
      round.cleanup.push(() => member.close())
      round.secAgg = async (req, body, from) => {
        if (req.kind === 'keys' && req.numSamples > spec.maxSamplesPerUpdate) {
          throw new RejectedUpdateError(
            `update claims ${req.numSamples} samples, the job allows ${spec.maxSamplesPerUpdate}`,
          )
        }
        const response = await member.handle(req, body, from)
        if (req.kind === 'masked') {
          services.emit('update:accepted', {
            jobId: req.jobId,
            round: req.round,
            trainer: req.trainer,
            bytes: body.byteLength,
          })
        }
        return encodeSecAggFrame(response)
      }
    },
    run: async (ctx) => {
      const { job, round, model } = ctx
      const member = members.get(round)
      if (member === undefined) return
      const agg = await member.result()
      if (job.signal.aborted || job.current() !== round) return
      if (agg === undefined) return failRound(ctx, `secure aggregation: ${member.failure ?? 'no aggregate'}`)
      if (agg.contributions.length < job.spec.minUpdates) {
        return failRound(ctx, `only ${agg.contributions.length}/${job.spec.minUpdates} updates in the secure sum`)
      }
      if (!agg.mean.every((x) => Number.isFinite(x))) return failRound(ctx, 'secure aggregate contains NaN or Infinity')
      const params = job.runtime.aggregate(model.params, [
        { trainer: 'secure-aggregate', numSamples: agg.numSamples, delta: agg.mean },
      ])
      await publishAggregate(ctx, params, agg.contributions)
    },
  }
}

/** A trainer of a job with `secureAggregation: true`. */
export function secureTrainer(): RoundPart {
  return {
    name: 'secure-trainer',
    plays: ({ services, job }) =>
      services.roles.trainer && services.learner?.supports(job.spec) === true && job.spec.secureAggregation,
    run: async (ctx) => {
      const { services, job, round, model } = ctx
      const { spec, signal } = job
      const learner = services.learner
      if (learner === undefined) return
      const training = learner.train(spec, model, round.round, { signal })
      const delta = training.then((result) =>
        privatize(
          spec,
          Float32Array.from(result.params, (p, i) => p - (model.params[i] as number)),
        ),
      )
      delta.catch(() => {})
      try {
        const numSamples = Math.min(learner.numSamples?.(spec) ?? (await training).numSamples, spec.maxSamplesPerUpdate)
        const outcome = await runSecureTrainer({
          ref: { jobId: job.jobId, round: round.round, attempt: round.attempt, baseModel: round.baseModel },
          self: services.self,
          committee: round.committee,
          vectorLength: model.params.length,
          numSamples,
          delta,
          send: (to, frame) => services.requestSecAgg(job, to, frame),
          sign: (d) => services.transport.sign(d),
          verify: (a, d, sig) => services.transport.verify(a, d, sig),
        })
        services.emit('update:sent', {
          jobId: job.jobId,
          round: round.round,
          to: [...round.committee],
          bytes: outcome.bytes,
          failed: outcome.failed,
        })
      } catch (err) {
        if (signal.aborted) return
        services.emit('update:sent', {
          jobId: job.jobId,
          round: round.round,
          to: [...round.committee],
          bytes: 0,
          failed: [...round.committee],
          error: `${(err as Error).name}: ${(err as Error).message}`,
        })
      }
    },
  }
}
