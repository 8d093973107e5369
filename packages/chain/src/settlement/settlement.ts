/**
 * The settlement part every node runs: it follows the round participant's events and the chain's,
 * and applies the rules of `rules.ts` (see the package docs of `@vain/chain/settlement`).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Contribution } from '@vain/fl/round'
import { TypedEventEmitter, type TypedEventTarget } from 'main-event'
import { type Address, type Hex, parseEther } from 'viem'
import { DEFAULT_ROLE_TIERS, type NodeRole } from '../eligibility.js'
import { ContractRevertError } from '../errors.js'
import { formatVain, shortAddress } from '../format.js'
import { buildRewardTree, type RewardTree } from '../merkle.js'
import { VAIN_ROLES } from '../roles.js'
import { type SettlementDomain, type SettlementResult, settlementResultFrom } from '../rounds.js'
import { type ChainDirectory, createChainDirectory } from './directory.js'
import { InvalidSettleVoteError } from './errors.js'
import { type ChainEligibilityPolicy, chainEligibilityPolicy } from './policy.js'
import type {
  SettlementChain,
  SettlementLogger,
  SettlementParticipant,
  SettlementParticipantEvents,
  SettleVoteGossip,
} from './ports.js'
import {
  dissentEvidence,
  modelHashOf,
  type RewardShare,
  rewardLeavesOf,
  roundKey,
  type SignedResult,
  settlementResultKey,
  settlePlan,
  settleQuorum,
} from './rules.js'
import { type SettleVote, settleVoteOf, verifySettleVote } from './votes.js'
import {
  type ChainWatcher,
  type ClaimedReward,
  createChainWatcher,
  type OpenedRound,
  type SettledRound,
  type SlashedDissenter,
} from './watcher.js'

/** Which protocol round a chain round belongs to, when this node knows (`undefined` otherwise).
 *
 * @example
 * ```ts
 * settlement.addEventListener('round:settled', (e) => console.log(e.detail.jobId, e.detail.round))
 * ```
 */
export interface ProtocolRoundOf {
  jobId: string | undefined
  round: number | undefined
}

/** Events of a {@link Settlement}.
 *
 * @example
 * ```ts
 * settlement.addEventListener('round:opened', (e) => console.log(e.detail.roundId, e.detail.byMe))
 * ```
 */
export interface SettlementEvents {
  /** The chain's events could not be read (the watcher retries). */
  'chain:down': CustomEvent<{ error: unknown }>
  /** The chain answers again. */
  'chain:up': CustomEvent<Record<string, never>>
  /** A chain round was opened (`byMe`: by this node, as the job's creator). */
  'round:opened': CustomEvent<OpenedRound & ProtocolRoundOf & { byMe: boolean }>
  /** This node signed the result it aggregated, as a member of the round's chain committee. */
  'vote:signed': CustomEvent<{ jobId: string; round: number; roundId: bigint; modelHash: Hex }>
  /** A chain round was settled (`byMe`: this node's transaction). */
  'round:settled': CustomEvent<SettledRound & ProtocolRoundOf & { byMe: boolean }>
  /** A reward was claimed (`byMe`: this node's account). */
  'reward:claimed': CustomEvent<ClaimedReward & ProtocolRoundOf & { byMe: boolean }>
  /** A committee member was slashed for signing another result than the settled one. */
  'dissenter:slashed': CustomEvent<SlashedDissenter>
}

/** Options of {@link createSettlement}.
 *
 * @example
 * ```ts
 * const init: SettlementInit = { chain: { vain }, gossip, self: peerId, rewardPerRound: parseEther('10') }
 * ```
 */
export interface SettlementInit {
  /**
   * The connection to the chain, or a promise of it while the node connects in the background
   * (`undefined`: it never connected). Settlement waits for it; a chain that is down never stops it.
   */
  chain: SettlementChain | Promise<SettlementChain | undefined>
  /** Gossip of settlement votes. */
  gossip: SettleVoteGossip
  /** This node's peer id (as the participant's events name nodes). */
  self: string
  log?: SettlementLogger
  /** Sign results as a committee member, claim rewards as a trainer (default true). */
  settle?: boolean
  /** Slash committee members proven to have signed another result than the settled one (default true). */
  slashDissenters?: boolean
  /** Reward pool of each round this node opens as a job's creator, in token wei (default 10 VAIN). */
  rewardPerRound?: bigint
  /** Reputation each accepted contribution earns when claimed (default 10). */
  reputationPerContribution?: bigint
  /** Seconds a round opened on chain stays open for settlement (default 3,600). */
  roundDeadlineSeconds?: number
  /** Tier each role needs (default {@link DEFAULT_ROLE_TIERS}). */
  roleTiers?: Readonly<Record<NodeRole, number>>
  /** How often to poll the chain's events (default 500 ms). */
  pollMs?: number
  /** First block to read the suite's events from (default 0). */
  fromBlock?: bigint
}

