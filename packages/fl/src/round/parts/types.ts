/**
 * What a part of the round sees: the job, the round that runs, this node's services, and the
 * round's base model. A part is one role a node plays in a round (trainer, committee member,
 * regional or root member, secure-aggregation member…): a new role is a new part, never a branch
 * in the driver.
 * @module
 */
import type { Model } from '../../models/index.js'
import type { HoldingsBoard } from '../agreement.js'
import type { Emit } from '../events.js'
import type { Inbox } from '../inbox.js'
import type { JobAnnouncement, RoundResult, UpdateMeta } from '../messages.js'
import type { AggregationRuntime, Learner, ModelStore, RoundTransport } from '../ports.js'
import type { UpdateProofSystem } from '../proofs.js'
import type { SecAggRequest } from '../secure/frames.js'
import type { JobSpec } from '../spec.js'

/** Roles a participant plays. */
export interface ParticipantRoles {
  trainer: boolean
  aggregator: boolean
}

/** A round as this node runs it. */
export interface RoundState {
  readonly round: number
  readonly attempt: number
  readonly baseModel: string
  readonly committee: readonly string[]
  /** Hierarchical jobs: each region's committee (index = region); `committee` is the root's. */
  readonly regions: ReadonlyArray<readonly string[]> | undefined
  /** Trainers expected this round, when known: members close as soon as all of them are in. */
  readonly expected: readonly string[] | undefined
  /** When this node started the round (`now()`); deadlines count from here. */
  readonly startedAt: number
  readonly inbox: Inbox
  readonly holdings: HoldingsBoard
  /** Signed results of this round's committee members, by member. */
  readonly results: Map<string, RoundResult>
  /** Served secure-aggregation frames of this round (set by the secure member part). */
  secAgg?: ((request: SecAggRequest, body: Uint8Array, from: string) => Promise<Uint8Array>) | undefined
  /** Called when the round ends here. */
  readonly cleanup: Array<() => void>
}

/** One job this node takes part in. */
export interface JobContext {
  readonly announcement: JobAnnouncement
  readonly jobId: string
  readonly spec: JobSpec
  readonly runtime: AggregationRuntime
  /** Parameters of the job's model. */
  readonly numParams: number
  /** Aborted when the job stops here. */
  readonly signal: AbortSignal
  /** The round running now (asynchronous trainers send late updates to it). */
  current(): RoundState | undefined
  /** The round whose base `model` is (0 for the initial model), from this node's history. */
  baseRoundOf(model: string): number | undefined
}

/** This node's services, as parts use them. */
export interface RoundServices {
  readonly self: string
  readonly transport: RoundTransport
  readonly models: ModelStore
  readonly learner: Learner | undefined
  /** Proves and checks proven updates (`spec.proofs`), when this node has a proof system. */
  readonly proofs: UpdateProofSystem | undefined
  readonly roles: ParticipantRoles
  readonly emit: Emit
  readonly now: () => number
  /** Extra wait after a round's deadline before its committee is replaced (ms). */
  graceMs(spec: JobSpec): number
  /** Deliver a signed update to each target (this node's own copy through admission); returns who failed. */
  sendUpdate(
    targets: readonly string[],
    header: UpdateMeta,
    payload: Uint8Array,
    signal: AbortSignal,
  ): Promise<string[]>
  /** Publish this member's signed result (and count it here). */
  publishResult(result: RoundResult): Promise<void>
  /** Send a secure-aggregation frame to a member (served here when it is this node). */
  requestSecAgg(job: JobContext, to: string, frame: Uint8Array): Promise<Uint8Array>
}

/** What a part decides from, before the round's model is loaded. */
export interface PartContext {
  readonly services: RoundServices
  readonly job: JobContext
  readonly round: RoundState
}

/** What a part runs with. */
export interface RoundContext extends PartContext {
  /** The round's base model. */
  readonly model: Model
}

/** One role of a node in a round. */
export interface RoundPart {
  readonly name: string
  /** Whether this node plays the part in this round. */
  plays(ctx: PartContext): boolean
  /** Set up before the model is loaded (e.g. serve a protocol's first messages). */
  prepare?(ctx: PartContext): void
  /** This node's work in the round; resolves when it is done (a part never throws for a refused peer). */
  run(ctx: RoundContext): Promise<void>
  /** Stop background work (the driver is stopping). */
  stop?(): Promise<void>
}

/** Milliseconds left until `ms` after the round started. */
export function remaining(ctx: PartContext, ms: number): number {
  return Math.max(0, ctx.round.startedAt + ms - ctx.services.now())
}

/** Report that this node could not do its part of the round. */
export function failRound(ctx: PartContext, reason: string): void {
  ctx.services.emit('round:failed', {
    jobId: ctx.job.jobId,
    round: ctx.round.round,
    attempt: ctx.round.attempt,
    reason,
  })
}
