/**
 * Shared pieces of a secure-aggregation round: its reference, deferred stages, request authentication.
 * @module
 */
import { ForgedMessageError } from '../errors.js'
import type { Contribution } from '../messages.js'
import { fromHex, type SecAggRequest, secAggSigningBytes } from './frames.js'

/** Most trainers one secure-aggregation round takes (the roster's limit). */
export const MAX_TRAINERS = 1000

/** What a round is: job, round, attempt and base model. */
export interface SecureRoundRef {
  jobId: string
  round: number
  attempt: number
  baseModel: string
}

export type Sign = (data: Uint8Array) => Promise<Uint8Array>
export type Verify = (signer: string, data: Uint8Array, signature: Uint8Array) => Promise<boolean>

/** Options of {@link SecureRoundMember}. */
export interface SecureRoundMemberInit {
  ref: SecureRoundRef
  self: string
  committee: readonly string[]
  vectorLength: number
  /** Trainers expected this round, when known: stages close as soon as all of them are in. */
  expected: readonly string[] | undefined
  /** The round deadline (ms from now): the last moment for masked uploads. */
  deadlineMs: number
  /** How long after the deadline a member waits for unmasking shares (ms). */
  unmaskWaitMs: number
  sign: Sign
  verify: Verify
  signal: AbortSignal
}

/** What a member recovered: the survivors' weighted mean update. */
export interface SecureAggregate {
  mean: Float32Array
  numSamples: number
  contributions: Contribution[]
}

export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(err: Error): void
  settled: boolean
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => {}) // a stage may fail before anyone waits on it
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve: (v) => {
      if (d.settled) return
      d.settled = true
      resolve(v)
    },
    reject: (e) => {
      if (d.settled) return
      d.settled = true
      reject(e)
    },
  }
  return d
}

export type KeysRequest = Extract<SecAggRequest, { kind: 'keys' }>
export type SharesRequest = Extract<SecAggRequest, { kind: 'shares' }>
export type MaskedRequest = Extract<SecAggRequest, { kind: 'masked' }>
export type UnmaskRequest = Extract<SecAggRequest, { kind: 'unmask' }>

/**
 * Check that a request is signed by the trainer it names and that this trainer sent it.
 *
 * @throws {ForgedMessageError} otherwise
 */
export async function authenticateSecAgg(req: SecAggRequest, from: string, verify: Verify): Promise<void> {
  if (req.trainer !== from) throw new ForgedMessageError(`message signed for ${req.trainer} but sent by ${from}`)
  if (!(await verify(req.trainer, secAggSigningBytes(req), fromHex(req.signature)))) {
    throw new ForgedMessageError(`bad signature on a secure-aggregation ${req.kind} message`)
  }
}

/** The crypto context of a round (domain separation for keys and masks). */
export const secAggContext = (ref: SecureRoundRef): string =>
  `${ref.jobId}:${ref.round}:${ref.attempt}:${ref.baseModel}`