/** What a node settled and claimed so far.
 *
 * @example
 * ```ts
 * const { settled, claimed } = settlement.stats()
 * ```
 */
export interface SettlementStats {
  /** Rounds this node's transaction settled. */
  settled: number
  claimed: { rounds: number; amount: bigint }
}

/** A node's settlement (see {@link createSettlement}).
 *
 * @example
 * ```ts
 * const settlement: Settlement = createSettlement(init)
 * ```
 */
export interface Settlement extends TypedEventTarget<SettlementEvents> {
  /** The eligibility policy to give the participant (works before the chain is reachable). */
  readonly policy: ChainEligibilityPolicy
  /** Peer ids ↔ addresses and standings, once connected. */
  readonly directory: ChainDirectory | undefined
  /** Whether the chain's events could not be read at the last poll. */
  readonly down: boolean
  /** Resolves with the connection once settlement follows the chain (`undefined` if it never will). */
  ready(): Promise<SettlementChain | undefined>
  stats(): SettlementStats
  /** Follows `participant` and the gossip of votes, and the chain once it is connected. */
  start(participant: SettlementParticipant): Promise<void>
  /** Stops following; waits for the tasks in flight to end. */
  stop(): Promise<void>
}

interface VoteGroup {
  result: SettlementResult
  signatures: Map<Address, Hex>
}

interface RoundVotes {
  jobId: string
  round: number
  attempt: number
  groups: Map<string, VoteGroup>
  mine: string | undefined
  settling: boolean
  slashed: Set<Address>
}

type RoundRef = { jobId: string; round: number; attempt: number }

const isRevert = (err: unknown, ...names: string[]): boolean =>
  err instanceof ContractRevertError && err.errorName !== undefined && names.includes(err.errorName)

/** `map`, after dropping its oldest entries beyond 4,096 (per-round bookkeeping of a long-running node). */
function bounded<K, V>(map: Map<K, V>): Map<K, V> {
  while (map.size >= 4_096) map.delete(map.keys().next().value as K)
  return map
}

const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0] as string

const silent: SettlementLogger = { debug() {}, info() {}, warn() {}, error() {} }

function serialQueue(): <T>(send: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return (send) => {
    const next = tail.then(send, send)
    tail = next.catch(() => {})
    return next
  }
}

class NodeSettlement extends TypedEventEmitter<SettlementEvents> implements Settlement {
  readonly policy: ChainEligibilityPolicy
  private readonly init: SettlementInit
  private readonly log: SettlementLogger
  private readonly abort = new AbortController()
  private readonly settleEnabled: boolean
  private readonly slashEnabled: boolean
  private readonly pool: bigint
  private readonly gain: bigint
  private chain: SettlementChain | undefined
  private serial: <T>(send: () => Promise<T>) => Promise<T> = serialQueue()
  private dir: ChainDirectory | undefined
  private watcher: ChainWatcher | undefined
  private readonly readyPromise: Promise<SettlementChain | undefined>
  private resolveReady: (c: SettlementChain | undefined) => void = () => {}
  private chainPolicy: ChainEligibilityPolicy | undefined
  private readonly offs: Array<() => void> = []
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly createdJobs = new Set<string>()
  private readonly attempts = new Map<string, number>()
  private readonly keys = new Map<Hex, RoundRef>()
  private readonly votes = new Map<string, RoundVotes>()
  private readonly openedByMe = new Set<Hex>()
  private readonly settledByMe = new Set<bigint>()
  private readonly noRoundReported = new Set<string>()
  private canOpen: Promise<boolean> | undefined
  private domain: Promise<SettlementDomain> | undefined
  private claimedRounds = 0
  private claimedAmount = 0n
  private started = false

