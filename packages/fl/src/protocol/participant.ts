/**
 * A round-protocol participant: joins announced jobs, trains and sends signed updates to each
 * round's committee, aggregates as a committee member, and accepts a round's model once a
 * majority of the committee published the same result. No central server: every node runs this.
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import { countParameters, decodeModel, encodeModel, type Model, parseArchitecture, toModel } from '../models/index.js'
import { addGaussianNoise, clipByL2Norm, cryptoNormalSource } from '../privacy/index.js'
import { majority, regionOf, selectCommittee } from './committee.js'
import {
  ForgedMessageError,
  InvalidJobError,
  RejectedUpdateError,
  RoundProtocolError,
  StaleUpdateError,
} from './errors.js'
import {
  type Contribution,
  computeJobId,
  type JobAnnouncement,
  JobAnnouncementSchema,
  type JobSpec,
  type JobSpecInput,
  JobSpecSchema,
  jobSigningBytes,
  ROUND_PROTOCOL_VERSION,
  type RoundResult,
  RoundResultSchema,
  resultSigningBytes,
  sha256,
  type UpdateMeta,
  UpdateMetaSchema,
  updateSigningBytes,
} from './messages.js'
import type {
  AggregationRuntime,
  AggregationRuntimeFactory,
  EligibilityPolicy,
  JobStateStore,
  Learner,
  ModelStore,
  PersistedJobState,
  RoundTransport,
  VerifiedUpdate,
} from './ports.js'
import { denseCodec } from './runtime.js'
import { decodeSecAggFrame, encodeSecAggFrame, SecAggRequestSchema } from './secure.js'
import { authenticateSecAgg, runSecureTrainer, SecureRoundMember } from './secure-round.js'

/** Roles a participant plays. */
export interface ParticipantRoles {
  trainer: boolean
  aggregator: boolean
}

/** Components and options of {@link createParticipant}. */
export interface ParticipantInit {
  transport: RoundTransport
  models: ModelStore
  state: JobStateStore
  policy: EligibilityPolicy
  learner?: Learner
  runtime: AggregationRuntimeFactory
  roles: ParticipantRoles
  /** Extra wait for results after a round's deadline before the committee is replaced (ms). */
  resultGraceMs?: number
  /** Bounded buffer of updates that arrive before this node reached their round. */
  maxEarlyUpdates?: number
  now?: () => number
}

/** A rejected message, for logs and slashing evidence. */
export interface RejectionEvent {
  kind: 'job' | 'update' | 'result'
  from: string
  reason: string
  errorName: string
  jobId?: string
  round?: number
}

/** Events of a participant. */
export interface ParticipantEvents {
  'job:joined': CustomEvent<{ jobId: string; spec: JobSpec; creator: string }>
  'round:started': CustomEvent<{
    jobId: string
    round: number
    attempt: number
    committee: string[]
    baseModel: string
  }>
  'update:sent': CustomEvent<{
    jobId: string
    round: number
    to: string[]
    bytes: number
    failed: string[]
    /** Why the update could not be sent at all (e.g. a secure-aggregation stage closed). */
    error?: string
  }>
  'update:accepted': CustomEvent<{ jobId: string; round: number; trainer: string; bytes: number }>
  'result:published': CustomEvent<RoundResult>
  'round:completed': CustomEvent<{
    jobId: string
    round: number
    model: string
    contributions: Contribution[]
    committee: string[]
    agreeing: string[]
  }>
  /** Committee members whose signed result differs from the majority (evidence for slashing). */
  'committee:disagreement': CustomEvent<{
    jobId: string
    round: number
    member: string
    claimed: string
    majority: string
  }>
  'round:failed': CustomEvent<{ jobId: string; round: number; attempt: number; reason: string }>
  'job:finished': CustomEvent<{ jobId: string; model: string; rounds: number }>
  rejected: CustomEvent<RejectionEvent>
}

export {
  ForgedMessageError,
  InvalidJobError,
  RejectedUpdateError,
  RoundProtocolError,
  StaleUpdateError,
} from './errors.js'

/** An accepted update, with its staleness in rounds (0 unless the job runs asynchronously). */
interface HeldUpdate {
  meta: UpdateMeta
  delta: Float32Array
  staleness: number
}

interface RoundWork {
  round: number
  attempt: number
  baseModel: string
  committee: string[]
  updates: Map<string, HeldUpdate>
  results: Map<string, RoundResult>
  resolveMajority?: (r: RoundResult) => void
  allArrived?: () => void
  expected: string[] | undefined
  /** This member's side of a secure-aggregation round (jobs with `secureAggregation`). */
  secure?: SecureRoundMember
  /** Hierarchical jobs: each region's committee (index = region); `committee` is the root's. */
  regions?: string[][]
  /** Updates this node took as a member of regional committees, per region. */
  regionUpdates: Map<number, Map<string, HeldUpdate>>
  regionArrived: Map<number, () => void>
  /** Regional aggregates this root member took: region → sender → aggregate. */
  partials: Map<number, Map<string, { meta: UpdateMeta; delta: Float32Array }>>
  partialsArrived?: () => void
}

interface JobRun {
  /** Recently completed rounds: the accepted model and the committee, to judge late results. */
  completed: Map<number, { model: string; committee: string[]; reported: Set<string> }>
  announcement: JobAnnouncement
  spec: JobSpec
  runtime: AggregationRuntime
  state: PersistedJobState
  current: RoundWork | undefined
  /** Results seen for rounds this node has not reached (catch-up after a restart). */
  ahead: Map<string, RoundResult>
  early: Array<{ meta: UpdateMeta; payload: Uint8Array; from: string }>
  abort: AbortController
  done: Promise<void>
  /** Asynchronous jobs: the local training in flight, which rounds do not wait for. */
  training?: Promise<void> | undefined
}

/**
 * One node's side of the decentralized round protocol.
 *
 * @example
 * ```ts
 * const p = createParticipant({ transport, models, state, policy, learner, runtime, roles: { trainer: true, aggregator: true } })
 * await p.start()
 * p.addEventListener('round:completed', (e) => console.log(e.detail.round, e.detail.model))
 * ```
 */
export class Participant extends TypedEventEmitter<ParticipantEvents> {
  private readonly init: ParticipantInit
  private readonly jobs = new Map<string, JobRun>()
  private readonly unsubscribe: Array<() => void> = []
  private running = false
  private readonly now: () => number
  private readonly stopWaiters = new Set<() => void>()

