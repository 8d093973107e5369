/**
 * The bookkeeping a node's settlement shares between its parts (opening, voting, claiming,
 * slashing): the options read once, the connection and the watcher once known, the per-round maps
 * (bounded, for a long-running node), the counters of what was settled and claimed, and the
 * helpers every part uses — emit an event, track a task in the background, wait for the chain,
 * which protocol round a chain round is, the reward tree of a round.
 * @module
 */
import type { Contribution } from '@vain/fl/round'
import { type Address, type Hex, parseEther } from 'viem'
import { ContractRevertError } from '../errors.js'
import { buildRewardTree, type RewardTree } from '../merkle.js'
import type { SettlementDomain, SettlementResult } from '../rounds.js'
import type { ChainDirectory } from './directory.js'
import type { SettlementChain, SettlementLogger } from './ports.js'
import { type RewardShare, reputationPerContribution, rewardLeavesOf } from './rules.js'
import type { ProtocolRoundOf, SettlementEvents, SettlementInit } from './types.js'
import type { ChainWatcher } from './watcher.js'

/** The signatures received for one result of a chain round. */
export interface VoteGroup {
  result: SettlementResult
  signatures: Map<Address, Hex>
}

/** The votes received for one chain round, grouped by result. */
export interface RoundVotes {
  jobId: string
  round: number
  attempt: number
  groups: Map<string, VoteGroup>
  /** The key of the group of the result this node signed. */
  mine: string | undefined
  settling: boolean
  slashed: Set<Address>
}

/** The protocol round (and attempt) a chain round key stands for. */
export type RoundRef = { jobId: string; round: number; attempt: number }

/** What the parts of a node's settlement share (see the module docs). */
export interface SettlementContext {
  readonly init: SettlementInit
  readonly log: SettlementLogger
  /** Aborted by `stop()`. */
  readonly abort: AbortController
  readonly settleEnabled: boolean
  readonly slashEnabled: boolean
  /** Reward pool of each round this node opens. */
  readonly pool: bigint
  /** Reputation each accepted contribution earns, when configured (else the round's on-chain cap). */
  readonly gain: bigint | undefined
  chain: SettlementChain | undefined
  /** Runs a transaction after this account's earlier ones. */
  serial: <T>(send: () => Promise<T>) => Promise<T>
  dir: ChainDirectory | undefined
  watcher: ChainWatcher | undefined
  readonly tasks: Set<Promise<unknown>>
  readonly createdJobs: Set<string>
  /** Round deadline (ms) of the jobs this node created, as their specs say. */
  readonly jobDeadlines: Map<string, number>
  /** Chain rounds this node's account funded (opened), by id. */
  readonly fundedByMe: Set<bigint>
  /** Chain rounds found (by reading them) to be funded by another account. */
  readonly fundedByOthers: Set<bigint>
  /** Rounds this node's transaction cancelled (refunded). */
  readonly refundedByMe: Set<bigint>
  /** `jobId:round` → the attempt last started. */
  readonly attempts: Map<string, number>
  readonly keys: Map<Hex, RoundRef>
  /** Chain round id (decimal) → its votes. */
  readonly votes: Map<string, RoundVotes>
  readonly openedByMe: Set<Hex>
  /** Keys of the chain rounds opened (by anyone), the latest 4,096. */
  readonly openedKeys: Set<Hex>
  readonly settledByMe: Set<bigint>
  readonly noRoundReported: Set<string>
  canOpen: Promise<boolean> | undefined
  domain: Promise<SettlementDomain> | undefined
  claimedRounds: number
  claimedAmount: bigint
  refundedAmount: bigint
  /** Resolves with the connection once settlement follows the chain (`undefined` if it never will). */
  ready(): Promise<SettlementChain | undefined>
  /** Resolves {@link ready}. */
  resolveReady(chain: SettlementChain | undefined): void
  emit<K extends keyof SettlementEvents>(type: K, detail: SettlementEvents[K]['detail']): void
  /** Runs `p` in the background: its failure is logged (unless stopped), `stop()` waits for it. */
  track<T>(p: Promise<T>): void
}

const silent: SettlementLogger = { debug() {}, info() {}, warn() {}, error() {} }

