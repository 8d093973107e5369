/**
 * The small interfaces (ports) the round protocol runs against. The node app passes network
 * implementations (libp2p gossip + streams, the content-addressed store, chain-based eligibility);
 * {@link createLocalNetwork} provides in-process ones for simulations and tests.
 * @module
 */
import type { Model } from '../models/index.js'
import type { EligibleNode } from './committee.js'
import type { SignedMessage } from './envelope.js'
import type { JobCaps, JobPolicy } from './jobs.js'
import type { JobAnnouncement } from './messages.js'
import type { ParticipantRoles, RoundPart } from './parts/types.js'
import type { UpdateProofSystem } from './proofs.js'
import type { JobSpec } from './spec.js'

/** Options with an abort signal. */
export interface SignalOptions {
  signal?: AbortSignal
}

/** Gossip channels of the round: job announcements, round results, members' holdings. */
export type RoundChannel = 'jobs' | 'results' | 'holdings'

/**
 * Reads an update's payload once its header was admitted: at most `maxBytes` (the header's
 * declared size); a longer payload is refused without being buffered.
 */
export type ReadPayload = (maxBytes: number) => Promise<Uint8Array>

/** Messaging: signed gossip for jobs, results and holdings; direct streams for updates. */
export interface RoundTransport {
  /** This node's id (a libp2p peer id string in the app). */
  readonly self: string
  sign(data: Uint8Array): Promise<Uint8Array>
  /** Verify a signature by `signer` (its public key is derived from its id). */
  verify(signer: string, data: Uint8Array, signature: Uint8Array): Promise<boolean>
  /** Gossip a signed message to every node on `channel`. */
  publish(channel: RoundChannel, message: SignedMessage): Promise<void>
  /** Handlers get raw, unvalidated values: the round validates everything. */
  subscribe(channel: RoundChannel, handler: (message: unknown, from: string) => void): () => void
  /**
   * Stream an update to one committee member: the signed header first, then the payload;
   * resolves when the member accepted it, rejects with the member's error.
   */
  sendUpdate(to: string, header: SignedMessage, payload: Uint8Array, options?: SignalOptions): Promise<void>
  /**
   * Serve updates. The handler gets the raw header **before any payload byte is read**; it calls
   * `readPayload` only after admitting the header. If it throws first, the transport refuses the
   * stream without reading the payload. `from` must be the authenticated sender.
   */
  onUpdate(handler: (header: unknown, readPayload: ReadPayload, from: string) => Promise<void>): () => void
  /**
   * Ask peers for the signed results of a job's latest completed round (raw, unvalidated): how a
   * node that restarted or fell behind catches up when no more gossip for the job will come.
   */
  requestLatest?(jobId: string, options?: SignalOptions): Promise<unknown[]>
  /** Serve such requests from this node's own record (the results' signed envelopes). */
  onLatestRequest?(handler: (jobId: string) => SignedMessage[] | undefined): () => void
  /**
   * Secure aggregation (jobs with `secureAggregation: true` need it): send one signed frame to a
   * committee member and get its answer, which the member may hold until a stage closes (up to
   * the round deadline). Errors the member throws arrive as errors here.
   */
  requestSecAgg?(to: string, frame: Uint8Array, options?: SignalOptions): Promise<Uint8Array>
  /** Serve such frames; `from` must be the authenticated sender. */
  onSecAggRequest?(handler: (frame: Uint8Array, from: string) => Promise<Uint8Array>): () => void
}

/**
 * Content-addressed model storage. `put` returns the model's content address (the node uses
 * `@vain/memory` CIDs); `get` returns bytes whose address was verified.
 */
export interface ModelStore {
  put(bytes: Uint8Array): Promise<string>
  /**
   * Local or from any peer that has it; must verify the content against `address`. With
   * `expectedBytes` (the job's architecture fixes a model's encoded size) anything of another
   * size is refused before it is fetched, with an error named `ModelSizeMismatchError` (the
   * round does not ask again: an address names the same bytes for ever).
   */
  get(address: string, options?: SignalOptions & { providers?: string[]; expectedBytes?: number }): Promise<Uint8Array>
}

