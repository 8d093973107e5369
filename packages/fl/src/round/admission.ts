/**
 * Admission: pure decisions on a message's header, taken **before any payload byte is read** and
 * before its signature is checked (cheap checks first). Each returns the accepted value or a
 * typed error; the driver reports refusals as `rejected` events and to the sender.
 * @module
 */
import { parseArchitecture } from '../models/index.js'
import { regionOf } from './committee.js'
import {
  ForgedMessageError,
  InvalidJobError,
  RejectedUpdateError,
  type RoundProtocolError,
  StaleUpdateError,
} from './errors.js'
import { COMMITTEE_SCOPE, partialScope } from './inbox.js'
import { computeJobId, type JobAnnouncement, type UpdateMeta } from './messages.js'
import type { JobSpec } from './spec.js'

/** An admission's verdict. */
export type Admission<T> = { ok: true; value: T } | { ok: false; error: RoundProtocolError }

const refuse = (error: RoundProtocolError): { ok: false; error: RoundProtocolError } => ({ ok: false, error })

/**
 * A job announcement: its architecture parses and its id is the hash of its spec, creator and
 * creation time (the creator's signature is checked next).
 *
 * @example
 * ```ts
 * const verdict = admitJob(announcement)
 * if (!verdict.ok) console.log(verdict.error.name, verdict.error.message)
 * ```
 */
export function admitJob(job: Pick<JobAnnouncement, 'jobId' | 'spec' | 'creator' | 'createdAt'>): Admission<JobSpec> {
  try {
    parseArchitecture(job.spec.architecture)
  } catch (err) {
    return refuse(new InvalidJobError((err as Error).message))
  }
  if (computeJobId(job.spec, job.creator, job.createdAt) !== job.jobId) {
    return refuse(new ForgedMessageError('job id does not match its spec'))
  }
  return { ok: true, value: job.spec }
}

/** The round an update is checked against. */
export interface AdmissionRound {
  round: number
  baseModel: string
  committee: readonly string[]
  regions: ReadonlyArray<readonly string[]> | undefined
  expected: readonly string[] | undefined
  /** True when an update is already held under `key` in `scope`. */
  has(scope: number, key: string): boolean
}

/** What {@link admitUpdate} reads: this node, the job, its running round and its history. */
export interface UpdateAdmissionState {
  self: string
  jobId: string
  spec: JobSpec
  /** The running round, if any. */
  round: AdmissionRound | undefined
  /** The round whose base `model` is, from this node's history (asynchronous jobs). */
  baseRoundOf(model: string): number | undefined
}

/** Where an admitted update goes. */
export interface UpdateRoute {
  /** Inbox scope: the committee, a region, or a region's partial aggregates. */
  scope: number
  /** Key in the scope: the trainer (the sending member for partial aggregates). */
  key: string
  kind: 'committee' | 'region' | 'partial'
  /** Rounds the update's base model is behind (0 unless the job runs asynchronously). */
  staleness: number
  /** Passed on by another member of the same committee (contributor-set agreement). */
  relayed: boolean
}

/** The verdict on an update header: a route, "early" (for a round this node has not reached), or a refusal. */
export type UpdateAdmission = Admission<UpdateRoute | 'early'>

/**
 * Check an update's header against the job and the round: size, round, base model, committee
 * membership of this node, the sender (the trainer itself, or a member of the same committee
 * relaying it), expected trainers, duplicates. Pure and synchronous.
 *
 * @example
 * ```ts
 * const verdict = admitUpdate(state, header, from)
 * if (verdict.ok && verdict.value !== 'early') inbox.add(verdict.value.scope, verdict.value.key, held)
 * ```
 */
