/**
 * Hierarchical jobs: regional committees combine their trainers' updates and send the regional
 * aggregate to the root committee, whose members aggregate the regions a majority of each
 * region's committee agree on and publish the round's result.
 * @module
 */

import { agreeOnContributors } from '../agreement.js'
import { majority, regionOf } from '../committee.js'
import { type HeldUpdate, partialScope } from '../inbox.js'
import { type Contribution, contributionOf } from '../messages.js'
import { denseCodec } from '../runtime.js'
import { onCommittee } from './committee-member.js'
import { publishAggregate, signUpdate, verifiedUpdates } from './common.js'
import { failRound, type RoundContext, type RoundPart, remaining } from './types.js'

/** Regions close at this fraction of the round deadline: the root needs the rest. */
const REGION_CLOSE = 0.6

/** As a member of region `r`'s committee: combine the region's updates, send them to the root. */
async function aggregateRegion(ctx: RoundContext, r: number): Promise<void> {
  const { job, round, services, model } = ctx
  const { spec, signal } = job
  const regions = round.regions ?? []
  const members = regions[r] ?? []
  const expected = round.expected?.filter((t) => regionOf(job.jobId, t, regions.length) === r)
  await round.inbox.until(
    () => expected !== undefined && expected.length > 0 && expected.every((t) => round.inbox.has(r, t)),
    remaining(ctx, spec.roundDeadlineMs * REGION_CLOSE),
    signal,
  )
  if (signal.aborted || job.current() !== round) return
  const waitMs = remaining(ctx, spec.roundDeadlineMs * REGION_CLOSE) + spec.roundDeadlineMs * 0.15
  const agreed = await agreeOnContributors(ctx, r, members, waitMs)
  if (signal.aborted || job.current() !== round || !Array.isArray(agreed) || agreed.length === 0) return
  const updates = verifiedUpdates(spec, agreed)
  const combined =
    job.runtime.combine?.(model.params, updates) ??
    Float32Array.from(job.runtime.aggregate(model.params, updates), (p, i) => p - (model.params[i] as number))
  const payload = denseCodec().encodeUpdate(combined)
  const header = await signUpdate(
    ctx,
    {
      round: round.round,
      baseModel: round.baseModel,
      numSamples: agreed.reduce((a, u) => a + u.header.numSamples, 0),
      region: { index: r, contributions: agreed.map((u) => contributionOf(u.header, u.proofDigest)) },
    },
    payload,
  )
  await services.sendUpdate(round.committee, header, payload, signal)
}

/**
 * A member of one or more regional committees.
 *
 * @example
 * ```ts
 * createParticipant({ ...components, parts: [trainer(), regionalMember(), rootMember()] })
 * ```
 */
export function regionalMember(): RoundPart {
  return {
    name: 'regional-member',
    plays: ({ services, round }) =>
      services.roles.aggregator && round.regions?.some((m) => m.includes(services.self)) === true,
    run: async (ctx) => {
      const regions = ctx.round.regions ?? []
      const mine = regions.map((m, r) => (m.includes(ctx.services.self) ? r : -1)).filter((r) => r >= 0)
      await Promise.allSettled(mine.map((r) => aggregateRegion(ctx, r)))
    },
  }
}

/** The regional aggregate of region `r` a majority of its committee agree on, if any. */
function agreedPartial(ctx: RoundContext, r: number): HeldUpdate | undefined {
  const members = ctx.round.regions?.[r]
  if (members === undefined) return undefined
  const votes = new Map<string, HeldUpdate[]>()
  for (const p of ctx.round.inbox.held(partialScope(r)).values()) {
    votes.set(p.header.payloadHash, [...(votes.get(p.header.payloadHash) ?? []), p])
  }
  for (const group of votes.values()) if (group.length >= majority(members.length)) return group[0]
  return undefined
}

/** A member of a hierarchical job's root committee. */
export function rootMember(): RoundPart {
  return {
    name: 'root-member',
    plays: (ctx) => onCommittee(ctx) && ctx.round.regions !== undefined && !ctx.job.spec.secureAggregation,
    run: async (ctx) => {
      const { job, round, model } = ctx
      const { spec, signal } = job
      const regions = round.regions ?? []
      // regions with trainers expected this round (all, when the job does not list them)
      const needed = regions
        .map((_, r) => r)
        .filter(
          (r) =>
            round.expected === undefined || round.expected.some((t) => regionOf(job.jobId, t, regions.length) === r),
        )
      await round.inbox.until(
        () => needed.every((r) => agreedPartial(ctx, r) !== undefined),
        remaining(ctx, spec.roundDeadlineMs),
        signal,
      )
      if (signal.aborted || job.current() !== round) return
      const chosen = regions
        .map((_, r) => ({ r, p: agreedPartial(ctx, r) }))
        .filter((x): x is { r: number; p: HeldUpdate } => x.p !== undefined)
      const contributions: Contribution[] = chosen
        .flatMap((x) => x.p.header.region?.contributions ?? [])
        .sort((a, b) => (a.trainer < b.trainer ? -1 : 1))
      if (contributions.length < spec.minUpdates) {
        return failRound(
          ctx,
          `only ${contributions.length}/${spec.minUpdates} updates in ${chosen.length}/${regions.length} agreed regional aggregates`,
        )
      }
      const params = job.runtime.aggregate(
        model.params,
        chosen.map((x) => ({ trainer: `region:${x.r}`, numSamples: x.p.header.numSamples, delta: x.p.delta })),
      )
      await publishAggregate(ctx, params, contributions)
    },
  }
}
