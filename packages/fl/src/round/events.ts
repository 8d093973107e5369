/**
 * Events of a round participant ({@link Participant}): what a node's logs, metrics, chain
 * settlement and tests follow. Refusals are data (Flower's "a failed client is data"): typed
 * {@link RejectionEvent}s with the error's name and reason.
 * @module
 */
import type { Contribution, RoundResult } from './messages.js'
import type { JobSpec } from './spec.js'

/** A refused message, for logs, metrics and slashing evidence. */
export interface RejectionEvent {
  kind: 'job' | 'update' | 'result' | 'holdings'
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
  /** A trainer proved its update (proven jobs): how many proofs, their bytes, how long it took. */
  'update:proven': CustomEvent<{ jobId: string; round: number; proofs: number; bytes: number; ms: number }>
  'update:accepted': CustomEvent<{ jobId: string; round: number; trainer: string; bytes: number }>
  /** A committee member settled on the contributor set a majority of members hold. */
  'contributors:agreed': CustomEvent<{
    jobId: string
    round: number
    scope: number
    held: number
    agreed: number
    /** Updates this member fetched from (was sent by) other members. */
    fetched: number
  }>
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
  /** A job ended on this node before its last round: cancelled, or abandoned after too many failed attempts. */
  'job:ended': CustomEvent<{ jobId: string; ended: 'cancelled' | 'abandoned'; reason: string }>
  rejected: CustomEvent<RejectionEvent>
}

/** Emit an event of a participant (what parts are given). */
export type Emit = <K extends keyof ParticipantEvents>(type: K, detail: ParticipantEvents[K]['detail']) => void