/** What a participant persists per job to resume after a restart. */
export interface PersistedJobState {
  /** The job's announcement as signed by its creator. */
  announcement: SignedMessage
  jobId: string
  round: number
  attempt: number
  model: string
  history: Array<{ round: number; model: string; contributions: number; completedAt: number }>
  finished: boolean
  /** How the job ended here, once finished: all rounds done, cancelled on this node, or abandoned. */
  ended?: 'completed' | 'cancelled' | 'abandoned'
  /** Paused on this node (`Participant.pauseJob`): not run, not resumed at start, until `resumeJob`. */
  paused?: boolean
  /** The agreeing committee results of the latest completed round (served to nodes catching up). */
  lastResults?: SignedMessage[]
}

/** Persistence of job state (the node uses `@vain/memory`'s crash-safe `memory.state()`). */
export interface JobStateStore {
  load(jobId: string): Promise<PersistedJobState | undefined>
  save(state: PersistedJobState): Promise<void>
  list(): Promise<string[]>
  /**
   * Set a job's state aside (kept, never listed or loaded again) when the round finds it
   * unusable though it loaded, e.g. an announcement that no longer decodes.
   */
  setAside?(jobId: string, reason: string): Promise<void>
}

/** Who may serve on a committee and who is expected to train (the chain plugs in stake/tier). */
export interface EligibilityPolicy {
  committeeCandidates(job: JobAnnouncement, round: number): Promise<EligibleNode[]> | EligibleNode[]
  /** Trainers expected this round, if known: members aggregate as soon as all of them arrived. */
  expectedTrainers?(job: JobAnnouncement, round: number): Promise<string[] | undefined> | string[] | undefined
}

/** Local training on this node's own data. */
export interface Learner {
  /** True if this node can take part in the job (it has the dataset, supports the model). */
  supports(spec: JobSpec): boolean
  /**
   * Samples this node trains on for the job, known before training (secure aggregation
   * advertises it at the start of a round; without it, a trainer advertises after training).
   */
  numSamples?(spec: JobSpec): number
  train(
    spec: JobSpec,
    model: Model,
    round: number,
    options?: SignalOptions,
  ): Promise<{ params: Float32Array; numSamples: number }>
}

/** One verified client update, as the aggregation runtime receives it. */
export interface VerifiedUpdate {
  trainer: string
  numSamples: number
  delta: Float32Array
}

/** Encoding and aggregation for a job, resolved from its spec (codec, aggregator, strategy). */
export interface AggregationRuntime {
  encodeUpdate(delta: Float32Array): Uint8Array
  decodeUpdate(bytes: Uint8Array, length: number): Float32Array
  /** New global parameters; must be deterministic for the same inputs in the same order. */
  aggregate(global: Float32Array, updates: readonly VerifiedUpdate[]): Float32Array
  /**
   * The combined update only (the job's aggregator, no server step): what a regional committee
   * of a hierarchical job sends to the root. Without it, `aggregate(global, updates) − global`.
   */
  combine?(global: Float32Array, updates: readonly VerifiedUpdate[]): Float32Array
}

/** Builds the aggregation runtime of a job; one per (job, node). */
export type AggregationRuntimeFactory = (spec: JobSpec, self: string) => AggregationRuntime

/** Components and options of `createParticipant`. */
export interface ParticipantInit {
  transport: RoundTransport
  models: ModelStore
  state: JobStateStore
  policy: EligibilityPolicy
  learner?: Learner
  runtime: AggregationRuntimeFactory
  roles: ParticipantRoles
  /** The roles this node can play in a round (default `defaultParts()`). */
  parts?: RoundPart[]
  /**
   * Proves and checks proven updates (`spec.proofs`), e.g. `zkUpdateProofSystem()` of
   * `@vain/chain/zk`. Without one, this node does not take part in jobs that require proofs.
   */
  proofs?: UpdateProofSystem
  /**
   * Which announced jobs this node takes on (default `acceptAnyJob`: an explicit opt-in; an
   * open network wants `allowJobCreators` or a chain-backed policy). Jobs it submits itself
   * are always taken on.
   */
  jobPolicy?: JobPolicy
  /** Caps on running jobs and failed attempts (defaults `DEFAULT_JOB_CAPS`). */
  jobCaps?: Partial<JobCaps>
  /** Extra wait for results after a round's deadline before the committee is replaced (ms). */
  resultGraceMs?: number
  /** Updates held for rounds this node has not reached, per job (count). Default 256. */
  maxEarlyUpdates?: number
  /** ... and in payload bytes. Default 64 MiB. */
  maxEarlyBytes?: number
  now?: () => number
}