  constructor(init: SettlementInit) {
    super()
    this.init = init
    this.log = init.log ?? silent
    this.settleEnabled = init.settle ?? true
    this.slashEnabled = init.slashDissenters ?? true
    this.pool = init.rewardPerRound ?? parseEther('10')
    this.gain = init.reputationPerContribution ?? 10n
    this.readyPromise = new Promise((resolve) => {
      this.resolveReady = resolve
    })
    const roleTiers = init.roleTiers ?? DEFAULT_ROLE_TIERS
    const whenReady = async (): Promise<ChainEligibilityPolicy | undefined> => {
      if (this.dir === undefined) {
        const ready = await Promise.race([
          this.readyPromise,
          sleep(10_000, undefined, { ref: false }).then(() => undefined),
        ])
        if (ready === undefined || this.dir === undefined) {
          this.log.warn('chain not reachable yet: nobody can be checked for a committee this round')
          return undefined
        }
      }
      this.chainPolicy ??= chainEligibilityPolicy({
        directory: this.dir,
        log: this.log,
        roleTiers,
        self: init.self,
        // jobs without allow-lists draw from every registered node: know them first
        synced: async () => {
          await Promise.race([this.watcher?.whenSynced(), sleep(5_000, undefined, { ref: false })])
        },
      })
      return this.chainPolicy
    }
    this.policy = {
      committeeCandidates: async (job, round) => (await whenReady())?.committeeCandidates(job, round) ?? [],
      expectedTrainers: async (job, round) => (await whenReady())?.expectedTrainers(job, round) ?? [],
    }
  }

  get directory(): ChainDirectory | undefined {
    return this.dir
  }

  get down(): boolean {
    return this.watcher?.down === true
  }

  ready(): Promise<SettlementChain | undefined> {
    return this.readyPromise
  }

  stats(): SettlementStats {
    return { settled: this.settledByMe.size, claimed: { rounds: this.claimedRounds, amount: this.claimedAmount } }
  }

  private emit<K extends keyof SettlementEvents>(type: K, detail: SettlementEvents[K]['detail']): void {
    this.safeDispatchEvent(type, { detail })
  }

