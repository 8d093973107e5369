/**
 * The round driver: one node's side of the decentralized federated round. For each job it
 * joined, round after round: pick the committee, start the round, run the parts this node plays,
 * wait for a committee majority or the deadline, complete, persist. No feature branches: each
 * role is a part ({@link defaultParts}), each check an admission function, results go to the
 * result book.
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import { parseArchitecture } from '../models/index.js'
import { InvalidJobError } from './errors.js'
import type { ParticipantEvents, RejectionEvent } from './events.js'
import { type JobLimits, JobRun, type RoundOutcome } from './job.js'
import { acceptAnyJob, checkJobCaps, DEFAULT_JOB_CAPS, type JobCaps, type JobPolicy, openJob } from './jobs.js'
import { computeJobId, type JobAnnouncement, openRoundMessage, type RoundResult, signRoundMessage } from './messages.js'
import { defaultParts } from './parts/index.js'
import type { RoundContext, RoundPart, RoundServices } from './parts/types.js'
import type { ParticipantInit, PersistedJobState, RoundTransport } from './ports.js'
import {
  catchUp,
  checkMajority,
  deliverUpdate,
  type Receiver,
  receiveHoldings,
  receiveResult,
  receiveSecAgg,
  receiveUpdate,
} from './receive.js'
import { tally } from './result-book.js'
import { completeRound, loadRoundModel, openRound } from './round-start.js'
import { type JobSpecInput, JobSpecSchema, ROUND_PROTOCOL_VERSION } from './spec.js'

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
  private readonly parts: RoundPart[]
  private readonly unsubscribe: Array<() => void> = []
  private readonly stopWaiters = new Set<() => void>()
  private readonly services: RoundServices
  private readonly receiver: Receiver
  private readonly jobPolicy: JobPolicy
  private readonly caps: JobCaps
  private running = false

  constructor(init: ParticipantInit) {
    super()
    this.init = init
    this.parts = init.parts ?? defaultParts()
    this.jobPolicy = init.jobPolicy ?? acceptAnyJob()
    this.caps = { ...DEFAULT_JOB_CAPS, ...init.jobCaps }
    const now = init.now ?? Date.now
    this.services = {
      self: init.transport.self,
      transport: init.transport,
      models: init.models,
      learner: init.learner,
      proofs: init.proofs,
      roles: init.roles,
      now,
      emit: (type, detail) => {
        this.safeDispatchEvent(type, { detail } as never)
      },
      graceMs: (spec) => init.resultGraceMs ?? Math.max(1000, spec.roundDeadlineMs),
      sendUpdate: (targets, header, payload, signal) =>
        deliverUpdate(this.receiver, targets, header.envelope, payload, signal),
      publishResult: (result) => this.publishResult(result),
      requestSecAgg: (job, to, frame) => {
        if (to === this.self) return receiveSecAgg(this.receiver, frame, this.self)
        const t = init.transport
        const request = t.requestSecAgg as NonNullable<RoundTransport['requestSecAgg']>
        const deadline = AbortSignal.timeout(job.spec.roundDeadlineMs + this.services.graceMs(job.spec))
        return request.call(t, to, frame, { signal: AbortSignal.any([job.signal, deadline]) })
      },
    }
    const limits: JobLimits = {
      maxEarlyUpdates: init.maxEarlyUpdates ?? 256,
      maxEarlyBytes: init.maxEarlyBytes ?? 64 * 1024 * 1024,
      maxEarlyPerSender: 2,
    }
    this.receiver = {
      services: this.services,
      policy: init.policy,
      limits,
      job: (jobId) => this.jobs.get(jobId),
      reject: (event) => this.reject(event),
    }
  }

  get self(): string {
    return this.init.transport.self
  }

  /** Subscribe to jobs, updates, results and holdings; resume persisted unfinished jobs. */
  async start(): Promise<void> {
    if (this.running) return
    this.running = true
    const t = this.init.transport
    const rx = this.receiver
    this.unsubscribe.push(
      t.subscribe('jobs', (raw, from) => void this.onJob(raw, from)),
      t.subscribe('results', (raw, from) => void receiveResult(rx, raw, from)),
      t.subscribe('holdings', (raw, from) => void receiveHoldings(rx, raw, from)),
      t.onUpdate((header, readPayload, from) => receiveUpdate(rx, header, readPayload, from)),
    )
    if (t.onSecAggRequest !== undefined)
      this.unsubscribe.push(t.onSecAggRequest((frame, from) => receiveSecAgg(rx, frame, from)))
    if (t.onLatestRequest !== undefined) {
      this.unsubscribe.push(t.onLatestRequest((jobId) => this.jobs.get(jobId)?.state.lastResults))
    }
    for (const jobId of await this.init.state.list()) {
      // each job on its own: a state that does not load or open (damaged, undecodable) is
      // reported by its id and the node starts with the others (the @vain/memory store also
      // sets such a state aside, so it is reported once)
      try {
        const saved = await this.init.state.load(jobId)
        if (saved === undefined || saved.finished || saved.paused === true) continue
        let announcement: JobAnnouncement
        try {
          announcement = openRoundMessage('job', saved.announcement)
        } catch (err) {
          await this.init.state.setAside?.(jobId, (err as Error).message)
          throw err
        }
        await this.join(announcement, saved)
      } catch (err) {
        this.reject({
          kind: 'job',
          from: this.self,
          reason: (err as Error).message,
          errorName: (err as Error).name,
          jobId,
        })
      }
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
    await Promise.allSettled([...runs.map((r) => r.done), ...this.parts.map((p) => p.stop?.())])
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
    const createdAt = (this.init.now ?? Date.now)()
    const announcement = await signRoundMessage(
      'job',
      {
        v: ROUND_PROTOCOL_VERSION,
        jobId: computeJobId(spec, this.self, createdAt),
        spec,
        creator: this.self,
        createdAt,
      },
      (d) => this.init.transport.sign(d),
    )
    await this.join(announcement)
    await this.init.transport.publish('jobs', announcement.envelope)
    return announcement
  }

  /**
   * Stop taking part in a job: its loop stops, its state is kept as cancelled (it is not resumed
   * after a restart, and its announcement is not joined again). False for a job this node does not know.
   */
  async cancelJob(jobId: string): Promise<boolean> {
    const run = this.jobs.get(jobId)
    if (run !== undefined) {
      run.abort.abort()
      await run.done
      await this.end(run, 'cancelled', 'cancelled on this node')
      return true
    }
    const saved = await this.init.state.load(jobId)
    if (saved === undefined) return false
    if (!saved.finished) await this.init.state.save({ ...saved, finished: true, ended: 'cancelled' })
    return true
  }

  /**
   * Pause a job here: its loop stops after the current step and its state is kept as paused (not
   * resumed after a restart, its announcement not joined again) until {@link resumeJob}. True if
   * the job is paused now (also when it already was); false for a job this node does not run.
   */
  async pauseJob(jobId: string): Promise<boolean> {
    const run = this.jobs.get(jobId)
    if (run === undefined) return (await this.init.state.load(jobId))?.paused === true
    run.abort.abort()
    await run.done
    this.jobs.delete(jobId)
    run.state = { ...run.state, paused: true }
    await this.init.state.save(run.state)
    return true
  }

  /**
   * Resume a paused job from its saved state (it catches up with the rounds the others completed
   * meanwhile). True if the job runs here now; false for a job this node does not know or that ended.
   */
  async resumeJob(jobId: string): Promise<boolean> {
    if (this.jobs.has(jobId)) return true
    const saved = await this.init.state.load(jobId)
    if (saved === undefined || saved.finished || !this.running) return false
    const { paused: _paused, ...state } = saved
    await this.join(openRoundMessage('job', state.announcement), state)
    return this.jobs.has(jobId)
  }

  /** A job's state: running here, paused or ended (from the state store); undefined if unknown. */
  async jobState(jobId: string): Promise<PersistedJobState | undefined> {
    return this.status(jobId) ?? (await this.init.state.load(jobId))
  }

  /** End a job here (cancelled or abandoned): persisted as finished, never resumed. */
  private async end(run: JobRun, ended: 'cancelled' | 'abandoned', reason: string): Promise<void> {
    run.state = { ...run.state, finished: true, ended }
    this.jobs.delete(run.jobId)
    await this.init.state.save(run.state)
    this.services.emit('job:ended', { jobId: run.jobId, ended, reason })
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
    const ended = this.jobs.has(jobId) ? undefined : await this.init.state.load(jobId)
    if (ended?.finished === true) return ended
    if (!this.jobs.has(jobId) && this.running) {
      // the announcement may still be on its way
      await new Promise<void>((resolve) => {
        const onJoined = (e: CustomEvent<{ jobId: string }>): void => {
          if (e.detail.jobId === jobId) done()
        }
        const done = (): void => {
          this.removeEventListener('job:joined', onJoined)
          this.stopWaiters.delete(done)
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

  private async onJob(raw: unknown, from: string): Promise<void> {
    if (!this.running) return
    let jobId: string | undefined
    try {
      const a = await openJob(raw, this.init.transport)
      jobId = a.jobId
      if (this.jobs.has(a.jobId)) return
      // a damaged state (set aside by the store) or a store error is reported; the job is not joined now
      const saved = await this.init.state.load(a.jobId)
      if (saved?.finished === true || saved?.paused === true) return
      if (a.creator !== this.self) {
        await this.jobPolicy.admit(a)
        const creators = [...this.jobs.values()].map((j) => j.announcement.creator)
        checkJobCaps(creators, a.creator, this.caps)
      }
      // a job this node cannot run (unknown codec, needs a transport feature…) throws: say why, go on
      await this.join(a, saved)
    } catch (err) {
      const e = err as Error
      this.reject({
        kind: 'job',
        from,
        reason: e.message,
        errorName: e.name,
        ...(jobId !== undefined ? { jobId } : {}),
      })
    }
  }

  private async join(announcement: JobAnnouncement, saved?: PersistedJobState): Promise<void> {
    if (this.jobs.has(announcement.jobId) || !this.running) return
    const { spec } = announcement
    const { roles, learner } = this.init
    if (spec.secureAggregation && this.init.transport.requestSecAgg === undefined) {
      throw new InvalidJobError('this job asks for secure aggregation, which this node’s transport does not carry')
    }
    if (roles.trainer && learner !== undefined && !learner.supports(spec) && !roles.aggregator) return
    if (spec.proofs !== undefined && this.init.proofs === undefined) {
      throw new InvalidJobError(
        'this job requires proven updates; this node has no proof system to prove or check them',
      )
    }
    const state: PersistedJobState = saved ?? {
      announcement: announcement.envelope,
      jobId: announcement.jobId,
      round: 0,
      attempt: 0,
      model: spec.initialModel,
      history: [],
      finished: false,
    }
    const run = new JobRun(announcement, this.init.runtime(spec, this.self), state)
    this.jobs.set(announcement.jobId, run)
    await this.init.state.save(state)
    this.safeDispatchEvent('job:joined', { detail: { jobId: announcement.jobId, spec, creator: announcement.creator } })
    if (saved !== undefined) void this.sync(run)
    run.done = this.runJob(run).catch((err: unknown) => {
      const reason = String((err as Error)?.message ?? err)
      this.services.emit('round:failed', {
        jobId: run.jobId,
        round: run.state.round,
        attempt: run.state.attempt,
        reason,
      })
    })
  }

  /** Ask peers for the job's latest results and feed them through the normal checks. */
  private async sync(run: JobRun): Promise<void> {
    const request = this.init.transport.requestLatest
    if (request === undefined || run.signal.aborted) return
    try {
      const results = await request.call(this.init.transport, run.jobId, { signal: run.signal })
      for (const r of results) await receiveResult(this.receiver, r, 'sync')
    } catch {
      // nobody answered: gossip of the next round will catch us up instead
    }
  }

  /** The job's loop: one iteration per round attempt. */
  private async runJob(run: JobRun): Promise<void> {
    const { spec, signal } = run
    while (!signal.aborted && run.state.round < spec.rounds) {
      const round = await openRound(run, this.init.policy, this.services)
      if (round === undefined) break
      const outcome = new Promise<RoundOutcome | undefined>((resolve) => {
        run.settle = resolve
        signal.addEventListener('abort', () => resolve(undefined), { once: true })
      })
      // results that arrived before this node got here; a later round's majority lets it jump
      for (const r of run.book.take(round.round, round.attempt)) tally(round.results, round, r)
      checkMajority(run)
      if (run.book.aheadCount > 0) void catchUp(this.receiver, run)
      const playing = this.parts.filter((p) => p.plays({ services: this.services, job: run, round }))
      for (const part of playing) part.prepare?.({ services: this.services, job: run, round })
      for (const e of run.takeEarly()) {
        receiveUpdate(this.receiver, e.header, async () => e.payload, e.from).catch(() => {})
      }
      const model = await loadRoundModel(run, round, this.services)
      if (signal.aborted) break
      const tasks =
        model === undefined
          ? []
          : playing.map((p) =>
              // a part that fails (a learner that throws, a host too busy to train) costs this node its
              // part of the round, never the process: reported at once, not left an unhandled rejection
              p
                .run({ services: this.services, job: run, round, model } satisfies RoundContext)
                .catch((err: unknown) => {
                  if (signal.aborted) return
                  this.services.emit('round:failed', {
                    jobId: run.jobId,
                    round: round.round,
                    attempt: round.attempt,
                    reason: `${p.name}: ${String((err as Error)?.message ?? err)}`,
                  })
                }),
            )
      const timer = new Promise<undefined>((resolve) => {
        const t = setTimeout(() => resolve(undefined), spec.roundDeadlineMs + this.services.graceMs(spec))
        signal.addEventListener('abort', () => clearTimeout(t), { once: true })
        void outcome.then(() => clearTimeout(t))
      })
      const winner = await Promise.race([outcome, timer])
      run.settle = undefined
      for (const close of round.cleanup) close()
      await Promise.allSettled(tasks)
      if (signal.aborted) break
      if (winner === undefined) {
        // no majority in time: the committee is replaced (a new seed) and the round runs again
        this.services.emit('round:failed', {
          jobId: run.jobId,
          round: round.round,
          attempt: round.attempt,
          reason: 'no committee majority before the deadline',
        })
        run.state = { ...run.state, attempt: round.attempt + 1 }
        if (run.state.attempt >= this.caps.maxFailedAttempts) {
          await this.end(run, 'abandoned', `${run.state.attempt} attempts of round ${round.round + 1} failed`)
          break
        }
        await this.init.state.save(run.state)
        await this.sync(run) // maybe the others moved on while we were away
        continue
      }
      await completeRound(run, winner, this.services, this.init.state)
    }
    if (!signal.aborted && run.state.round >= spec.rounds) {
      run.state = { ...run.state, finished: true, ended: 'completed' }
      await this.init.state.save(run.state)
      this.services.emit('job:finished', { jobId: run.jobId, model: run.state.model, rounds: run.state.round })
    }
  }

  /** Send a signed update to every target (this node's own copy through admission); returns who failed. */
  /** Publish a signed result (protected so tests can model a lying member). */
  protected async publishResult(result: RoundResult): Promise<void> {
    this.safeDispatchEvent('result:published', { detail: result })
    await receiveResult(this.receiver, result.envelope, this.self)
    await this.init.transport.publish('results', result.envelope)
  }
}

/** Create a participant. */
export function createParticipant(init: ParticipantInit): Participant {
  return new Participant(init)
}
