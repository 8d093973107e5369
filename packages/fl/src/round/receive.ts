/**
 * What a node does with each message it receives: admission on the header first, then the
 * signature, then (for updates) the payload, then the part of the round that needs it.
 * @module
 */

import { admitUpdate, type UpdateAdmissionState } from './admission.js'
import { committeeSeed, majority, selectCommittee } from './committee.js'
import { type SignedMessage, verifyMessage } from './envelope.js'
import { ForgedMessageError, RejectedUpdateError, type RoundProtocolError, StaleUpdateError } from './errors.js'
import type { RejectionEvent } from './events.js'
import { sha256 } from './hash.js'
import type { JobLimits, JobRun } from './job.js'
import { type Holdings, openRoundMessage, type UpdateMeta } from './messages.js'
import type { RoundServices, RoundState } from './parts/types.js'
import type { EligibilityPolicy, ReadPayload } from './ports.js'
import { checkProofHeader, checkUpdateProofs } from './proofs.js'
import { majorityResult, tally } from './result-book.js'
import { denseCodec } from './runtime.js'
import { authenticateSecAgg } from './secure/common.js'
import { decodeSecAggFrame, SecAggRequestSchema } from './secure/frames.js'

/** What the handlers need of the driver. */
export interface Receiver {
  readonly services: RoundServices
  readonly policy: EligibilityPolicy
  readonly limits: JobLimits
  job(jobId: string): JobRun | undefined
  reject(event: RejectionEvent): void
}

const MAX_PENDING_HOLDINGS = 256
/** …and in bytes of their signed bodies, all members together. */
const MAX_PENDING_HOLDINGS_BYTES = 8 * 1024 * 1024

function admissionState(self: string, job: JobRun): UpdateAdmissionState {
  const round = job.round
  return {
    self,
    jobId: job.jobId,
    spec: job.spec,
    round:
      round === undefined ? undefined : { ...round, has: (scope: number, key: string) => round.inbox.has(scope, key) },
    baseRoundOf: (model) => job.baseRoundOf(model),
  }
}

/** An update: header admitted, signature checked, then at most its declared bytes read. */
export async function receiveUpdate(rx: Receiver, raw: unknown, readPayload: ReadPayload, from: string): Promise<void> {
  let header: UpdateMeta | undefined
  const fail = (err: RoundProtocolError): never => {
    rx.reject({
      kind: 'update',
      from,
      reason: err.message,
      errorName: err.name,
      ...(header !== undefined ? { jobId: header.jobId, round: header.round } : {}),
    })
    throw err
  }
  try {
    header = openRoundMessage('update', raw)
  } catch (err) {
    return fail(err as RoundProtocolError)
  }
  const h = header
  const job = rx.job(h.jobId)
  const self = rx.services.self
  const first = admitUpdate(job === undefined ? undefined : admissionState(self, job), h, from)
  if (!first.ok) return fail(first.error)
  const run = job as JobRun
  // proven updates: their proofs declared in the header, of the size this node's system reads
  const proofRefusal = checkProofHeader(run.spec, h, rx.services.proofs?.proofBytes)
  if (proofRefusal !== undefined) return fail(proofRefusal)
  if (first.value === 'early' && h.region === undefined) {
    // the round it is for has not started here: ask the policy now whether that round expects
    // this trainer, so that strangers cannot take the room kept for honest early updates
    const expected = await rx.policy.expectedTrainers?.(run.announcement, h.round)
    if (expected !== undefined && !expected.includes(h.trainer)) {
      return fail(new RejectedUpdateError(`${h.trainer} is not an eligible trainer for round ${h.round}`))
    }
  }
  const { transport } = rx.services
  if (!(await verifyMessage('update', h.envelope, h.trainer, (a, d, s) => transport.verify(a, d, s)))) {
    return fail(new ForgedMessageError('bad update signature'))
  }
  // an update for a later round is read only into room reserved for it in the job's early
  // buffer: the bounds hold for updates being read as for those held
  const release = first.value === 'early' ? run.reserveEarly(from, h.payloadBytes, rx.limits) : () => {}
  if (release === undefined) {
    return fail(new RejectedUpdateError(`no room for more updates ahead of this node's round (round ${h.round})`))
  }
  let payload: Uint8Array
  try {
    payload = await readPayload(h.payloadBytes)
  } finally {
    release()
  }
  if (payload.byteLength !== h.payloadBytes) {
    return fail(new RejectedUpdateError(`payload of ${payload.byteLength} bytes, announced ${h.payloadBytes}`))
  }
  if (sha256(payload) !== h.payloadHash) return fail(new ForgedMessageError('payload does not match its signed hash'))
  // the round may have moved on while the payload was read: decide again
  const verdict = admitUpdate(admissionState(self, run), h, from)
  if (!verdict.ok) return fail(verdict.error)
  if (verdict.value === 'early') {
    run.holdEarly({ header: raw, payload, from }, rx.limits)
    return
  }
  const route = verdict.value
  const round = run.round as RoundState
  let update = payload
  let proofDigest: string | undefined
  const proofs = rx.services.proofs
  if (run.spec.proofs !== undefined && route.kind !== 'partial' && proofs !== undefined) {
    // the proofs are about the values this member holds: checked before the update counts
    try {
      ;({ update, digest: proofDigest } = await checkUpdateProofs(proofs, run.spec, h, payload, run.numParams))
    } catch (err) {
      return fail(err as RoundProtocolError)
    }
    if (run.round !== round) return fail(new StaleUpdateError('the round ended while the proofs were checked'))
    if (round.inbox.has(route.scope, route.key))
      return fail(new RejectedUpdateError('duplicate update from this trainer'))
  }
  let delta: Float32Array
  try {
    delta =
      route.kind === 'partial'
        ? denseCodec().decodeUpdate(update, run.numParams)
        : run.runtime.decodeUpdate(update, run.numParams)
  } catch (err) {
    return fail(new RejectedUpdateError(`undecodable update: ${(err as Error).message}`))
  }
  if (!delta.every((x) => Number.isFinite(x))) return fail(new RejectedUpdateError('update contains NaN or Infinity'))
  round.inbox.add(route.scope, route.key, { header: h, payload, delta, staleness: route.staleness, proofDigest })
  rx.services.emit('update:accepted', { jobId: h.jobId, round: h.round, trainer: h.trainer, bytes: payload.byteLength })
}

