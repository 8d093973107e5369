/**
 * The steps that open and complete a round on a node: its committee (and regional committees) and expected
 * trainers from the eligibility policy, and its base model, fetched by content address (retried
 * with backoff while a provider is busy, never larger than the job's architecture implies).
 * @module
 */
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel'
import { decodeModel, encodedModelBytes, type Model, parseArchitecture } from '../models/index.js'
import { HoldingsBoard } from './agreement.js'
import { committeeSeed, selectCommittee } from './committee.js'
import { InvalidJobError, RoundProtocolError } from './errors.js'
import { Inbox } from './inbox.js'
import type { JobRun, RoundOutcome } from './job.js'
import type { RoundServices, RoundState } from './parts/types.js'
import type { EligibilityPolicy, JobStateStore } from './ports.js'
import { addHoldings } from './receive.js'

/**
 * Open the job's next round (`run.state.round`/`attempt`): committees, expected trainers; the
 * round becomes the job's current one. Undefined when the job stopped meanwhile.
 */
export async function openRound(
  run: JobRun,
  policy: EligibilityPolicy,
  services: RoundServices,
): Promise<RoundState | undefined> {
  const { announcement, spec, jobId } = run
  const { round, attempt, model: baseModel } = run.state
  const candidates = await policy.committeeCandidates(announcement, round)
  const expected = await policy.expectedTrainers?.(announcement, round)
  if (run.signal.aborted) return undefined // the policy may be slow (read from chain)
  const committee = selectCommittee(candidates, committeeSeed(jobId, baseModel, round, attempt), spec.committeeSize)
  const hierarchy = spec.hierarchy
  const regions =
    hierarchy === undefined
      ? undefined
      : Array.from({ length: hierarchy.regions }, (_, r) =>
          selectCommittee(
            candidates,
            committeeSeed(jobId, baseModel, round, attempt, r),
            hierarchy.regionalCommitteeSize ?? spec.committeeSize,
          ),
        )
  const state: RoundState = {
    round,
    attempt,
    baseModel,
    committee,
    regions,
    expected,
    startedAt: services.now(),
    inbox: new Inbox(),
    holdings: new HoldingsBoard(),
    results: new Map(),
    cleanup: [],
  }
  run.enter(state)
  for (const h of run.pendingHoldings.splice(0)) {
    if (h.round === round && h.attempt === attempt && h.baseModel === baseModel) addHoldings(state, h)
    else if (h.round > round) run.pendingHoldings.push(h)
  }
  services.emit('round:started', { jobId, round, attempt, committee, baseModel })
  return state
}

/** Fetch and decode a model of the job by its address; refused when it is not the job's architecture. */
export async function fetchJobModel(
  run: JobRun,
  services: RoundServices,
  address: string,
  providers: string[] = [],
): Promise<Model> {
  const arch = parseArchitecture(run.spec.architecture)
  let bytes: Uint8Array
  try {
    bytes = await services.models.get(address, {
      signal: run.signal,
      providers,
      expectedBytes: encodedModelBytes(arch),
    })
  } catch (err) {
    // a model of another size is not the job's, now or later: a protocol error, not retried
    if ((err as Error)?.name === 'ModelSizeMismatchError') throw new InvalidJobError((err as Error).message)
    throw err
  }
  const model = decodeModel(bytes)
  if (JSON.stringify(model.architecture) !== JSON.stringify(arch)) {
    throw new InvalidJobError(`model ${address} has another architecture than the job`)
  }
  return model
}

/**
 * The round's base model. A busy provider may time out: retried with backoff through half the
 * round deadline (a protocol error — wrong architecture — is not retried). Reports a failed
 * round and returns undefined when it cannot be had.
 */
export async function loadRoundModel(
  run: JobRun,
  round: RoundState,
  services: RoundServices,
): Promise<Model | undefined> {
  const until = services.now() + run.spec.roundDeadlineMs / 2
  const policy = retry(
    handleWhen((err) => !(err instanceof RoundProtocolError) && services.now() < until),
    { maxAttempts: 1_000, backoff: new ExponentialBackoff({ initialDelay: 250, maxDelay: 4_000 }) },
  )
  try {
    return await policy.execute(() => fetchJobModel(run, services, round.baseModel), run.signal)
  } catch (err) {
    if (!run.signal.aborted) {
      services.emit('round:failed', {
        jobId: run.jobId,
        round: round.round,
        attempt: round.attempt,
        reason: `cannot load model ${round.baseModel}: ${(err as Error).message}`,
      })
    }
    return undefined
  }
}

/**
 * Complete a round on this node: remember the accepted model (and judge the results that
 * contradict it), fetch the new model from the members that produced it, persist, emit.
 */
export async function completeRound(
  run: JobRun,
  outcome: RoundOutcome,
  services: RoundServices,
  store: JobStateStore,
): Promise<void> {
  const { result } = outcome
  const agreeing = outcome.results.filter((r) => r.newModel === result.newModel)
  run.book.complete(outcome.round, result.newModel, outcome.committee)
  for (const r of outcome.results) {
    const dissent = run.book.judge(r)
    if (dissent !== undefined) services.emit('committee:disagreement', { jobId: run.jobId, ...dissent })
  }
  // make sure this node holds the new model (fetched from the members that produced it)
  await fetchJobModel(
    run,
    services,
    result.newModel,
    agreeing.map((r) => r.aggregator),
  ).catch(() => {})
  run.state = {
    ...run.state,
    round: outcome.round + 1,
    attempt: 0,
    model: result.newModel,
    history: [
      ...run.state.history,
      {
        round: outcome.round,
        model: result.newModel,
        contributions: result.contributions.length,
        completedAt: services.now(),
      },
    ].slice(-1000),
    lastResults: agreeing.map((r) => r.envelope),
  }
  await store.save(run.state)
  services.emit('round:completed', {
    jobId: run.jobId,
    round: outcome.round,
    model: result.newModel,
    contributions: result.contributions,
    committee: [...outcome.committee],
    agreeing: agreeing.map((r) => r.aggregator),
  })
}