  private track<T>(p: Promise<T>): void {
    const t = p.catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.log.warn('chain task failed', { error: firstLine(err) })
    })
    this.tasks.add(t)
    void t.finally(() => this.tasks.delete(t))
  }

  async start(participant: SettlementParticipant): Promise<void> {
    if (this.started) return
    this.started = true
    const self = this.init.self
    this.offs.push(this.init.gossip.subscribe((vote) => this.track(this.onVote(vote))))
    const listen = <K extends keyof SettlementParticipantEvents>(
      type: K,
      fn: (detail: SettlementParticipantEvents[K]['detail']) => void,
    ) => {
      const h = (e: SettlementParticipantEvents[K]): void => fn(e.detail)
      participant.addEventListener(type, h)
      this.offs.push(() => participant.removeEventListener(type, h))
    }
    listen('job:joined', (d) => {
      if (d.creator === self) this.createdJobs.add(d.jobId)
    })
    listen('round:started', (d) => {
      bounded(this.attempts).set(`${d.jobId}:${d.round}`, d.attempt)
      bounded(this.keys).set(roundKey(d.jobId, d.round, d.attempt), {
        jobId: d.jobId,
        round: d.round,
        attempt: d.attempt,
      })
      if (this.createdJobs.has(d.jobId)) this.track(this.openRound(d))
    })
    if (this.settleEnabled) {
      listen('result:published', (r) => {
        if (r.aggregator === self) this.track(this.vote(r))
      })
      listen('round:completed', (d) => {
        if (d.contributions.some((c) => c.trainer === self)) this.track(this.claim(d))
      })
    }
    listen('committee:disagreement', (d) => {
      this.log.warn(
        `committee member …${d.member.slice(-6)} signed model ${d.claimed.slice(0, 12)} for round ${d.round + 1}, not the majority's${this.slashEnabled ? ': its signed chain vote, if held, is evidence for slashing once the round settles' : ''}`,
      )
    })
    this.track(
      Promise.resolve(this.init.chain).then(
        (chain) => this.follow(chain),
        () => this.resolveReady(undefined),
      ),
    )
  }

  /** Follows the chain's events once connected. */
  private follow(chain: SettlementChain | undefined): void {
    if (chain === undefined || this.abort.signal.aborted) {
      this.resolveReady(undefined)
      return
    }
    this.chain = chain
    if (chain.serial !== undefined) this.serial = (send) => (chain.serial as NonNullable<typeof chain.serial>)(send)
    this.dir = createChainDirectory(chain.vain)
    this.watcher = createChainWatcher(chain.vain, {
      log: this.log,
      pollMs: this.init.pollMs ?? 500,
      fromBlock: this.init.fromBlock ?? 0n,
      ...(chain.rpcUrl !== undefined ? { rpcUrl: chain.rpcUrl } : {}),
      handlers: {
        opened: (r) => this.onOpened(r),
        settled: (r) => this.onSettled(r),
        claimed: (r) => this.onClaimed(r),
        slashed: (e) => this.onSlashed(e),
        registered: (address, peerId) => this.dir?.noteRegistration(address, peerId),
        down: (error) => this.emit('chain:down', { error }),
        up: () => this.emit('chain:up', {}),
      },
    })
    this.watcher.start()
    this.resolveReady(chain)
  }

  async stop(): Promise<void> {
    this.abort.abort()
    for (const off of this.offs.splice(0)) off()
    await this.watcher?.stop()
    this.resolveReady(undefined)
    await Promise.allSettled([...this.tasks])
  }

  private protocolRoundOf(roundId: bigint): ProtocolRoundOf {
    const opened = this.watcher?.opened(roundId)
    const k = opened === undefined ? undefined : this.keys.get(opened.key)
    return { jobId: k?.jobId, round: k?.round }
  }

  // ------------------------------------------------------------------------------ opening rounds

  /** As the job's creator (with the OPENER role): open and fund the chain round of a protocol round. */
  private async openRound(d: { jobId: string; round: number; attempt: number; committee: string[] }): Promise<void> {
    const chain = await this.ready()
    const directory = this.dir
    if (chain === undefined || directory === undefined || chain.vain.account === undefined || d.committee.length === 0)
      return
    const self = chain.vain.account
    this.canOpen ??= chain.vain.contracts.roundManager.read.hasRole([VAIN_ROLES.OPENER, self]).catch(() => false)
    if (!(await this.canOpen)) {
      if (!this.noRoundReported.has(d.jobId)) {
        this.noRoundReported.add(d.jobId)
        this.log.info(
          `this node created job ${d.jobId.slice(0, 12)} but its account ${shortAddress(self)} may not open rounds on chain (no OPENER role): its rounds will not be settled`,
        )
      }
      return
    }
    const members = await Promise.all(d.committee.map((p) => directory.addressOf(p)))
    if (members.some((m) => m === undefined)) {
      this.log.warn(`cannot open round ${d.round + 1} on chain: a committee member is not registered`)
      return
    }
    const pool = this.pool
    const key = roundKey(d.jobId, d.round, d.attempt)
    this.openedByMe.add(key)
    try {
      await this.serial(async () => {
        const { vain } = chain
        if (pool > 0n && (await vain.token.allowance(self, vain.addresses.roundManager)) < pool) {
          await vain.token.approve(vain.addresses.roundManager, pool * 1000n)
        }
        const block = await vain.publicClient.getBlock()
        return vain.rounds.open({
          jobId: key,
          committee: members as Address[],
          quorum: settleQuorum(members.length),
          deadline: block.timestamp + BigInt(this.init.roundDeadlineSeconds ?? 3_600),
          rewardPool: pool,
        })
      })
    } catch (err) {
      this.openedByMe.delete(key)
      if (!this.abort.signal.aborted)
        this.log.warn(`cannot open round ${d.round + 1} on chain`, { error: firstLine(err) })
    }
  }

  private onOpened(r: OpenedRound): void {
    const k = this.keys.get(r.key)
    this.emit('round:opened', { ...r, jobId: k?.jobId, round: k?.round, byMe: this.openedByMe.has(r.key) })
  }

  // ------------------------------------------------------------------------------ reward trees

  /** The reward tree of a chain round: accepted contributions of registered trainers, pro rata of samples. */
  private async rewardTree(
    roundId: bigint,
    contributions: readonly Contribution[],
    pool: bigint,
  ): Promise<RewardTree | undefined> {
    const directory = this.dir
    if (directory === undefined) return undefined
    const shares = (
      await Promise.all(
        contributions.map(async (c): Promise<RewardShare | undefined> => {
          const account = await directory.addressOf(c.trainer)
          return account === undefined ? undefined : { account, numSamples: c.numSamples, payloadHash: c.payloadHash }
        }),
      )
    ).filter((s): s is RewardShare => s !== undefined)
    if (shares.length === 0) return undefined
    return buildRewardTree(roundId, rewardLeavesOf(shares, pool, this.gain))
  }

  private roundDomain(chain: SettlementChain): Promise<SettlementDomain> {
    this.domain ??= chain.vain.publicClient
      .getChainId()
      .then((chainId) => ({ chainId, roundManager: chain.vain.addresses.roundManager }))
    this.domain.catch(() => {
      this.domain = undefined
    })
    return this.domain
  }

  // ------------------------------------------------------------------------------ voting and settling

  /** As a committee member: sign the result this node aggregated and gossip the signature. */
  private async vote(r: {
    jobId: string
    round: number
    attempt: number
    newModel: string
    contributions: Contribution[]
  }): Promise<void> {
    const chain = await this.ready()
    const account = chain?.vain.account
    if (chain === undefined || account === undefined || this.watcher === undefined) return
    const key = roundKey(r.jobId, r.round, r.attempt)
    bounded(this.keys).set(key, { jobId: r.jobId, round: r.round, attempt: r.attempt })
    const opened = await this.watcher.waitOpened(key, 30_000)
    if (opened === undefined) {
      if (!this.noRoundReported.has(r.jobId) && !this.abort.signal.aborted) {
        this.noRoundReported.add(r.jobId)
        this.log.info(
          `no round opened on chain for job ${r.jobId.slice(0, 12)} (the job's creator opens and funds them): nothing to settle`,
        )
      }
      return
    }
    if (!opened.committee.includes(account)) {
      this.log.debug('not on the chain committee of this round', { roundId: String(opened.roundId) })
      return
    }
    const tree = await this.rewardTree(opened.roundId, r.contributions, opened.rewardPool)
    if (tree === undefined) {
      this.log.info(`round ${r.round + 1}: no accepted contribution from a registered node, nothing to settle`)
      return
    }
    const result = settlementResultFrom(opened.roundId, modelHashOf(r.newModel), tree)
    const signature = await chain.vain.rounds.signResult(result)
    const vote = settleVoteOf(r, result, account, signature)
    this.emit('vote:signed', { jobId: r.jobId, round: r.round, roundId: opened.roundId, modelHash: result.modelHash })
    await this.addVote({ vote, result, signer: account, signature }, true)
    // gossip it; again a little later while the round is still open (a peer may have missed it)
    for (const wait of [0, 4_000, 12_000]) {
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: this.abort.signal })
        } catch {
          return
        }
      }
      if (this.watcher?.settled(opened.roundId) !== undefined) return
      await this.init.gossip.publish({ ...vote, sentAt: Date.now() }).catch(() => {})
    }
  }

  private async onVote(vote: SettleVote): Promise<void> {
    const chain = await this.ready()
    if (chain === undefined) return
    let checked: Awaited<ReturnType<typeof verifySettleVote>>
    try {
      checked = await verifySettleVote(vote, await this.roundDomain(chain))
    } catch (err) {
      if (!(err instanceof InvalidSettleVoteError)) throw err
      this.log.debug('dropped a settlement vote', { error: err.shortMessage })
      return
    }
    await this.addVote(checked, false)
  }

  private async addVote(signed: SignedResult & { vote: SettleVote }, mine: boolean): Promise<void> {
    if (this.chain === undefined) return
    const { vote, result, signer, signature } = signed
    const id = vote.result.roundId
    let entry = this.votes.get(id)
    if (entry === undefined) {
      entry = {
        jobId: vote.jobId,
        round: vote.round,
        attempt: vote.attempt,
        groups: new Map(),
        mine: undefined,
        settling: false,
        slashed: new Set(),
      }
      this.votes.set(id, entry)
      if (this.votes.size > 512) this.votes.delete(this.votes.keys().next().value as string)
    }
    const key = settlementResultKey(result)
    let group = entry.groups.get(key)
    if (group === undefined) {
      group = { result, signatures: new Map() }
      entry.groups.set(key, group)
    }
    group.signatures.set(signer, signature)
    if (mine) entry.mine = key
    this.maybeSettle(result.roundId, entry)
    const settled = this.watcher?.settled(result.roundId)
    if (settled !== undefined) await this.maybeSlash(settled, entry)
  }

  /** Once a quorum signed this node's result: settle (first signer by address at once, others later). */
  private maybeSettle(roundId: bigint, entry: RoundVotes): void {
    const chain = this.chain
    const account = chain?.vain.account
    const opened = this.watcher?.opened(roundId)
    if (chain === undefined || account === undefined || opened === undefined || entry.mine === undefined) return
    if (entry.settling || this.watcher?.settled(roundId) !== undefined) return
    const group = entry.groups.get(entry.mine) as VoteGroup
    const plan = settlePlan(group.signatures.keys(), opened, account)
    if (plan === undefined) return
    entry.settling = true
    this.track(
      (async () => {
        if (plan.delayMs > 0) await sleep(plan.delayMs, undefined, { signal: this.abort.signal })
        if (this.watcher?.settled(roundId) !== undefined) return
        await this.watcher?.poll()
        if (this.watcher?.settled(roundId) !== undefined) return
        this.settledByMe.add(roundId)
        try {
          await this.serial(() =>
            chain.vain.rounds.settle(
              group.result,
              plan.signers.map((s) => group.signatures.get(s) as Hex),
            ),
          )
          this.log.info(`settled round ${entry.round + 1} on chain`, {
            roundId: String(roundId),
            model: group.result.modelHash.slice(0, 14),
            signatures: plan.signers.length,
            rewards: formatVain(group.result.totalReward),
          })
        } catch (err) {
          this.settledByMe.delete(roundId)
          if (isRevert(err, 'WrongRoundStatus')) return // another member was first
          entry.settling = false
          throw err
        }
      })(),
    )
  }

  private onSettled(r: SettledRound): void {
    const entry = this.votes.get(String(r.roundId))
    this.emit('round:settled', { ...r, ...this.protocolRoundOf(r.roundId), byMe: this.settledByMe.has(r.roundId) })
    if (entry !== undefined) this.track(this.maybeSlash(r, entry))
  }

  /** Members of the quorum slash committee members who signed another result for a settled round. */
  private async maybeSlash(settled: SettledRound, entry: RoundVotes): Promise<void> {
    const chain = this.chain
    const opened = this.watcher?.opened(settled.roundId)
    if (!this.slashEnabled || chain === undefined || opened === undefined) return
    const mine = entry.mine === undefined ? undefined : entry.groups.get(entry.mine)?.result
    const votes = [...entry.groups.values()].flatMap((g) =>
      [...g.signatures].map(([signer, signature]) => ({ result: g.result, signer, signature })),
    )
    for (const evidence of dissentEvidence(settled, mine, votes, opened.committee)) {
      const member = evidence.signer
      if (entry.slashed.has(member)) continue
      entry.slashed.add(member)
      try {
        await this.serial(() => chain.vain.rounds.slashDissenter(evidence.result, evidence.signature))
        this.log.warn(
          `slashed committee member ${shortAddress(member)}: it signed model ${evidence.result.modelHash.slice(0, 14)} for round ${entry.round + 1}, the quorum settled ${settled.modelHash.slice(0, 14)}`,
        )
      } catch (err) {
        if (!isRevert(err, 'AlreadySlashed', 'NotADissent')) {
          this.log.warn('cannot slash a dissenting committee member', { member, error: firstLine(err) })
        }
      }
    }
  }

  private onSlashed(e: SlashedDissenter): void {
    if (e.member === this.chain?.vain.account) {
      this.log.warn(
        `this node was slashed ${formatVain(e.slashed)} on chain: it signed another result than its committee's quorum`,
        { roundId: String(e.roundId) },
      )
    } else {
      this.log.info(`committee member ${shortAddress(e.member)} slashed ${formatVain(e.slashed)} on chain`, {
        roundId: String(e.roundId),
      })
    }
    this.emit('dissenter:slashed', e)
  }

  // ------------------------------------------------------------------------------ claiming

  /** As a trainer whose update was accepted: wait for the settlement and claim the reward. */
  private async claim(d: {
    jobId: string
    round: number
    model: string
    contributions: Contribution[]
  }): Promise<void> {
    const chain = await this.ready()
    const watcher = this.watcher
    const account = chain?.vain.account
    if (chain === undefined || account === undefined || watcher === undefined) return
    const attempt = this.attempts.get(`${d.jobId}:${d.round}`) ?? 0
    const opened = await watcher.waitOpened(roundKey(d.jobId, d.round, attempt), 30_000)
    if (opened === undefined) return // no chain round for it (the creator does not open rounds)
    const settled = await watcher.waitSettledModel(modelHashOf(d.model), 120_000)
    if (settled === undefined) {
      if (!this.abort.signal.aborted) {
        this.log.warn(`round ${d.round + 1} was not settled on chain within 120 s: reward not claimed`)
      }
      return
    }
    const pool =
      watcher.opened(settled.roundId)?.rewardPool ?? (await chain.vain.rounds.roundOf(settled.roundId)).rewardPool
    const tree = await this.rewardTree(settled.roundId, d.contributions, pool)
    if (tree === undefined || tree.root.toLowerCase() !== settled.rewardsRoot.toLowerCase()) {
      this.log.warn(`round ${d.round + 1}: the settled rewards root differs from this node's tree, cannot claim`)
      return
    }
    if (await chain.vain.rounds.isClaimed(settled.roundId, account)) return
    const claim = tree.claimFor(account)
    try {
      await this.serial(() => chain.vain.rounds.claim(claim))
    } catch (err) {
      if (isRevert(err, 'AlreadyClaimed')) return
      throw err
    }
    this.claimedRounds += 1
    this.claimedAmount += claim.amount
    this.dir?.invalidate(account)
    this.log.info(
      `claimed ${formatVain(claim.amount)} and +${claim.reputationGain} reputation for round ${d.round + 1}`,
      {
        roundId: String(settled.roundId),
      },
    )
  }

  private onClaimed(r: ClaimedReward): void {
    this.emit('reward:claimed', {
      ...r,
      ...this.protocolRoundOf(r.roundId),
      byMe: r.account === this.chain?.vain.account,
    })
  }
}