/** A committee member's signed result: counted, held for later, or judged against a completed round. */
export async function receiveResult(rx: Receiver, raw: unknown, from: string): Promise<void> {
  let r: ReturnType<typeof openRoundMessage<'result'>>
  try {
    r = openRoundMessage('result', raw)
  } catch (err) {
    rx.reject({ kind: 'result', from, reason: (err as Error).message, errorName: (err as Error).name })
    return
  }
  const job = rx.job(r.jobId)
  if (job === undefined) return
  const transport = rx.services.transport
  if (!(await verifyMessage('result', r.envelope, r.aggregator, (a, d, s) => transport.verify(a, d, s)))) {
    rx.reject({
      kind: 'result',
      from,
      reason: 'bad result signature',
      errorName: 'ForgedMessageError',
      jobId: r.jobId,
      round: r.round,
    })
    return
  }
  const round = job.round
  if (job.book.isCompleted(r.round)) {
    const dissent = job.book.judge(r)
    if (dissent !== undefined) rx.services.emit('committee:disagreement', { jobId: job.jobId, ...dissent })
  } else if (round !== undefined && r.round === round.round && r.attempt === round.attempt) {
    const error = tally(round.results, round, r)
    if (error !== undefined) {
      rx.reject({
        kind: 'result',
        from: r.aggregator,
        reason: error.message,
        errorName: error.name,
        jobId: r.jobId,
        round: r.round,
      })
    } else checkMajority(job)
  } else if (round === undefined || r.round >= round.round) {
    job.book.hold(r)
    await catchUp(rx, job)
  }
}

/** Settle the running round if a majority of its committee signed the same result. */
export function checkMajority(job: JobRun): void {
  const round = job.round
  if (round === undefined) return
  const winner = majorityResult(round.results.values(), round.committee.length)
  if (winner === undefined) return
  job.settle?.({
    result: winner,
    round: round.round,
    attempt: round.attempt,
    baseModel: round.baseModel,
    committee: round.committee,
    results: [...round.results.values()],
  })
}

/**
 * A node behind (restarted, or slow) sees results for a later round: once a majority of that
 * round's committee (computed from the result's base model) agree, it jumps ahead.
 */
export async function catchUp(rx: Receiver, job: JobRun): Promise<void> {
  for (const group of job.book.groups(job.state.round)) {
    const first = group[0]
    if (first === undefined) continue
    const candidates = await rx.policy.committeeCandidates(job.announcement, first.round)
    const committee = selectCommittee(
      candidates,
      committeeSeed(job.jobId, first.baseModel, first.round, first.attempt),
      job.spec.committeeSize,
    )
    const members = new Set(group.map((r) => r.aggregator).filter((a) => committee.includes(a)))
    const round = job.round
    if (members.size < majority(committee.length) || first.round < job.state.round || round === undefined) continue
    if (round.round < first.round || (round.round === first.round && round.attempt !== first.attempt)) {
      job.settle?.({
        result: first,
        round: first.round,
        attempt: first.attempt,
        baseModel: first.baseModel,
        committee,
        results: group,
      })
    }
  }
}