  constructor(init: ParticipantInit) {
    super()
    this.init = init
    this.now = init.now ?? Date.now
  }

  get self(): string {
    return this.init.transport.self
  }

  /** Subscribe to jobs, updates and results; resume persisted unfinished jobs. */
  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    const t = this.init.transport
    this.unsubscribe.push(
      t.onJob((a, from) => void this.onJob(a, from)),
      t.onResult((r, from) => this.onResult(r, from)),
      t.onUpdate((m, payload, from) => this.onUpdate(m, payload, from)),
    )
    if (t.onSecAggRequest !== undefined) {
      this.unsubscribe.push(t.onSecAggRequest((frame, from) => this.onSecAgg(frame, from)))
    }
    if (t.onLatestRequest !== undefined) {
      this.unsubscribe.push(t.onLatestRequest((jobId) => this.jobs.get(jobId)?.state.lastResults))
    }
    for (const jobId of await this.init.state.list()) {
      const saved = await this.init.state.load(jobId)
      if (saved !== undefined && !saved.finished) await this.join(saved.announcement, saved)
    }
  }

  /** Stop every job loop (state is persisted after each round). */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    for (const u of this.unsubscribe.splice(0)) u()
    for (const w of this.stopWaiters) w()
    this.stopWaiters.clear()
    const runs = [...this.jobs.values()]
    for (const run of runs) run.abort.abort()
    await Promise.allSettled(runs.flatMap((r) => [r.done, r.training ?? Promise.resolve()]))
    this.jobs.clear()
  }

  /** Create, sign and announce a job; this node joins it too. Returns the announcement. */
  async submitJob(input: JobSpecInput): Promise<JobAnnouncement> {
    const parsed = JobSpecSchema.safeParse(input)
    if (!parsed.success) {
      throw new InvalidJobError(
        `invalid job: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      )
    }
    const spec = parsed.data
    parseArchitecture(spec.architecture)
    const createdAt = this.now()
    const unsigned = {
      v: ROUND_PROTOCOL_VERSION as 1,
      jobId: computeJobId(spec, this.self, createdAt),
      spec,
      creator: this.self,
      createdAt,
    }
    const announcement: JobAnnouncement = {
      ...unsigned,
      signature: await this.init.transport.sign(jobSigningBytes(unsigned)),
    }
    await this.join(announcement)
    await this.init.transport.publishJob(announcement)
    return announcement
  }

  /** Progress of a job this node takes part in. */
  status(jobId: string): PersistedJobState | undefined {
    const run = this.jobs.get(jobId)
    return run === undefined ? undefined : structuredClone(run.state)
  }

  /** Jobs this node takes part in. */
  jobIds(): string[] {
    return [...this.jobs.keys()]
  }

  /** Resolves when the job finishes (or this participant stops). */
  async waitForJob(jobId: string, options: { signal?: AbortSignal } = {}): Promise<PersistedJobState | undefined> {
    if (!this.jobs.has(jobId) && this.running) {
      // the announcement may still be on its way
      await new Promise<void>((resolve) => {
        const onJoined = (e: CustomEvent<{ jobId: string }>): void => {
          if (e.detail.jobId === jobId) done()
        }
        const done = (): void => {
          this.removeEventListener('job:joined', onJoined)
          resolve()
        }
        this.addEventListener('job:joined', onJoined)
        options.signal?.addEventListener('abort', done, { once: true })
        this.stopWaiters.add(done)
      })
    }
    await this.jobs.get(jobId)?.done
    return (await this.init.state.load(jobId)) ?? undefined
  }

  private reject(event: RejectionEvent): void {
    this.safeDispatchEvent('rejected', { detail: event })
  }

  private async validateJob(raw: unknown, from: string): Promise<JobAnnouncement | undefined> {
    const parsed = JobAnnouncementSchema.safeParse(raw)
    if (!parsed.success) {
      this.reject({
        kind: 'job',
        from,
        reason: parsed.error.issues[0]?.message ?? 'invalid',
        errorName: 'InvalidJobError',
      })
      return undefined
    }
    const a = parsed.data
    const { signature, ...unsigned } = a
    try {
      parseArchitecture(a.spec.architecture)
    } catch (err) {
      this.reject({ kind: 'job', from, reason: (err as Error).message, errorName: 'InvalidJobError', jobId: a.jobId })
      return undefined
    }
    if (computeJobId(a.spec, a.creator, a.createdAt) !== a.jobId) {
      this.reject({
        kind: 'job',
        from,
        reason: 'job id does not match its spec',
        errorName: 'ForgedMessageError',
        jobId: a.jobId,
      })
      return undefined
    }
    if (!(await this.init.transport.verify(a.creator, jobSigningBytes(unsigned), signature))) {
      this.reject({
        kind: 'job',
        from,
        reason: 'bad creator signature',
        errorName: 'ForgedMessageError',
        jobId: a.jobId,
      })
      return undefined
    }
    return a
  }

  private async onJob(raw: unknown, from: string): Promise<void> {
    if (!this.running) return
    const a = await this.validateJob(raw, from)
    if (a === undefined || this.jobs.has(a.jobId)) return
    const saved = await this.init.state.load(a.jobId)
    if (saved?.finished === true) return
    try {
      await this.join(a, saved)
    } catch (err) {
      // a job this node cannot run (unknown codec, needs a transport feature…): say why, go on
      this.reject({
        kind: 'job',
        from,
        reason: (err as Error).message,
        errorName: (err as Error).name,
        jobId: a.jobId,
      })
    }
  }

  private async join(announcement: JobAnnouncement, saved?: PersistedJobState): Promise<void> {
    if (this.jobs.has(announcement.jobId) || !this.running) return
    const spec = announcement.spec
    if (spec.secureAggregation && this.init.transport.requestSecAgg === undefined) {
      throw new InvalidJobError('this job asks for secure aggregation, which this node’s transport does not carry')
    }
    if (
      this.init.roles.trainer &&
      this.init.learner !== undefined &&
      !this.init.learner.supports(spec) &&
      !this.init.roles.aggregator
    ) {
      return
    }
    const state: PersistedJobState = saved ?? {
      announcement,
      round: 0,
      attempt: 0,
      model: spec.initialModel,
      history: [],
      finished: false,
    }
    const run: JobRun = {
      completed: new Map(),
      announcement,
      spec,
      runtime: this.init.runtime(spec, this.self),
      state,
      current: undefined,
      ahead: new Map(),
      early: [],
      abort: new AbortController(),
      done: Promise.resolve(),
    }
    this.jobs.set(announcement.jobId, run)
    await this.init.state.save(state)
    this.safeDispatchEvent('job:joined', { detail: { jobId: announcement.jobId, spec, creator: announcement.creator } })
    if (saved !== undefined) void this.sync(run)
    run.done = this.runJob(run).catch((err: unknown) => {
      this.safeDispatchEvent('round:failed', {
        detail: {
          jobId: announcement.jobId,
          round: run.state.round,
          attempt: run.state.attempt,
          reason: String((err as Error)?.message ?? err),
        },
      })
    })
  }

  /** Ask peers for the job's latest results and feed them through the normal checks. */
  private async sync(run: JobRun): Promise<void> {
    const request = this.init.transport.requestLatest
    if (request === undefined || run.abort.signal.aborted) return
    try {
      const results = await request.call(this.init.transport, run.announcement.jobId, { signal: run.abort.signal })
      for (const r of results) this.onResult(r, 'sync')
    } catch {
      // nobody answered: gossip of the next round will catch us up instead
    }
  }

  private async loadModel(run: JobRun, hash: string, providers: string[] = []): Promise<Model> {
    const bytes = await this.init.models.get(hash, { signal: run.abort.signal, providers })
    if (sha256(bytes) !== hash) throw new ForgedMessageError(`model ${hash} failed its hash check`)
    const model = decodeModel(bytes)
    const arch = parseArchitecture(run.spec.architecture)
    if (JSON.stringify(model.architecture) !== JSON.stringify(arch)) {
      throw new InvalidJobError(`model ${hash} has another architecture than the job`)
    }
    return model
  }

  private async runJob(run: JobRun): Promise<void> {
    const { spec, announcement } = run
    const signal = run.abort.signal
    const grace = this.init.resultGraceMs ?? Math.max(1000, spec.roundDeadlineMs)
    while (!signal.aborted && run.state.round < spec.rounds) {
      const round = run.state.round
      const attempt = run.state.attempt
      const baseModel = run.state.model
      const candidates = await this.init.policy.committeeCandidates(announcement, round)
      const committee = selectCommittee(
        candidates,
        `${announcement.jobId}:${baseModel}:${round}:${attempt}`,
        spec.committeeSize,
      )
      const expected = await this.init.policy.expectedTrainers?.(announcement, round)
      const regions =
        spec.hierarchy === undefined
          ? undefined
          : Array.from({ length: spec.hierarchy.regions }, (_, r) =>
              selectCommittee(
                candidates,
                `${announcement.jobId}:${baseModel}:${round}:${attempt}:region:${r}`,
                spec.hierarchy?.regionalCommitteeSize ?? spec.committeeSize,
              ),
            )
      // the policy may be slow (read from chain): a stop while it ran must not start a round
      if (signal.aborted) break
      const work: RoundWork = {
        round,
        attempt,
        baseModel,
        committee,
        updates: new Map(),
        results: new Map(),
        expected,
        ...(regions !== undefined ? { regions } : {}),
        regionUpdates: new Map(),
        regionArrived: new Map(),
        partials: new Map(),
      }
      run.current = work
      this.safeDispatchEvent('round:started', {
        detail: { jobId: announcement.jobId, round, attempt, committee, baseModel },
      })
      // results that arrived before we got here
      for (const [key, r] of run.ahead) {
        if (r.round < round) run.ahead.delete(key)
        else if (r.round === round && r.attempt === attempt) {
          run.ahead.delete(key)
          this.tally(run, work, r)
        }
      }
      const majorityPromise = new Promise<RoundResult | undefined>((resolve) => {
        work.resolveMajority = resolve
        signal.addEventListener('abort', () => resolve(undefined), { once: true })
      })
      // a majority reached from buffered results resolves at once; later rounds may let us jump
      this.checkMajority(run, work)
      if (run.ahead.size > 0) this.catchUp(run)
      const isMember = committee.includes(this.self) && this.init.roles.aggregator
      if (isMember && spec.secureAggregation) {
        work.secure = new SecureRoundMember({
          ref: { jobId: announcement.jobId, round, attempt, baseModel },
          self: this.self,
          committee,
          vectorLength: countParameters(parseArchitecture(spec.architecture)),
          expected,
          deadlineMs: spec.roundDeadlineMs,
          unmaskWaitMs: grace / 2,
          sign: (d) => this.init.transport.sign(d),
          verify: (a, d, sig) => this.init.transport.verify(a, d, sig),
          signal,
        })
      }
      const tasks: Array<Promise<unknown>> = []
      let model: Model | undefined
      // a busy provider may time out: retry with backoff through half the round deadline
      const loadUntil = this.now() + spec.roundDeadlineMs / 2
      for (let wait = 250; model === undefined && !signal.aborted; wait = Math.min(wait * 2, 4_000)) {
        try {
          model = await this.loadModel(run, baseModel)
        } catch (err) {
          if (signal.aborted) break
          if (err instanceof RoundProtocolError || this.now() + wait > loadUntil) {
            this.safeDispatchEvent('round:failed', {
              detail: {
                jobId: announcement.jobId,
                round,
                attempt,
                reason: `cannot load model ${baseModel}: ${(err as Error).message}`,
              },
            })
            break
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, wait)
            signal.addEventListener('abort', () => {
              clearTimeout(t)
              r()
            })
          })
        }
      }
      if (signal.aborted) break // listeners added below would never hear an abort that already happened
      if (model !== undefined && this.init.roles.trainer && this.init.learner?.supports(spec) === true) {
        if (spec.staleness !== undefined) {
          // asynchronous: the round does not wait for this node's training; one training at a time
          if (run.training === undefined) {
            run.training = this.trainAndSend(run, work, model)
              .catch(() => {})
              .finally(() => {
                run.training = undefined
              })
          }
        } else
          tasks.push(spec.secureAggregation ? this.trainSecure(run, work, model) : this.trainAndSend(run, work, model))
      }
      if (model !== undefined && this.init.roles.aggregator && regions !== undefined) {
        regions.forEach((members, r) => {
          if (members.includes(this.self)) tasks.push(this.aggregateRegion(run, work, model, r))
        })
      }
      if (model !== undefined && isMember) {
        if (spec.secureAggregation) tasks.push(this.aggregateSecure(run, work, model))
        else if (regions !== undefined) tasks.push(this.aggregateRoot(run, work, model))
        else {
          for (const e of run.early.splice(0)) this.onUpdate(e.meta, e.payload, e.from).catch(() => {})
          tasks.push(this.aggregateAsMember(run, work, model))
        }
      }
      const timeout = new Promise<undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), spec.roundDeadlineMs + grace)
        signal.addEventListener('abort', () => clearTimeout(t), { once: true })
        void majorityPromise.then(() => clearTimeout(t))
      })
      const winner = await Promise.race([majorityPromise, timeout])
      work.secure?.close()
      await Promise.allSettled(tasks)
      if (signal.aborted) break
      if (winner === undefined) {
        // no majority in time: the committee is replaced (a new seed) and the round runs again
        this.safeDispatchEvent('round:failed', {
          detail: { jobId: announcement.jobId, round, attempt, reason: 'no committee majority before the deadline' },
        })
        run.state = { ...run.state, attempt: attempt + 1 }
        await this.init.state.save(run.state)
        // maybe the others moved on while we were away: ask before running the round again
        await this.sync(run)
        continue
      }
      await this.completeRound(run, work, winner)
    }
    if (!signal.aborted && run.state.round >= spec.rounds) {
      run.state = { ...run.state, finished: true }
      await this.init.state.save(run.state)
      this.safeDispatchEvent('job:finished', {
        detail: { jobId: announcement.jobId, model: run.state.model, rounds: run.state.round },
      })
    }
  }

  private async completeRound(run: JobRun, work: RoundWork, winner: RoundResult): Promise<void> {
    const agreeing = [...work.results.values()].filter((r) => r.newModel === winner.newModel).map((r) => r.aggregator)
    const record = { model: winner.newModel, committee: work.committee, reported: new Set<string>() }
    run.completed.set(work.round, record)
    if (run.completed.size > 16) run.completed.delete(Math.min(...run.completed.keys()))
    for (const r of work.results.values()) this.judgeLate(run, r)
    // make sure we hold the new model (fetch it from the members that produced it)
    try {
      await this.loadModel(run, winner.newModel, agreeing)
    } catch {
      // the next round's loadModel retries and reports
    }
    run.state = {
      ...run.state,
      round: work.round + 1,
      attempt: 0,
      model: winner.newModel,
      history: [
        ...run.state.history,
        {
          round: work.round,
          model: winner.newModel,
          contributions: winner.contributions.length,
          completedAt: this.now(),
        },
      ].slice(-1000),
      lastResults: [...work.results.values()].filter((r) => r.newModel === winner.newModel),
    }
    await this.init.state.save(run.state)
    this.safeDispatchEvent('round:completed', {
      detail: {
        jobId: run.announcement.jobId,
        round: work.round,
        model: winner.newModel,
        contributions: winner.contributions,
        committee: work.committee,
        agreeing,
      },
    })
  }

  private async trainAndSend(run: JobRun, work: RoundWork, model: Model): Promise<void> {
    const learner = this.init.learner as Learner
    const { spec, announcement } = run
    const signal = run.abort.signal
    const result = await learner.train(spec, model, work.round, { signal })
    // asynchronous jobs send a late update to the round running now (it is weighted by staleness)
    const target = spec.staleness !== undefined ? run.current : work
    if (signal.aborted || target === undefined || (target !== work && spec.staleness === undefined)) return
    if (target !== work && target.round - work.round > (spec.staleness?.maxRounds ?? 0)) return
    const delta = privatize(
      spec,
      Float32Array.from(result.params, (p, i) => p - (model.params[i] as number)),
    )
    const payload = run.runtime.encodeUpdate(delta)
    const targets =
      target.regions === undefined
        ? target.committee
        : (target.regions[regionOf(announcement.jobId, this.self, target.regions.length)] as string[])
    const unsigned = {
      v: ROUND_PROTOCOL_VERSION as 1,
      jobId: announcement.jobId,
      round: target.round,
      baseModel: work.baseModel,
      trainer: this.self,
      numSamples: result.numSamples,
      payloadHash: sha256(payload),
      payloadBytes: payload.byteLength,
    }
    const meta: UpdateMeta = { ...unsigned, signature: await this.init.transport.sign(updateSigningBytes(unsigned)) }
    const failed = await this.sendToAll(targets, meta, payload, signal)
    this.safeDispatchEvent('update:sent', {
      detail: { jobId: announcement.jobId, round: target.round, to: targets, bytes: payload.byteLength, failed },
    })
  }

  /** The round whose base a model is (0 for the initial model), from this node's history. */
  private baseRoundOf(run: JobRun, model: string): number | undefined {
    if (model === run.spec.initialModel) return 0
    for (let i = run.state.history.length - 1; i >= 0; i--) {
      const h = run.state.history[i]
      if (h?.model === model) return h.round + 1
    }
    return undefined
  }

  /** Aggregation weight of an update: its samples, scaled down by staleness in asynchronous jobs. */
  private weightOf(run: JobRun, u: HeldUpdate): number {
    const a = run.spec.staleness?.exponent ?? 0
    return u.meta.numSamples * (1 + u.staleness) ** -a
  }

  /** Send a signed update to every target (this node's own copy through `onUpdate`); returns who failed. */
  private async sendToAll(
    targets: readonly string[],
    meta: UpdateMeta,
    payload: Uint8Array,
    signal: AbortSignal,
  ): Promise<string[]> {
    const failed: string[] = []
    await Promise.all(
      targets.map(async (member) => {
        try {
          if (member === this.self) await this.onUpdate(meta, payload, this.self)
          else await this.init.transport.sendUpdate(member, meta, payload, { signal })
        } catch {
          failed.push(member)
        }
      }),
    )
    return failed
  }

  // ——— hierarchical jobs: regional committees feed the root committee ———

  /** Wait until `ready()` or `ms`, whichever first; `register` receives a call to make on each arrival. */
  private waitUntil(
    signal: AbortSignal,
    ms: number,
    ready: () => boolean,
    register: (wake: () => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms)
      function done(): void {
        clearTimeout(t)
        resolve()
      }
      register(() => {
        if (ready()) done()
      })
      signal.addEventListener('abort', done, { once: true })
      if (ready()) done()
    })
  }

  /** As a member of region `r`'s committee: combine the region's updates, send them to the root. */
  private async aggregateRegion(run: JobRun, work: RoundWork, model: Model, r: number): Promise<void> {
    const { spec, announcement } = run
    const signal = run.abort.signal
    const regions = work.regions as string[][]
    const expected = work.expected?.filter((t) => regionOf(announcement.jobId, t, regions.length) === r)
    const held = () => work.regionUpdates.get(r) ?? new Map()
    // the root needs time after the regions: regions close at 60 % of the deadline
    await this.waitUntil(
      signal,
      spec.roundDeadlineMs * 0.6,
      () => expected !== undefined && expected.length > 0 && expected.every((t) => held().has(t)),
      (wake) => work.regionArrived.set(r, wake),
    )
    if (signal.aborted || run.current !== work) return
    const accepted = [...held().values()].sort((a, b) => (a.meta.trainer < b.meta.trainer ? -1 : 1))
    if (accepted.length === 0) return
    const updates: VerifiedUpdate[] = accepted.map((u) => ({
      trainer: u.meta.trainer,
      numSamples: this.weightOf(run, u),
      delta: u.delta,
    }))
    const combined =
      run.runtime.combine?.(model.params, updates) ??
      Float32Array.from(run.runtime.aggregate(model.params, updates), (p, i) => p - (model.params[i] as number))
    const payload = denseCodec().encodeUpdate(combined)
    const unsigned = {
      v: ROUND_PROTOCOL_VERSION as 1,
      jobId: announcement.jobId,
      round: work.round,
      baseModel: work.baseModel,
      trainer: this.self,
      numSamples: accepted.reduce((a, u) => a + u.meta.numSamples, 0),
      payloadHash: sha256(payload),
      payloadBytes: payload.byteLength,
      region: {
        index: r,
        contributions: accepted.map((u) => ({
          trainer: u.meta.trainer,
          numSamples: u.meta.numSamples,
          payloadHash: u.meta.payloadHash,
          payloadBytes: u.meta.payloadBytes,
        })),
      },
    }
    const meta: UpdateMeta = { ...unsigned, signature: await this.init.transport.sign(updateSigningBytes(unsigned)) }
    await this.sendToAll(work.committee, meta, payload, signal)
  }

  /** The regional aggregates of region `r` a majority of its committee agree on, if any. */
  private agreedPartial(work: RoundWork, r: number): { meta: UpdateMeta; delta: Float32Array } | undefined {
    const got = work.partials.get(r)
    const members = work.regions?.[r]
    if (got === undefined || members === undefined) return undefined
    const votes = new Map<string, Array<{ meta: UpdateMeta; delta: Float32Array }>>()
    for (const p of got.values()) votes.set(p.meta.payloadHash, [...(votes.get(p.meta.payloadHash) ?? []), p])
    for (const group of votes.values()) if (group.length >= majority(members.length)) return group[0]
    return undefined
  }

  /** As a root member: aggregate the regions' agreed aggregates and publish the round's result. */
  private async aggregateRoot(run: JobRun, work: RoundWork, model: Model): Promise<void> {
    const { spec, announcement } = run
    const signal = run.abort.signal
    const regions = work.regions as string[][]
    // regions with trainers expected this round (all, when the job does not list them)
    const needed = regions
      .map((_, r) => r)
      .filter(
        (r) =>
          work.expected === undefined ||
          work.expected.some((t) => regionOf(announcement.jobId, t, regions.length) === r),
      )
    await this.waitUntil(
      signal,
      spec.roundDeadlineMs,
      () => needed.every((r) => this.agreedPartial(work, r) !== undefined),
      (wake) => {
        work.partialsArrived = wake
      },
    )
    if (signal.aborted || run.current !== work) return
    const chosen = regions
      .map((_, r) => ({ r, p: this.agreedPartial(work, r) }))
      .filter((x): x is { r: number; p: { meta: UpdateMeta; delta: Float32Array } } => x.p !== undefined)
    const contributions = chosen
      .flatMap((x) => x.p.meta.region?.contributions ?? [])
      .sort((a, b) => (a.trainer < b.trainer ? -1 : 1))
    if (contributions.length < spec.minUpdates) {
      this.safeDispatchEvent('round:failed', {
        detail: {
          jobId: announcement.jobId,
          round: work.round,
          attempt: work.attempt,
          reason: `only ${contributions.length}/${spec.minUpdates} updates in ${chosen.length}/${regions.length} agreed regional aggregates`,
        },
      })
      return
    }
    const params = run.runtime.aggregate(
      model.params,
      chosen.map((x) => ({ trainer: `region:${x.r}`, numSamples: x.p.meta.numSamples, delta: x.p.delta })),
    )
    await this.publishAggregate(run, work, model, params, contributions)
  }

  /** Validate an incoming update; throws typed errors the transport reports to the sender. */
  private async onUpdate(raw: unknown, payload: Uint8Array, from: string): Promise<void> {
    const fail = (err: RoundProtocolError, jobId?: string, round?: number): never => {
      this.reject({
        kind: 'update',
        from,
        reason: err.message,
        errorName: err.name,
        ...(jobId !== undefined ? { jobId } : {}),
        ...(round !== undefined ? { round } : {}),
      })
      throw err
    }
    const parsed = UpdateMetaSchema.safeParse(raw)
    if (!parsed.success) fail(new RejectedUpdateError(`invalid update metadata: ${parsed.error.issues[0]?.message}`))
    const meta = (parsed as { data: UpdateMeta }).data
    const run = this.jobs.get(meta.jobId)
    if (run === undefined) fail(new StaleUpdateError('unknown job'), meta.jobId)
    const job = run as JobRun
    if (meta.trainer !== from)
      fail(new ForgedMessageError(`update signed for ${meta.trainer} but sent by ${from}`), meta.jobId, meta.round)
    const { signature, ...unsigned } = meta
    if (!(await this.init.transport.verify(meta.trainer, updateSigningBytes(unsigned), signature))) {
      fail(new ForgedMessageError('bad update signature'), meta.jobId, meta.round)
    }
    if (payload.byteLength !== meta.payloadBytes || payload.byteLength > job.spec.maxUpdateBytes) {
      fail(
        new RejectedUpdateError(
          `payload of ${payload.byteLength} bytes (announced ${meta.payloadBytes}, limit ${job.spec.maxUpdateBytes})`,
        ),
        meta.jobId,
        meta.round,
      )
    }
    if (sha256(payload) !== meta.payloadHash)
      fail(new ForgedMessageError('payload does not match its signed hash'), meta.jobId, meta.round)
    const work = job.current
    if (work === undefined || meta.round > work.round) {
      // not there yet: keep a bounded number for later (re-verified then)
      if (job.early.length < (this.init.maxEarlyUpdates ?? 256)) job.early.push({ meta, payload, from })
      return
    }
    let staleness = 0
    if (meta.round < work.round) {
      fail(new StaleUpdateError(`update for round ${meta.round}, current round ${work.round}`), meta.jobId, meta.round)
    }
    if (meta.baseModel !== work.baseModel) {
      // trained on an older model: asynchronous jobs take it, weighted down; others refuse it
      const base = this.baseRoundOf(job, meta.baseModel)
      const tau = base === undefined ? Number.POSITIVE_INFINITY : work.round - base
      const max = job.spec.staleness?.maxRounds ?? 0
      if (meta.region !== undefined || !(tau >= 1 && tau <= max)) {
        fail(
          new StaleUpdateError(
            `update on model ${meta.baseModel.slice(0, 8)}${Number.isFinite(tau) ? ` (${tau} rounds old)` : ''}, current round ${work.round} on ${work.baseModel.slice(0, 8)}${max > 0 ? `, at most ${max} rounds old accepted` : ''}`,
          ),
          meta.jobId,
          meta.round,
        )
      }
      staleness = tau
    }
    const regions = work.regions
    const arch = parseArchitecture(job.spec.architecture)
    const decode = (decoder: (bytes: Uint8Array, length: number) => Float32Array): Float32Array => {
      let delta: Float32Array
      try {
        delta = decoder(payload, countParameters(arch))
      } catch (err) {
        return fail(new RejectedUpdateError(`undecodable update: ${(err as Error).message}`), meta.jobId, meta.round)
      }
      for (let i = 0; i < delta.length; i++) {
        if (!Number.isFinite(delta[i] as number))
          fail(new RejectedUpdateError('update contains NaN or Infinity'), meta.jobId, meta.round)
      }
      return delta
    }
    if (meta.region !== undefined) {
      // a regional aggregate, for the root committee
      const r = meta.region.index
      if (regions === undefined || r >= regions.length)
        fail(new RejectedUpdateError(`no region ${r} in this job`), meta.jobId, meta.round)
      const members = (regions as string[][])[r] as string[]
      if (!work.committee.includes(this.self))
        fail(new RejectedUpdateError('this node is not on the root committee'), meta.jobId, meta.round)
      if (!members.includes(meta.trainer))
        fail(new RejectedUpdateError(`${meta.trainer} is not on region ${r}'s committee`), meta.jobId, meta.round)
      const inRegion = meta.region.contributions.every(
        (c) =>
          regionOf(meta.jobId, c.trainer, (regions as string[][]).length) === r &&
          (work.expected === undefined || work.expected.includes(c.trainer)),
      )
      const samples = meta.region.contributions.reduce((a, c) => a + c.numSamples, 0)
      if (!inRegion || samples !== meta.numSamples || meta.region.contributions.length === 0) {
        fail(new RejectedUpdateError(`regional aggregate of region ${r} lists trainers or samples that do not add up`))
      }
      const got = work.partials.get(r) ?? new Map()
      if (got.has(meta.trainer))
        fail(new RejectedUpdateError('duplicate regional aggregate from this member'), meta.jobId, meta.round)
      got.set(meta.trainer, { meta, delta: decode(denseCodec().decodeUpdate), staleness: 0 })
      work.partials.set(r, got)
      this.safeDispatchEvent('update:accepted', {
        detail: { jobId: meta.jobId, round: meta.round, trainer: meta.trainer, bytes: payload.byteLength },
      })
      work.partialsArrived?.()
      return
    }
    let held = work.updates
    let region: number | undefined
    if (regions !== undefined) {
      region = regionOf(meta.jobId, meta.trainer, regions.length)
      if (!(regions[region] as string[]).includes(this.self))
        fail(new RejectedUpdateError(`this node is not on region ${region}'s committee`), meta.jobId, meta.round)
      held = work.regionUpdates.get(region) ?? new Map()
      work.regionUpdates.set(region, held)
    } else if (!work.committee.includes(this.self))
      fail(new RejectedUpdateError('this node is not on the committee'), meta.jobId, meta.round)
    if (work.expected !== undefined && !work.expected.includes(meta.trainer)) {
      fail(new RejectedUpdateError(`${meta.trainer} is not an eligible trainer this round`), meta.jobId, meta.round)
    }
    if (held.has(meta.trainer))
      fail(new RejectedUpdateError('duplicate update from this trainer'), meta.jobId, meta.round)
    held.set(meta.trainer, { meta, delta: decode((b, n) => job.runtime.decodeUpdate(b, n)), staleness })
    this.safeDispatchEvent('update:accepted', {
      detail: { jobId: meta.jobId, round: meta.round, trainer: meta.trainer, bytes: payload.byteLength },
    })
    if (region !== undefined) work.regionArrived.get(region)?.()
    else if (work.expected?.every((t) => work.updates.has(t))) work.allArrived?.()
  }

  private async aggregateAsMember(run: JobRun, work: RoundWork, model: Model): Promise<void> {
    const { spec, announcement } = run
    const signal = run.abort.signal
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, spec.roundDeadlineMs)
      work.allArrived = () => {
        clearTimeout(t)
        resolve()
      }
      signal.addEventListener('abort', () => {
        clearTimeout(t)
        resolve()
      })
      if (work.expected?.every((x) => work.updates.has(x))) work.allArrived()
    })
    if (signal.aborted || run.current !== work) return
    const accepted = [...work.updates.values()].sort((a, b) => (a.meta.trainer < b.meta.trainer ? -1 : 1))
    if (accepted.length < spec.minUpdates) {
      this.safeDispatchEvent('round:failed', {
        detail: {
          jobId: announcement.jobId,
          round: work.round,
          attempt: work.attempt,
          reason: `only ${accepted.length}/${spec.minUpdates} updates`,
        },
      })
      return
    }
    const updates: VerifiedUpdate[] = accepted.map((u) => ({
      trainer: u.meta.trainer,
      numSamples: this.weightOf(run, u),
      delta: u.delta,
    }))
    const params = run.runtime.aggregate(model.params, updates)
    await this.publishAggregate(
      run,
      work,
      model,
      params,
      accepted.map((u) => ({
        trainer: u.meta.trainer,
        numSamples: u.meta.numSamples,
        payloadHash: u.meta.payloadHash,
        payloadBytes: u.meta.payloadBytes,
      })),
    )
  }

  /** Store the new model and publish this member's signed result. */
  private async publishAggregate(
    run: JobRun,
    work: RoundWork,
    model: Model,
    params: Float32Array,
    contributions: Contribution[],
  ): Promise<void> {
    const bytes = encodeModel(toModel(model.architecture, params))
    const newModel = await this.init.models.put(bytes)
    const unsigned = {
      v: ROUND_PROTOCOL_VERSION as 1,
      jobId: run.announcement.jobId,
      round: work.round,
      attempt: work.attempt,
      baseModel: work.baseModel,
      newModel,
      contributions,
      aggregator: this.self,
    }
    const result: RoundResult = { ...unsigned, signature: await this.init.transport.sign(resultSigningBytes(unsigned)) }
    await this.publishResult(result)
  }

  // ——— secure aggregation (jobs with `secureAggregation: true`; flow in ./secure.ts) ———

  /** Send a secure-aggregation frame to a member, or handle it here when this node is that member. */
  private sendSecAgg(run: JobRun, to: string, frame: Uint8Array): Promise<Uint8Array> {
    if (to === this.self) return this.onSecAgg(frame, this.self)
    const t = this.init.transport
    const deadline = AbortSignal.timeout(
      run.spec.roundDeadlineMs + (this.init.resultGraceMs ?? run.spec.roundDeadlineMs),
    )
    return (t.requestSecAgg as NonNullable<RoundTransport['requestSecAgg']>).call(t, to, frame, {
      signal: AbortSignal.any([run.abort.signal, deadline]),
    })
  }

  private async trainSecure(run: JobRun, work: RoundWork, model: Model): Promise<void> {
    const learner = this.init.learner as Learner
    const { spec, announcement } = run
    const signal = run.abort.signal
    const training = learner.train(spec, model, work.round, { signal })
    const delta = training.then((result) =>
      privatize(
        spec,
        Float32Array.from(result.params, (p, i) => p - (model.params[i] as number)),
      ),
    )
    delta.catch(() => {})
    try {
      const numSamples = learner.numSamples?.(spec) ?? (await training).numSamples
      const outcome = await runSecureTrainer({
        ref: { jobId: announcement.jobId, round: work.round, attempt: work.attempt, baseModel: work.baseModel },
        self: this.self,
        committee: work.committee,
        vectorLength: model.params.length,
        numSamples,
        delta,
        send: (to, frame) => this.sendSecAgg(run, to, frame),
        sign: (d) => this.init.transport.sign(d),
        verify: (a, d, sig) => this.init.transport.verify(a, d, sig),
      })
      this.safeDispatchEvent('update:sent', {
        detail: {
          jobId: announcement.jobId,
          round: work.round,
          to: work.committee,
          bytes: outcome.bytes,
          failed: outcome.failed,
        },
      })
    } catch (err) {
      if (signal.aborted) return
      this.safeDispatchEvent('update:sent', {
        detail: {
          jobId: announcement.jobId,
          round: work.round,
          to: work.committee,
          bytes: 0,
          failed: work.committee,
          error: `${(err as Error).name}: ${(err as Error).message}`,
        },
      })
    }
  }

  private async aggregateSecure(run: JobRun, work: RoundWork, model: Model): Promise<void> {
    const secure = work.secure as SecureRoundMember
    const agg = await secure.result()
    if (run.abort.signal.aborted || run.current !== work) return
    const fail = (reason: string): void => {
      this.safeDispatchEvent('round:failed', {
        detail: { jobId: run.announcement.jobId, round: work.round, attempt: work.attempt, reason },
      })
    }
    if (agg === undefined) return fail(`secure aggregation: ${secure.failure ?? 'no aggregate'}`)
    if (agg.contributions.length < run.spec.minUpdates) {
      return fail(`only ${agg.contributions.length}/${run.spec.minUpdates} updates in the secure sum`)
    }
    for (let i = 0; i < agg.mean.length; i++) {
      if (!Number.isFinite(agg.mean[i] as number)) return fail('secure aggregate contains NaN or Infinity')
    }
    const params = run.runtime.aggregate(model.params, [
      { trainer: 'secure-aggregate', numSamples: agg.numSamples, delta: agg.mean },
    ])
    await this.publishAggregate(run, work, model, params, agg.contributions)
  }

  /** Serve a secure-aggregation request; throws typed errors the transport reports to the sender. */
  private async onSecAgg(frame: Uint8Array, from: string): Promise<Uint8Array> {
    const { header: req, body } = decodeSecAggFrame(frame, SecAggRequestSchema)
    if (from !== this.self) {
      await authenticateSecAgg(req, from, (a, d, sig) => this.init.transport.verify(a, d, sig)).catch((err: Error) => {
        this.reject({
          kind: 'update',
          from,
          reason: err.message,
          errorName: err.name,
          jobId: req.jobId,
          round: req.round,
        })
        throw err
      })
    }
    const run = this.jobs.get(req.jobId)
    if (run === undefined) throw new StaleUpdateError('unknown job')
    if (!run.spec.secureAggregation) throw new RejectedUpdateError('this job does not use secure aggregation')
    // the sender may be a moment ahead of this node: wait briefly for the round to start here
    const until = this.now() + Math.min(10_000, run.spec.roundDeadlineMs / 2)
    let work = run.current
    while (
      !run.abort.signal.aborted &&
      (work === undefined || work.round < req.round || (work.round === req.round && work.attempt < req.attempt)) &&
      this.now() < until
    ) {
      await new Promise((r) => setTimeout(r, 25))
      work = run.current
    }
    if (
      work === undefined ||
      work.round !== req.round ||
      work.attempt !== req.attempt ||
      work.baseModel !== req.baseModel
    ) {
      throw new StaleUpdateError(
        `secure-aggregation ${req.kind} for round ${req.round}.${req.attempt}, this node is at ${work?.round}.${work?.attempt}`,
      )
    }
    if (work.secure === undefined) throw new RejectedUpdateError('this node is not on the committee')
    try {
      const response = await work.secure.handle(req, body, from)
      if (req.kind === 'masked') {
        this.safeDispatchEvent('update:accepted', {
          detail: { jobId: req.jobId, round: req.round, trainer: req.trainer, bytes: body.byteLength },
        })
      }
      return encodeSecAggFrame(response)
    } catch (err) {
      this.reject({
        kind: 'update',
        from,
        reason: (err as Error).message,
        errorName: (err as Error).name,
        jobId: req.jobId,
        round: req.round,
      })
      throw err
    }
  }

  /** Publish a signed result (protected so tests can model a lying member). */
  protected async publishResult(result: RoundResult): Promise<void> {
    this.safeDispatchEvent('result:published', { detail: result })
    this.onResult(result, this.self)
    await this.init.transport.publishResult(result)
  }

  private onResult(raw: unknown, from: string): void {
    const parsed = RoundResultSchema.safeParse(raw)
    if (!parsed.success) {
      this.reject({
        kind: 'result',
        from,
        reason: parsed.error.issues[0]?.message ?? 'invalid',
        errorName: 'InvalidMessageError',
      })
      return
    }
    const r = parsed.data
    const run = this.jobs.get(r.jobId)
    if (run === undefined) return
    void this.verifyResult(r).then((ok) => {
      if (!ok) {
        this.reject({
          kind: 'result',
          from,
          reason: 'bad result signature',
          errorName: 'ForgedMessageError',
          jobId: r.jobId,
          round: r.round,
        })
        return
      }
      const work = run.current
      if (run.completed.has(r.round)) this.judgeLate(run, r)
      else if (work !== undefined && r.round === work.round && r.attempt === work.attempt) this.tally(run, work, r)
      else if (work === undefined || r.round >= work.round) {
        if (run.ahead.size < 1024) run.ahead.set(`${r.round}:${r.attempt}:${r.aggregator}`, r)
        this.catchUp(run)
      }
    })
  }

  /** A signed result that contradicts a round's accepted model is evidence against its signer. */
  private judgeLate(run: JobRun, r: RoundResult): void {
    const record = run.completed.get(r.round)
    if (record === undefined || r.newModel === record.model || !record.committee.includes(r.aggregator)) return
    if (record.reported.has(r.aggregator)) return
    record.reported.add(r.aggregator)
    this.safeDispatchEvent('committee:disagreement', {
      detail: {
        jobId: run.announcement.jobId,
        round: r.round,
        member: r.aggregator,
        claimed: r.newModel,
        majority: record.model,
      },
    })
  }

  private async verifyResult(r: RoundResult): Promise<boolean> {
    const { signature, ...unsigned } = r
    return this.init.transport.verify(r.aggregator, resultSigningBytes(unsigned), signature)
  }

  private tally(run: JobRun, work: RoundWork, r: RoundResult): void {
    if (r.baseModel !== work.baseModel) {
      this.reject({
        kind: 'result',
        from: r.aggregator,
        reason: 'result on another base model',
        errorName: 'StaleUpdateError',
        jobId: r.jobId,
        round: r.round,
      })
      return
    }
    if (!work.committee.includes(r.aggregator)) {
      this.reject({
        kind: 'result',
        from: r.aggregator,
        reason: 'result from a node outside the committee',
        errorName: 'ForgedMessageError',
        jobId: r.jobId,
        round: r.round,
      })
      return
    }
    if (work.results.has(r.aggregator)) return
    work.results.set(r.aggregator, r)
    this.checkMajority(run, work)
  }

  private checkMajority(_run: JobRun, work: RoundWork): void {
    const counts = new Map<string, number>()
    for (const r of work.results.values()) counts.set(r.newModel, (counts.get(r.newModel) ?? 0) + 1)
    for (const [modelHash, n] of counts) {
      if (n >= majority(work.committee.length)) {
        const winner = [...work.results.values()].find((r) => r.newModel === modelHash) as RoundResult
        work.resolveMajority?.(winner)
        return
      }
    }
  }

  /**
   * A node behind (restarted, or slow) sees results for a later round: once a majority of that
   * round's committee (computed from the result's base model) agree, it jumps ahead.
   */
  private catchUp(run: JobRun): void {
    const groups = new Map<string, RoundResult[]>()
    for (const r of run.ahead.values()) {
      const key = `${r.round}:${r.attempt}:${r.baseModel}:${r.newModel}`
      groups.set(key, [...(groups.get(key) ?? []), r])
    }
    void (async () => {
      for (const results of groups.values()) {
        const first = results[0] as RoundResult
        if (first.round < run.state.round) continue
        const candidates = await this.init.policy.committeeCandidates(run.announcement, first.round)
        const committee = selectCommittee(
          candidates,
          `${run.announcement.jobId}:${first.baseModel}:${first.round}:${first.attempt}`,
          run.spec.committeeSize,
        )
        const members = new Set(results.map((r) => r.aggregator).filter((a) => committee.includes(a)))
        if (members.size >= majority(committee.length) && first.round >= run.state.round) {
          // jump: the current loop iteration ends with this result
          const work = run.current
          if (
            work !== undefined &&
            (work.round < first.round || (work.round === first.round && work.attempt !== first.attempt))
          ) {
            work.round = first.round
            work.attempt = first.attempt
            work.baseModel = first.baseModel
            work.committee = committee
            for (const r of results) work.results.set(r.aggregator, r)
            work.resolveMajority?.(first)
          }
        }
      }
    })()
  }
}

/** Create a participant. */
export function createParticipant(init: ParticipantInit): Participant {
  return new Participant(init)
}

/**
 * Differential privacy of a job (`spec.privacy`), applied by each trainer to its own update
 * before it leaves the node: clip to L2 norm `clip`, then add Gaussian noise N(0, (σ·clip)²/n),
 * where n is the number of trainers the job lists (1 when it lists none). Summed over n honest
 * trainers, the noise is N(0, (σ·clip)²) — the Gaussian mechanism of central DP on the sum,
 * without trusting the committee with noise-free updates (distributed DP; with secure
 * aggregation, members only ever see the noised sum).
 */
export function privatize(spec: JobSpec, delta: Float32Array): Float32Array {
  if (spec.privacy === undefined) return delta
  const { clip, noiseMultiplier } = spec.privacy
  const { clipped } = clipByL2Norm(delta, clip)
  if (noiseMultiplier === 0) return clipped
  const n = Math.max(1, spec.participants?.trainers?.length ?? 1)
  return addGaussianNoise(clipped, (noiseMultiplier * clip) / Math.sqrt(n), cryptoNormalSource())
}