/**
 * A node's settlement of federated rounds on chain, as a part the node plugs in: give its
 * `policy` to the round participant, then `start(participant)`.
 *
 * - **Opening**: the creator of a job, when its account may open rounds (OPENER role), opens and
 *   funds one chain round per protocol round at its start, with the round's committee and
 *   quorum ({@link settleQuorum}), under {@link roundKey}.
 * - **Voting**: each committee member signs (EIP-712) the result it aggregated — the model's hash
 *   ({@link modelHashOf}) and the root of the reward tree ({@link rewardLeavesOf}: pro rata of
 *   samples) — and gossips the signature; votes received are checked ({@link verifySettleVote}).
 * - **Settling**: once a quorum signed this node's result, the first of them by address submits
 *   `settle` at once, the others later if it is still open ({@link settlePlan}).
 * - **Claiming**: each trainer whose update was accepted rebuilds the same tree, checks it against
 *   the settled root and claims its reward and reputation with its Merkle proof.
 * - **Slashing**: members of the quorum submit the signatures of committee members who signed
 *   another result ({@link dissentEvidence}) to `slashDissenter`.
 *
 * A chain that is down never stops the node: requests retry with backoff, the watcher reports
 * the outage and catches up, eligibility falls back to the last standings read.
 *
 * @example
 * ```ts
 * import { createSettlement, SettleVoteSchema } from '@vain/chain/settlement'
 *
 * const topic = defineTopic({ name: 'vain/settle/1', schema: SettleVoteSchema, maxBytes: 4096 })
 * const settlement = createSettlement({
 *   chain: { vain: connectVain({ rpcUrl, addresses, privateKey }) },
 *   gossip: { publish: (v) => node.publish(topic, v), subscribe: (h) => node.subscribe(topic, h) },
 *   self: node.peerId.toString(),
 *   log,
 * })
 * const participant = createParticipant({ ...components, policy: settlement.policy })
 * settlement.addEventListener('reward:claimed', (e) => console.log(e.detail.account, e.detail.amount))
 * await settlement.start(participant)
 * await participant.start()
 * // ...
 * await settlement.stop()
 * ```
 */
export function createSettlement(init: SettlementInit): Settlement {
  return new NodeSettlement(init)
}