/** A member's signed holdings: for the running round's agreement, or kept for a round ahead. */
export async function receiveHoldings(rx: Receiver, raw: unknown, from: string): Promise<void> {
  let h: Holdings
  try {
    h = openRoundMessage('holdings', raw)
  } catch (err) {
    rx.reject({ kind: 'holdings', from, reason: (err as Error).message, errorName: (err as Error).name })
    return
  }
  const job = rx.job(h.jobId)
  const round = job?.round
  if (job === undefined) return
  // held for later: only the next round (or a later attempt of this one), never far ahead
  const ahead =
    round === undefined
      ? h.round >= job.state.round && h.round <= job.state.round + 1
      : h.round === round.round + 1 || (h.round === round.round && h.attempt > round.attempt)
  const now =
    round !== undefined && h.round === round.round && h.attempt === round.attempt && h.baseModel === round.baseModel
  if (!ahead && !now) return
  const transport = rx.services.transport
  if (!(await verifyMessage('holdings', h.envelope, h.member, (a, d, s) => transport.verify(a, d, s)))) {
    rx.reject({
      kind: 'holdings',
      from,
      reason: 'bad holdings signature',
      errorName: 'ForgedMessageError',
      jobId: h.jobId,
      round: h.round,
    })
    return
  }
  if (now) addHoldings(round as RoundState, h)
  else holdPending(job, h)
}

/** Keep holdings for a round ahead, within the job's bounds: in count, in bytes and per member. */
function holdPending(job: JobRun, h: Holdings): void {
  const pending = job.pendingHoldings
  const bytes = pending.reduce((a, p) => a + p.envelope.body.byteLength, 0)
  const fromMember = pending.filter((p) => p.member === h.member).length
  if (
    pending.length >= MAX_PENDING_HOLDINGS ||
    bytes + h.envelope.body.byteLength > MAX_PENDING_HOLDINGS_BYTES ||
    fromMember >= 2
  ) {
    return
  }
  pending.push(h)
}

/** Add holdings to a round's board when their member is on the scope's committee. */
export function addHoldings(round: RoundState, h: Holdings): void {
  const members = h.scope < 0 ? round.committee : round.regions?.[h.scope]
  if (members?.includes(h.member) === true) round.holdings.add(h)
}

/** A secure-aggregation frame: authenticated, then served by the round's secure member part. */
export async function receiveSecAgg(rx: Receiver, frame: Uint8Array, from: string): Promise<Uint8Array> {
  const { header: req, body } = decodeSecAggFrame(frame, SecAggRequestSchema)
  const reject = (err: Error): never => {
    rx.reject({ kind: 'update', from, reason: err.message, errorName: err.name, jobId: req.jobId, round: req.round })
    throw err
  }
  const transport = rx.services.transport
  if (from !== rx.services.self) {
    await authenticateSecAgg(req, from, (a, d, s) => transport.verify(a, d, s)).catch(reject)
  }
  const job = rx.job(req.jobId)
  if (job === undefined) throw new StaleUpdateError('unknown job')
  if (!job.spec.secureAggregation) throw new RejectedUpdateError('this job does not use secure aggregation')
  // the sender may be a moment ahead of this node: wait for the round to start here
  await job.untilRound(req.round, req.attempt, Math.min(10_000, job.spec.roundDeadlineMs / 2))
  const round = job.round
  if (
    round === undefined ||
    round.round !== req.round ||
    round.attempt !== req.attempt ||
    round.baseModel !== req.baseModel
  ) {
    throw new StaleUpdateError(
      `secure-aggregation ${req.kind} for round ${req.round}.${req.attempt}, this node is at ${round?.round}.${round?.attempt}`,
    )
  }
  if (round.secAgg === undefined) throw new RejectedUpdateError('this node is not on the committee')
  try {
    return await round.secAgg(req, body, from)
  } catch (err) {
    return reject(err as Error)
  }
}

/** Deliver a signed update to each target (this node's own copy through admission here); returns who failed. */
export async function deliverUpdate(
  rx: Receiver,
  targets: readonly string[],
  header: SignedMessage,
  payload: Uint8Array,
  signal: AbortSignal,
): Promise<string[]> {
  const failed: string[] = []
  const self = rx.services.self
  await Promise.all(
    targets.map(async (member) => {
      try {
        if (member === self) await receiveUpdate(rx, header, async () => payload, self)
        else await rx.services.transport.sendUpdate(member, header, payload, { signal })
      } catch {
        failed.push(member)
      }
    }),
  )
  return failed
}
