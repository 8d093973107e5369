/**
 * One job as a node runs it: its announcement and runtime, persisted state, result book, the
 * round running now and the messages held for rounds this node has not reached.
 * @module
 */
import { countParameters, parseArchitecture } from '../models/index.js'
import { waitFor } from './inbox.js'
import type { Holdings, JobAnnouncement, RoundResult } from './messages.js'
import type { JobContext, RoundState } from './parts/types.js'
import type { AggregationRuntime, PersistedJobState } from './ports.js'
import { ResultBook } from './result-book.js'
import type { JobSpec } from './spec.js'

/** How a round ended: the result a majority of its committee signed (possibly a later round's, when catching up). */
export interface RoundOutcome {
  result: RoundResult
  round: number
  attempt: number
  baseModel: string
  committee: readonly string[]
  results: RoundResult[]
}

/** An update that arrived for a round this node has not reached yet. */
export interface EarlyUpdate {
  header: unknown
  payload: Uint8Array
  from: string
}

/** Bounds of what a job holds for rounds ahead. */
export interface JobLimits {
  maxEarlyUpdates: number
  maxEarlyBytes: number
  /** Updates held for later from one sender (identities are free: the totals bound them all). */
  maxEarlyPerSender: number
}

export class JobRun implements JobContext {
  readonly announcement: JobAnnouncement
  readonly jobId: string
  readonly spec: JobSpec
  readonly runtime: AggregationRuntime
  readonly numParams: number
  readonly abort = new AbortController()
  readonly book = new ResultBook()
  state: PersistedJobState
  round: RoundState | undefined
  /** Resolves the running round's outcome (a majority, or undefined on abort). */
  settle: ((outcome: RoundOutcome) => void) | undefined
  readonly early: EarlyUpdate[] = []
  earlyBytes = 0
  /** Early updates being read now (reserved by {@link reserveEarly}): per sender, count, bytes. */
  private readonly earlyReading = new Map<string, number>()
  private earlyReadingCount = 0
  private earlyReadingBytes = 0
  readonly pendingHoldings: Holdings[] = []
  done: Promise<void> = Promise.resolve()
  private readonly roundWaiters = new Set<() => void>()

  constructor(announcement: JobAnnouncement, runtime: AggregationRuntime, state: PersistedJobState) {
    this.announcement = announcement
    this.jobId = announcement.jobId
    this.spec = announcement.spec
    this.runtime = runtime
    this.numParams = countParameters(parseArchitecture(announcement.spec.architecture))
    this.state = state
  }

  get signal(): AbortSignal {
    return this.abort.signal
  }

  current(): RoundState | undefined {
    return this.round
  }

  baseRoundOf(model: string): number | undefined {
    if (model === this.spec.initialModel) return 0
    for (let i = this.state.history.length - 1; i >= 0; i--) {
      const h = this.state.history[i]
      if (h?.model === model) return h.round + 1
    }
    return undefined
  }

  /** Start `round`: wakes whoever waits for it. */
  enter(round: RoundState): void {
    this.round = round
    for (const wake of [...this.roundWaiters]) wake()
  }

  /** Wait until the running round reaches `round`/`attempt` (or `ms`, or the job stops). */
  untilRound(round: number, attempt: number, ms: number): Promise<void> {
    const reached = (): boolean =>
      this.round !== undefined &&
      (this.round.round > round || (this.round.round === round && this.round.attempt >= attempt))
    return waitFor(this.roundWaiters, reached, ms, this.signal)
  }

  /**
   * Reserve room for an update for a later round **before its payload is read**: updates held
   * and updates being read count together against the job's bounds (in count, bytes and per
   * sender), so fresh identities streaming many early updates at once cannot make the node read
   * more than `maxEarlyBytes` for the job. Returns the release (call it once the update is held
   * or refused), or undefined when there is no room.
   */
  reserveEarly(from: string, bytes: number, limits: JobLimits): (() => void) | undefined {
    const fromSender = this.early.filter((e) => e.from === from).length + (this.earlyReading.get(from) ?? 0)
    if (
      this.early.length + this.earlyReadingCount >= limits.maxEarlyUpdates ||
      this.earlyBytes + this.earlyReadingBytes + bytes > limits.maxEarlyBytes ||
      fromSender >= limits.maxEarlyPerSender
    ) {
      return undefined
    }
    this.earlyReading.set(from, (this.earlyReading.get(from) ?? 0) + 1)
    this.earlyReadingCount++
    this.earlyReadingBytes += bytes
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.earlyReading.get(from) ?? 1) - 1
      if (n > 0) this.earlyReading.set(from, n)
      else this.earlyReading.delete(from)
      this.earlyReadingCount--
      this.earlyReadingBytes -= bytes
    }
  }

  /** Hold an update for a later round, within the job's bounds; false when it was dropped. */
  holdEarly(update: EarlyUpdate, limits: JobLimits): boolean {
    if (
      this.early.length >= limits.maxEarlyUpdates ||
      this.earlyBytes + update.payload.byteLength > limits.maxEarlyBytes ||
      this.early.filter((e) => e.from === update.from).length >= limits.maxEarlyPerSender
    ) {
      return false
    }
    this.early.push(update)
    this.earlyBytes += update.payload.byteLength
    return true
  }

  /** Take the updates held for later rounds. */
  takeEarly(): EarlyUpdate[] {
    this.earlyBytes = 0
    return this.early.splice(0)
  }
}