/** The first line of an error's message. */
export const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0] as string

/** Whether `err` is a revert of the vAIn contracts with one of these custom errors. */
export const isRevert = (err: unknown, ...names: string[]): boolean =>
  err instanceof ContractRevertError && err.errorName !== undefined && names.includes(err.errorName)

/** `map`, after dropping its oldest entries beyond 4,096 (per-round bookkeeping of a long-running node). */
export function bounded<K, V>(map: Map<K, V>): Map<K, V> {
  while (map.size >= 4_096) map.delete(map.keys().next().value as K)
  return map
}

function serialQueue(): <T>(send: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return (send) => {
    const next = tail.then(send, send)
    tail = next.catch(() => {})
    return next
  }
}

/** The bookkeeping of a settlement made with `init`; `emit` dispatches its events. */
export function createSettlementContext(
  init: SettlementInit,
  emit: <K extends keyof SettlementEvents>(type: K, detail: SettlementEvents[K]['detail']) => void,
): SettlementContext {
  let resolveReady: (c: SettlementChain | undefined) => void = () => {}
  const readyPromise = new Promise<SettlementChain | undefined>((resolve) => {
    resolveReady = resolve
  })
  const log = init.log ?? silent
  const abort = new AbortController()
  const tasks = new Set<Promise<unknown>>()
  return {
    init,
    log,
    abort,
    settleEnabled: init.settle ?? true,
    slashEnabled: init.slashDissenters ?? true,
    pool: init.rewardPerRound ?? parseEther('10'),
    gain: init.reputationPerContribution,
    chain: undefined,
    serial: serialQueue(),
    dir: undefined,
    watcher: undefined,
    tasks,
    createdJobs: new Set(),
    jobDeadlines: new Map(),
    fundedByMe: new Set(),
    fundedByOthers: new Set(),
    refundedByMe: new Set(),
    attempts: new Map(),
    keys: new Map(),
    votes: new Map(),
    openedByMe: new Set(),
    openedKeys: new Set(),
    settledByMe: new Set(),
    noRoundReported: new Set(),
    canOpen: undefined,
    domain: undefined,
    claimedRounds: 0,
    claimedAmount: 0n,
    refundedAmount: 0n,
    ready: () => readyPromise,
    resolveReady: (chain) => resolveReady(chain),
    emit,
    track(p) {
      const t = p.catch((err: unknown) => {
        if (!abort.signal.aborted) log.warn('chain task failed', { error: firstLine(err) })
      })
      tasks.add(t)
      void t.finally(() => tasks.delete(t))
    },
  }
}

/** Which protocol round the chain round `roundId` belongs to, as far as this node knows. */
export function protocolRoundOf(ctx: SettlementContext, roundId: bigint): ProtocolRoundOf {
  const opened = ctx.watcher?.opened(roundId)
  const k = opened === undefined ? undefined : ctx.keys.get(opened.key)
  return { jobId: k?.jobId, round: k?.round }
}

/**
 * The reward tree of a chain round: the accepted contributions of registered trainers, an equal
 * share of `round.rewardPool` each and the round's reputation per contribution
 * ({@link rewardLeavesOf}, {@link reputationPerContribution}). Registered trainers only: an update
 * was accepted only from an expected trainer (registered and staked at the trainer tier when the
 * round started), and a peer id with no address in the NodeRegistry gets no leaf.
 */
export async function rewardTree(
  ctx: SettlementContext,
  roundId: bigint,
  contributions: readonly Contribution[],
  round: { rewardPool: bigint; maxReputationGain: bigint },
): Promise<RewardTree | undefined> {
  const directory = ctx.dir
  if (directory === undefined) return undefined
  const shares = (
    await Promise.all(
      contributions.map(async (c): Promise<RewardShare | undefined> => {
        const account = await directory.addressOf(c.trainer)
        return account === undefined ? undefined : { account, payloadHash: c.proofDigest ?? c.payloadHash }
      }),
    )
  ).filter((s): s is RewardShare => s !== undefined)
  if (shares.length === 0) return undefined
  const gain = reputationPerContribution(round.maxReputationGain, ctx.gain)
  return buildRewardTree(roundId, rewardLeavesOf(shares, round.rewardPool, gain))
}
