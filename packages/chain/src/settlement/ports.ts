/**
 * What settlement needs from the node around it (its ports): a connection to the chain, a gossip
 * channel for votes, a logger, and the events of the round participant it follows.
 * @module
 */
import type { Contribution } from '@vain/fl/round'
import type { TypedEventTarget } from 'main-event'
import type { VainClient } from '../client.js'
import type { SettleVote } from './votes.js'

/**
 * Where settlement writes what it does (pino-compatible in spirit: a message, then fields).
 *
 * @example
 * ```ts
 * const log: SettlementLogger = { debug() {}, info: console.info, warn: console.warn, error: console.error }
 * ```
 */
export interface SettlementLogger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/**
 * The gossip channel of settlement votes (the node maps it to its pub/sub topic `vain/settle/1`).
 * Votes handed to `subscribe`'s handler may come from anyone: settlement validates them.
 *
 * @example
 * ```ts
 * const topic = defineTopic({ name: 'vain/settle/1', schema: SettleVoteSchema, maxBytes: 4096 })
 * const gossip: SettleVoteGossip = {
 *   publish: (vote) => node.publish(topic, vote),
 *   subscribe: (handler) => node.subscribe(topic, handler),
 * }
 * ```
 */
export interface SettleVoteGossip {
  publish(vote: SettleVote): Promise<void>
  /** Calls `handler` with each vote received; returns a function that unsubscribes. */
  subscribe(handler: (vote: SettleVote) => void): () => void
}

/**
 * A connection to the vAIn contracts for settlement: a client with this node's wallet.
 *
 * @example
 * ```ts
 * const chain: SettlementChain = { vain: connectVain({ rpcUrl, addresses, privateKey }), rpcUrl }
 * ```
 */
export interface SettlementChain {
  readonly vain: VainClient
  /** Shown in logs. */
  readonly rpcUrl?: string
  /**
   * Runs `send` after this account's earlier transactions (one nonce sequence). Give the node's
   * own queue when other parts of it send transactions from the same account; settlement keeps
   * one of its own otherwise.
   */
  serial?<T>(send: () => Promise<T>): Promise<T>
}

/**
 * The round participant's events settlement follows (a subset of `@vain/fl`'s `ParticipantEvents`,
 * with the fields it reads).
 *
 * @example
 * ```ts
 * const participant = new TypedEventEmitter<SettlementParticipantEvents>() // a stand-in, in tests
 * participant.safeDispatchEvent('job:joined', { detail: { jobId, creator: peerId } })
 * ```
 */
export interface SettlementParticipantEvents {
  /**
   * This node joined a job; `creator` is the job creator's peer id. `spec.roundDeadlineMs`, when
   * given, sets how long the chain rounds of the job's creator stay open (`chainRoundSeconds`).
   */
  'job:joined': CustomEvent<{ jobId: string; creator: string; spec?: { roundDeadlineMs?: number } }>
  /** A protocol round started with this committee (peer ids). */
  'round:started': CustomEvent<{ jobId: string; round: number; attempt: number; committee: string[] }>
  /** A committee member published the result it aggregated (model address, accepted contributions). */
  'result:published': CustomEvent<{
    jobId: string
    round: number
    attempt: number
    newModel: string
    contributions: Contribution[]
    aggregator: string
  }>
  /** A round completed on a committee majority. */
  'round:completed': CustomEvent<{ jobId: string; round: number; model: string; contributions: Contribution[] }>
  /** A committee member signed another model than the majority. */
  'committee:disagreement': CustomEvent<{ jobId: string; round: number; member: string; claimed: string }>
}

/**
 * What settlement follows: anything that emits {@link SettlementParticipantEvents}, such as
 * `@vain/fl`'s `Participant`.
 *
 * @example
 * ```ts
 * await settlement.start(participant) // a @vain/fl Participant
 * ```
 */
export type SettlementParticipant = Pick<
  TypedEventTarget<SettlementParticipantEvents>,
  'addEventListener' | 'removeEventListener'
>
