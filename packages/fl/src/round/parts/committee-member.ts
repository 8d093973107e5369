/**
 * A member of a round's committee (plain jobs: no regions, no secure aggregation): takes updates
 * until every expected trainer's is in or the deadline, agrees with the other members on the
 * contributor set, aggregates it robustly and deterministically, and publishes its signed result.
 * @module
 */
import { agreeOnContributors } from '../agreement.js'
import { COMMITTEE_SCOPE } from '../inbox.js'
import { contributionOf } from '../messages.js'
import { publishAggregate, verifiedUpdates } from './common.js'
import { failRound, type PartContext, type RoundPart, remaining } from './types.js'

/** Is this node a member of the round's (root) committee, as an aggregator? */
export function onCommittee({ services, round }: PartContext): boolean {
  return services.roles.aggregator && round.committee.includes(services.self)
}

/**
 * The committee member part.
 *
 * @example
 * ```ts
 * createParticipant({ ...components, parts: [trainer(), committeeMember()] })
 * ```
 */
export function committeeMember(): RoundPart {
  return {
    name: 'committee-member',
    plays: (ctx) => onCommittee(ctx) && !ctx.job.spec.secureAggregation && ctx.round.regions === undefined,
    run: async (ctx) => {
      const { job, round, services } = ctx
      const { spec, signal } = job
      const expected = round.expected
      await round.inbox.until(
        () => expected?.every((t) => round.inbox.has(COMMITTEE_SCOPE, t)) === true,
        remaining(ctx, spec.roundDeadlineMs),
        signal,
      )
      if (signal.aborted || job.current() !== round) return
      // members that wait for a missing update publish their holdings at the deadline: wait for them
      const waitMs = remaining(ctx, spec.roundDeadlineMs) + services.graceMs(spec) / 2
      const agreed = await agreeOnContributors(ctx, COMMITTEE_SCOPE, round.committee, waitMs)
      if (signal.aborted || job.current() !== round) return
      if (!Array.isArray(agreed)) return failRound(ctx, agreed.failure)
      if (agreed.length < spec.minUpdates) return failRound(ctx, `only ${agreed.length}/${spec.minUpdates} updates`)
      const params = job.runtime.aggregate(ctx.model.params, verifiedUpdates(spec, agreed))
      await publishAggregate(
        ctx,
        params,
        agreed.map((u) => contributionOf(u.header, u.proofDigest)),
      )
    },
  }
}