export function admitUpdate(
  state: UpdateAdmissionState | undefined,
  header: Pick<UpdateMeta, 'jobId' | 'round' | 'baseModel' | 'trainer' | 'numSamples' | 'payloadBytes' | 'region'>,
  from: string,
): UpdateAdmission {
  if (state === undefined || state.jobId !== header.jobId) return refuse(new StaleUpdateError('unknown job'))
  const { spec, round } = state
  if (header.payloadBytes > spec.maxUpdateBytes) {
    return refuse(new RejectedUpdateError(`payload of ${header.payloadBytes} bytes, limit ${spec.maxUpdateBytes}`))
  }
  if (header.region === undefined && header.numSamples > spec.maxSamplesPerUpdate) {
    return refuse(
      new RejectedUpdateError(`update claims ${header.numSamples} samples, the job allows ${spec.maxSamplesPerUpdate}`),
    )
  }
  // only the trainer itself, or a member of this round's committees passing it on, may send it
  const relayers = round === undefined ? [] : [...round.committee, ...(round.regions ?? []).flat()]
  if (header.trainer !== from && !relayers.includes(from)) {
    return refuse(new ForgedMessageError(`update signed for ${header.trainer} but sent by ${from}`))
  }
  if (round === undefined || header.round > round.round) {
    if (header.trainer !== from)
      return refuse(new ForgedMessageError(`update signed for ${header.trainer} but sent by ${from}`))
    // only the next round is held for later: a far-future round is refused, not kept
    if (round !== undefined && header.round > round.round + 1) {
      return refuse(new StaleUpdateError(`update for round ${header.round}, this node is at round ${round.round}`))
    }
    return { ok: true, value: 'early' }
  }
  if (header.round < round.round) {
    return refuse(new StaleUpdateError(`update for round ${header.round}, current round ${round.round}`))
  }
  let staleness = 0
  if (header.baseModel !== round.baseModel) {
    // trained on an older model: asynchronous jobs take it, weighted down; others refuse it
    const base = state.baseRoundOf(header.baseModel)
    const tau = base === undefined ? Number.POSITIVE_INFINITY : round.round - base
    const max = spec.staleness?.maxRounds ?? 0
    if (header.region !== undefined || !(tau >= 1 && tau <= max)) {
      return refuse(
        new StaleUpdateError(
          `update on model ${header.baseModel.slice(0, 12)}${Number.isFinite(tau) ? ` (${tau} rounds old)` : ''}, current round ${round.round} on ${round.baseModel.slice(0, 12)}${max > 0 ? `, at most ${max} rounds old accepted` : ''}`,
        ),
      )
    }
    staleness = tau
  }
  return header.region === undefined
    ? admitTrainerUpdate(state, round, header, from, staleness)
    : admitPartial(state, round, { ...header, region: header.region }, from)
}

function admitTrainerUpdate(
  state: UpdateAdmissionState,
  round: AdmissionRound,
  header: Pick<UpdateMeta, 'trainer'>,
  from: string,
  staleness: number,
): UpdateAdmission {
  let scope = COMMITTEE_SCOPE
  let members = round.committee
  let kind: UpdateRoute['kind'] = 'committee'
  if (round.regions !== undefined) {
    scope = regionOf(state.jobId, header.trainer, round.regions.length)
    members = round.regions[scope] ?? []
    kind = 'region'
    if (!members.includes(state.self)) {
      return refuse(new RejectedUpdateError(`this node is not on region ${scope}'s committee`))
    }
  } else if (!members.includes(state.self)) {
    return refuse(new RejectedUpdateError('this node is not on the committee'))
  }
  const relayed = header.trainer !== from
  if (relayed && !members.includes(from)) {
    return refuse(new ForgedMessageError(`update signed for ${header.trainer} but sent by ${from}`))
  }
  if (round.expected !== undefined && !round.expected.includes(header.trainer)) {
    return refuse(new RejectedUpdateError(`${header.trainer} is not an eligible trainer this round`))
  }
  if (round.has(scope, header.trainer)) return refuse(new RejectedUpdateError('duplicate update from this trainer'))
  return { ok: true, value: { scope, key: header.trainer, kind, staleness, relayed } }
}

function admitPartial(
  state: UpdateAdmissionState,
  round: AdmissionRound,
  header: Pick<UpdateMeta, 'trainer' | 'numSamples'> & { region: NonNullable<UpdateMeta['region']> },
  from: string,
): UpdateAdmission {
  const r = header.region.index
  const regions = round.regions
  if (regions === undefined || r >= regions.length) return refuse(new RejectedUpdateError(`no region ${r} in this job`))
  if (header.trainer !== from) {
    return refuse(new ForgedMessageError(`regional aggregate signed for ${header.trainer} but sent by ${from}`))
  }
  if (!round.committee.includes(state.self))
    return refuse(new RejectedUpdateError('this node is not on the root committee'))
  if (!(regions[r] ?? []).includes(header.trainer)) {
    return refuse(new RejectedUpdateError(`${header.trainer} is not on region ${r}'s committee`))
  }
  const contributions = header.region.contributions
  const inRegion = contributions.every(
    (c) =>
      regionOf(state.jobId, c.trainer, regions.length) === r &&
      (round.expected === undefined || round.expected.includes(c.trainer)),
  )
  const samples = contributions.reduce((a, c) => a + c.numSamples, 0)
  const tooMany = contributions.some((c) => c.numSamples > state.spec.maxSamplesPerUpdate)
  if (!inRegion || samples !== header.numSamples || tooMany) {
    return refuse(
      new RejectedUpdateError(`regional aggregate of region ${r} lists trainers or samples that do not add up`),
    )
  }
  if (round.has(partialScope(r), header.trainer)) {
    return refuse(new RejectedUpdateError('duplicate regional aggregate from this member'))
  }
  return {
    ok: true,
    value: { scope: partialScope(r), key: header.trainer, kind: 'partial', staleness: 0, relayed: false },
  }
}
