/**
 * A node's chain side, for nodes with a `chain` config section:
 *
 * - **Eligibility**: the round protocol's policy ({@link chainEligibilityPolicy}) reads stake and
 *   tier from chain; this node registers its peer id in the NodeRegistry and checks its own
 *   standing for the roles it plays, logging a refusal with the reason (and again when it changes).
 * - **Opening rounds**: the creator of a job, when its account may open rounds (OPENER role),
 *   opens and funds one chain round per protocol round at its start, with the round's committee,
 *   under the key `keccak256(abi.encode(jobId, round, attempt))`.
 * - **Settling**: each committee member signs (EIP-712) the result it aggregated (model hash, root
 *   of the reward tree of the accepted contributions, rewards pro rata of samples) and gossips the
 *   signature on `vain/settle/1`; once a quorum signed the same result, the first of them (by
 *   address; the others after a delay, if it is still open) submits `settle`.
 * - **Claiming**: each trainer whose update was accepted rebuilds the same tree, checks it against
 *   the settled root, and claims its reward and reputation with its Merkle proof.
 * - **Slashing**: a committee member whose signed result differs from the settled one has proven
 *   its disagreement (the protocol's `committee:disagreement`); members of the quorum submit that
 *   signature to `slashDissenter`.
 *
 * A chain that is down never stops the node: every request retries with backoff, background
 * loops report the outage and carry on, eligibility falls back to the last standings read.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import {
  buildRewardTree,
  type RoundResult as ChainRoundResult,
  ContractRevertError,
  checkEligibility,
  type NodeRole,
  type NodeStanding,
  type Contribution as RewardContribution,
  type RewardTree,
  recoverResultSigner,
  roundResultFrom,
  roundResultTypedData,
  VAIN_ROLES,
  type VainAddresses,
} from '@vain/chain'
import type { Contribution, EligibilityPolicy, Participant, ParticipantEvents } from '@vain/fl'
import { defineTopic, type VainNode } from '@vain/net'
import { type Address, encodeAbiParameters, getAddress, type Hex, hashTypedData, keccak256, parseEther } from 'viem'
import { z } from 'zod'
import type { ChainConfig } from '../config.js'
import type { Logger } from '../logger.js'
import { connectChain, formatVain, isChainDown, type NodeChain, resolvePrivateKey, shortAddress } from './connect.js'
import { ChainDirectory, chainEligibilityPolicy, roleTiersOf } from './policy.js'
import { ChainWatcher, type ClaimedReward, type OpenedRound, type SettledRound } from './watcher.js'

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/)
const uint = z.string().regex(/^\d{1,78}$/)

/** A committee member's signature over its result for a chain round, gossiped to the others. */
export const SettleVoteSchema = z.strictObject({
  v: z.literal(1),
  jobId: z.string().regex(/^[0-9a-f]{64}$/),
  round: z.number().int().nonnegative(),
  attempt: z.number().int().min(0).max(100),
  result: z.strictObject({
    roundId: uint,
    modelHash: hex32,
    rewardsRoot: hex32,
    totalReward: uint,
    contributions: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
  }),
  signer: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
  /** Makes a re-sent vote a new gossip message. */
  sentAt: z.number().int().nonnegative(),
})
export type SettleVote = z.output<typeof SettleVoteSchema>

/** Gossip topic of settlement votes. */
export const SETTLE_TOPIC = defineTopic({ name: 'vain/settle/1', schema: SettleVoteSchema, maxBytes: 4 * 1024 })

/** The chain round key of a protocol round: `keccak256(abi.encode(bytes32 jobId, uint256 round, uint256 attempt))`. */
export function roundKey(jobId: string, round: number, attempt: number): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'uint256' }],
      [`0x${jobId}`, BigInt(round), BigInt(attempt)],
    ),
  )
}

/** Verdict on one of this node's roles. */
export interface RoleStatus {
  eligible: boolean
  /** Why not (the typed error's message), when refused. */
  reason?: string
}

/** What `status()` reports (REST `/status`, tests). */
export interface ChainStatus {
  rpcUrl: string
  address: Address | undefined
  addresses: VainAddresses | undefined
  /** False while the chain is unreachable. */
  up: boolean
  /** This node's peer id as bound on chain, if registered. */
  registeredPeerId: string | undefined
  standing: { staked: string; pending: string; reputation: string; tier: number } | undefined
  roles: Partial<Record<NodeRole, RoleStatus>>
  /** Rounds this node settled, rewards it claimed. */
  settled: number
  claimed: { rounds: number; amount: string }
}

/** Events of {@link ChainService}. */
export interface ChainServiceEvents {
  ready: { address: Address | undefined; addresses: VainAddresses; deployed: boolean }
  down: { error: unknown }
  up: Record<string, never>
  eligibility: { role: NodeRole; eligible: boolean; reason?: string }
  registered: { peerId: string; address: Address }
  'round:opened': OpenedRound & { jobId: string | undefined; round: number | undefined; byMe: boolean }
  'vote:signed': { jobId: string; round: number; roundId: bigint; modelHash: Hex }
  'round:settled': SettledRound & { byMe: boolean; jobId: string | undefined; round: number | undefined }
  'reward:claimed': ClaimedReward & { byMe: boolean; jobId: string | undefined; round: number | undefined }
  'dissenter:slashed': { roundId: bigint; member: Address; slashed: bigint }
}

/** Options of {@link ChainService}. */
export interface ChainServiceInit {
  config: ChainConfig
  node: VainNode
  log: Logger
  /** Roles this node's participant plays (its own eligibility is checked for these). */
  roles: { trainer: boolean; aggregator: boolean }
}

interface VoteGroup {
  result: ChainRoundResult
  signatures: Map<Address, Hex>
}

interface RoundVotes {
  jobId: string
  round: number
  attempt: number
  groups: Map<Hex, VoteGroup>
  mine: Hex | undefined
  settling: boolean
  slashed: Set<Address>
}

const isRevert = (err: unknown, ...names: string[]): boolean =>
  err instanceof ContractRevertError && err.errorName !== undefined && names.includes(err.errorName)

/** `map`, after dropping its oldest entries beyond 4,096 (per-round bookkeeping of a long-running node). */
function bounded<K, V>(map: Map<K, V>): Map<K, V> {
  while (map.size >= 4_096) map.delete(map.keys().next().value as K)
  return map
}

const firstLine = (err: unknown): string => String((err as Error)?.message ?? err).split('\n')[0] as string

/**
 * A node's chain side (see the module docs): give its `policy` to the participant, then `start`.
 *
 * @example
 * ```ts
 * const chain = new ChainService({ config: config.chain, node, log, roles })
 * const participant = createParticipant({ ...components, policy: chain.policy })
 * await chain.start(participant)
 * chain.on('reward:claimed', (r) => console.log(r.account, r.amount))
 * ```
 */
export class ChainService extends EventTarget {
  private readonly init: ChainServiceInit
  private readonly log: Logger
  private readonly abort = new AbortController()
  private chain: NodeChain | undefined
  private directory: ChainDirectory | undefined
  private watcher: ChainWatcher | undefined
  private readonly readyPromise: Promise<NodeChain | undefined>
  private readonly resolveReady: (c: NodeChain | undefined) => void
  private chainPolicy: EligibilityPolicy | undefined
  private readonly offs: Array<() => void> = []
  private readonly tasks = new Set<Promise<unknown>>()
  private readonly createdJobs = new Set<string>()
  private readonly attempts = new Map<string, number>()
  private readonly keys = new Map<Hex, { jobId: string; round: number; attempt: number }>()
  private readonly votes = new Map<string, RoundVotes>()
  private readonly openedByMe = new Set<Hex>()
  private readonly settledByMe = new Set<bigint>()
  private readonly roleStatus: Partial<Record<NodeRole, RoleStatus>> = {}
  private standing: NodeStanding | undefined
  private registeredPeerId: string | undefined
  private canOpen: Promise<boolean> | undefined
  private domain: Promise<{ chainId: number; roundManager: Address }> | undefined
  private claimedRounds = 0
  private claimedAmount = 0n
  private reportedRegistration = ''
  private noRoundReported = new Set<string>()
  private chainUp = true
  private readonly self: string

  /** The eligibility policy to give the participant (works before the chain is reachable). */
  readonly policy: EligibilityPolicy

  constructor(init: ChainServiceInit) {
    super()
    this.init = init
    this.log = init.log
    this.self = init.node.peerId.toString()
    resolvePrivateKey(init.config) // a bad key is a configuration error: fail at start, not in the background
    let resolveReady: (c: NodeChain | undefined) => void = () => {}
    this.readyPromise = new Promise((r) => {
      resolveReady = r
    })
    this.resolveReady = resolveReady
    const roleTiers = roleTiersOf(init.config)
    const whenReady = async (): Promise<EligibilityPolicy | undefined> => {
      if (this.directory === undefined) {
        const ready = await Promise.race([
          this.readyPromise,
          sleep(10_000, undefined, { ref: false }).then(() => undefined),
        ])
        if (ready === undefined || this.directory === undefined) {
          this.log.warn('chain not reachable yet: nobody can be checked for a committee this round')
          return undefined
        }
      }
      this.chainPolicy ??= chainEligibilityPolicy({
        directory: this.directory,
        log: this.log,
        roleTiers,
        self: this.self,
        // jobs without allow-lists draw from every registered node: know them first
        synced: async () => {
          await Promise.race([this.watcher?.whenSynced(), sleep(5_000, undefined, { ref: false })])
        },
      })
      return this.chainPolicy
    }
    this.policy = {
      committeeCandidates: async (job, round) => (await whenReady())?.committeeCandidates(job, round) ?? [],
      expectedTrainers: async (job, round) => (await whenReady())?.expectedTrainers?.(job, round) ?? [],
    }
  }

  /** Typed `addEventListener`; returns a function that removes the listener. */
  on<K extends keyof ChainServiceEvents>(type: K, listener: (detail: ChainServiceEvents[K]) => void): () => void {
    const fn = (e: Event): void => listener((e as CustomEvent<ChainServiceEvents[K]>).detail)
    this.addEventListener(type, fn)
    return () => this.removeEventListener(type, fn)
  }

  private emit<K extends keyof ChainServiceEvents>(type: K, detail: ChainServiceEvents[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }))
  }

  /** Resolves with the connection once it is made (after a deployment for `addresses: "deploy"`). */
  ready(): Promise<NodeChain | undefined> {
    return this.readyPromise
  }

  /** The connection, once made. */
  get connection(): NodeChain | undefined {
    return this.chain
  }

  private track<T>(p: Promise<T>): void {
    const t = p.catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.log.warn('chain task failed', { error: firstLine(err) })
    })
    this.tasks.add(t)
    void t.finally(() => this.tasks.delete(t))
  }

  /** Connects (in the background: a chain that is down is retried), then follows `participant`. */
  async start(participant: Participant): Promise<void> {
    const cfg = this.init.config
    const signal = this.abort.signal
    this.offs.push(this.init.node.subscribe(SETTLE_TOPIC, (vote) => this.track(this.onVote(vote))))
    const listen = <K extends keyof ParticipantEvents>(
      type: K,
      fn: (detail: ParticipantEvents[K]['detail']) => void,
    ) => {
      const h = (e: ParticipantEvents[K]): void => fn(e.detail)
      participant.addEventListener(type, h)
      this.offs.push(() => participant.removeEventListener(type, h))
    }
    listen('job:joined', (d) => {
      if (d.creator === this.self) this.createdJobs.add(d.jobId)
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
    if (cfg.settle) {
      listen('result:published', (r) => {
        if (r.aggregator === this.self) this.track(this.vote(r))
      })
      listen('round:completed', (d) => {
        if (d.contributions.some((c) => c.trainer === this.self)) this.track(this.claim(d))
      })
    }
    listen('committee:disagreement', (d) => {
      this.log.warn(
        `committee member …${d.member.slice(-6)} signed model ${d.claimed.slice(0, 12)} for round ${d.round + 1}, not the majority's${cfg.slashDissenters ? ': its signed chain vote, if held, is evidence for slashing once the round settles' : ''}`,
      )
    })

    // connect: addresses given → no I/O yet; "deploy" → in the background, retried until it works
    const connect = async (): Promise<void> => {
      try {
        const chain = await connectChain(cfg, {
          log: this.log,
          signal,
          deployAttempts: Number.POSITIVE_INFINITY,
          onRetry: () => this.markDown(),
        })
        this.chain = chain
        this.directory = new ChainDirectory(chain)
        this.watcher = new ChainWatcher(chain, {
          log: this.log,
          pollMs: cfg.pollMs,
          fromBlock: BigInt(cfg.fromBlock),
          handlers: {
            opened: (r) => this.onOpened(r),
            settled: (r) => this.onSettled(r),
            claimed: (r) => this.onClaimed(r),
            slashed: (e) => {
              if (e.member === this.chain?.address) {
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
            },
            registered: (address, peerId) => this.directory?.noteRegistration(address, peerId),
            down: (error) => {
              this.markDown()
              this.emit('down', { error })
            },
            up: () => {
              this.chainUp = true
              this.emit('up', {})
            },
          },
        })
        this.watcher.start()
        this.log.info('chain connected', {
          rpc: cfg.rpcUrl,
          address: chain.address ?? '(read-only: no key)',
          registry: chain.addresses.registry,
        })
        this.resolveReady(chain)
        this.emit('ready', { address: chain.address, addresses: chain.addresses, deployed: chain.deployed })
        await this.keepStanding()
      } catch (err) {
        if (signal.aborted) return
        this.log.error('cannot use the chain', { error: (err as Error).name, message: firstLine(err) })
        this.resolveReady(undefined)
      }
    }
    this.track(connect())
  }

  private markDown(): void {
    this.chainUp = false
  }

  /** Registers this node's peer id and checks its roles now, then every 10 s (logging changes). */
  private async keepStanding(): Promise<void> {
    const signal = this.abort.signal
    while (!signal.aborted) {
      try {
        await this.checkStanding()
      } catch (err) {
        if (signal.aborted) return
        if (!isChainDown(err)) this.log.warn('cannot check this node on chain', { error: firstLine(err) })
      }
      try {
        await sleep(10_000, undefined, { signal })
      } catch {
        return
      }
    }
  }

  /** Registers if needed and re-reads this node's standing and role verdicts. */
  async checkStanding(): Promise<void> {
    const chain = this.chain
    const directory = this.directory
    if (chain === undefined || directory === undefined || chain.address === undefined) return
    const address = chain.address
    directory.invalidate(address)
    const standing = await directory.standing(address)
    this.standing = standing
    this.registeredPeerId = standing.peerId
    this.chainUp = true
    if (this.init.config.register && standing.peerId !== this.self) {
      let message: string
      if (standing.staked < standing.minStake[0]) {
        message = `not registered on chain: node ${address} has ${formatVain(standing.staked)} staked but needs at least ${formatVain(standing.minStake[0])} to register its peer id (run: vain stake <amount>)`
      } else {
        try {
          const before = standing.peerId
          await chain.serial(() =>
            before === undefined
              ? chain.vain.registry.register(this.self)
              : chain.vain.registry.updatePeerId(this.self),
          )
          this.registeredPeerId = this.self
          this.log.info('registered this peer id on chain', { address, peerId: this.self })
          this.emit('registered', { peerId: this.self, address })
          message = ''
        } catch (err) {
          if (isChainDown(err)) throw err
          message = `cannot register this peer id on chain: ${firstLine(err)}`
        }
      }
      if (message !== '' && message !== this.reportedRegistration) this.log.warn(message)
      this.reportedRegistration = message
    }
    const roles: NodeRole[] = [
      ...(this.init.roles.trainer ? (['trainer'] as const) : []),
      ...(this.init.roles.aggregator ? (['aggregator'] as const) : []),
    ]
    const tiers = roleTiersOf(this.init.config)
    for (const role of roles) {
      // from this node's own standing (its address is known), then: can the others map its peer id?
      const v = checkEligibility(standing, role, tiers)
      const status: RoleStatus = !v.eligible
        ? { eligible: false, reason: v.error.message }
        : this.registeredPeerId !== this.self
          ? {
              eligible: false,
              reason: `this node's peer id is not registered on chain (other nodes cannot see its stake): ${this.reportedRegistration || 'registration pending'}`,
            }
          : { eligible: true }
      const before = this.roleStatus[role]
      this.roleStatus[role] = status
      if (before?.eligible === status.eligible && before.reason === status.reason) continue
      if (status.eligible) {
        this.log.info(`eligible as ${role} on chain`, { tier: standing.tier, staked: formatVain(standing.staked) })
      } else this.log.warn(`${role} role refused: ${status.reason}`)
      this.emit('eligibility', { role, ...status })
    }
  }

  /** This node's chain status. */
  status(): ChainStatus {
    const s = this.standing
    return {
      rpcUrl: this.init.config.rpcUrl,
      address: this.chain?.address,
      addresses: this.chain?.addresses,
      up: this.chainUp && this.watcher?.down !== true,
      registeredPeerId: this.registeredPeerId,
      standing:
        s === undefined
          ? undefined
          : {
              staked: formatVain(s.staked),
              pending: formatVain(s.pending),
              reputation: String(s.reputation),
              tier: s.tier,
            },
      roles: { ...this.roleStatus },
      settled: this.settledByMe.size,
      claimed: { rounds: this.claimedRounds, amount: formatVain(this.claimedAmount) },
    }
  }

  /** Stops following the participant and the chain; waits for tasks in flight to end. */
  async stop(): Promise<void> {
    this.abort.abort()
    for (const off of this.offs.splice(0)) off()
    await this.watcher?.stop()
    this.resolveReady(undefined)
    await Promise.allSettled([...this.tasks])
  }

  // ------------------------------------------------------------------------------ opening rounds

  private async openRound(d: { jobId: string; round: number; attempt: number; committee: string[] }): Promise<void> {
    const chain = await this.ready()
    const directory = this.directory
    if (chain === undefined || directory === undefined || chain.address === undefined || d.committee.length === 0)
      return
    const self = chain.address
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
    const pool = parseEther(this.init.config.rewardPerRound)
    const key = roundKey(d.jobId, d.round, d.attempt)
    this.openedByMe.add(key)
    try {
      await chain.serial(async () => {
        const { vain } = chain
        if (pool > 0n && (await vain.token.allowance(self, vain.addresses.roundManager)) < pool) {
          await vain.token.approve(vain.addresses.roundManager, pool * 1000n)
        }
        const block = await vain.publicClient.getBlock()
        return vain.rounds.open({
          jobId: key,
          committee: members as Address[],
          deadline: block.timestamp + BigInt(this.init.config.roundDeadlineSeconds),
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
    const directory = this.directory
    if (directory === undefined) return undefined
    const mapped = (
      await Promise.all(contributions.map(async (c) => ({ c, account: await directory.addressOf(c.trainer) })))
    ).filter((x): x is { c: Contribution; account: Address } => x.account !== undefined)
    if (mapped.length === 0) return undefined
    const total = mapped.reduce((s, x) => s + BigInt(x.c.numSamples), 0n)
    const gain = BigInt(this.init.config.reputationPerContribution)
    const leaves: RewardContribution[] = mapped.map(({ c, account }) => ({
      account,
      amount: (pool * BigInt(c.numSamples)) / total,
      reputationGain: gain,
      commitment: `0x${c.payloadHash}`,
    }))
    return buildRewardTree(roundId, leaves)
  }

  private async roundDomain(chain: NodeChain): Promise<{ chainId: number; roundManager: Address }> {
    this.domain ??= chain.vain.publicClient
      .getChainId()
      .then((chainId) => ({ chainId, roundManager: chain.addresses.roundManager }))
    this.domain.catch(() => {
      this.domain = undefined
    })
    return this.domain
  }

  private async digestOf(chain: NodeChain, result: ChainRoundResult): Promise<Hex> {
    return hashTypedData(roundResultTypedData(result, await this.roundDomain(chain)))
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
    if (chain?.address === undefined || this.watcher === undefined) return
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
    if (!opened.committee.includes(chain.address)) {
      this.log.debug('not on the chain committee of this round', { roundId: String(opened.roundId) })
      return
    }
    const tree = await this.rewardTree(opened.roundId, r.contributions, opened.rewardPool)
    if (tree === undefined) {
      this.log.info(`round ${r.round + 1}: no accepted contribution from a registered node, nothing to settle`)
      return
    }
    const result = roundResultFrom(opened.roundId, `0x${r.newModel}`, tree)
    const signature = await chain.vain.rounds.signResult(result)
    const vote: SettleVote = {
      v: 1,
      jobId: r.jobId,
      round: r.round,
      attempt: r.attempt,
      result: {
        roundId: String(result.roundId),
        modelHash: result.modelHash,
        rewardsRoot: result.rewardsRoot,
        totalReward: String(result.totalReward),
        contributions: result.contributions,
      },
      signer: chain.address,
      signature,
      sentAt: Date.now(),
    }
    this.emit('vote:signed', { jobId: r.jobId, round: r.round, roundId: opened.roundId, modelHash: result.modelHash })
    await this.addVote(vote, true)
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
      await this.init.node.publish(SETTLE_TOPIC, { ...vote, sentAt: Date.now() }).catch(() => {})
    }
  }

  private async onVote(vote: SettleVote): Promise<void> {
    const chain = await this.ready()
    if (chain === undefined) return
    await this.addVote(vote, false)
  }

  private async addVote(vote: SettleVote, mine: boolean): Promise<void> {
    const chain = this.chain
    if (chain === undefined) return
    const result: ChainRoundResult = {
      roundId: BigInt(vote.result.roundId),
      modelHash: vote.result.modelHash as Hex,
      rewardsRoot: vote.result.rewardsRoot as Hex,
      totalReward: BigInt(vote.result.totalReward),
      contributions: vote.result.contributions,
    }
    const signer = getAddress(vote.signer)
    if (!mine) {
      let recovered: Address
      try {
        recovered = await recoverResultSigner(result, vote.signature as Hex, await this.roundDomain(chain))
      } catch {
        return
      }
      if (getAddress(recovered) !== signer) {
        this.log.debug('dropped a settlement vote with a bad signature', { claimed: signer })
        return
      }
    }
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
    const digest = await this.digestOf(chain, result)
    let group = entry.groups.get(digest)
    if (group === undefined) {
      group = { result, signatures: new Map() }
      entry.groups.set(digest, group)
    }
    group.signatures.set(signer, vote.signature as Hex)
    if (mine) entry.mine = digest
    this.maybeSettle(result.roundId, entry)
    const settled = this.watcher?.settled(result.roundId)
    if (settled !== undefined) await this.maybeSlash(settled, entry)
  }

  /** Once a quorum signed this node's result: settle (first signer by address at once, others later). */
  private maybeSettle(roundId: bigint, entry: RoundVotes): void {
    const chain = this.chain
    const opened = this.watcher?.opened(roundId)
    if (chain?.address === undefined || opened === undefined || entry.mine === undefined || entry.settling) return
    if (this.watcher?.settled(roundId) !== undefined) return
    const group = entry.groups.get(entry.mine) as VoteGroup
    const signers = [...group.signatures.keys()].filter((s) => opened.committee.includes(s)).sort()
    if (signers.length < opened.quorum) return
    entry.settling = true
    const rank = Math.max(0, signers.indexOf(chain.address))
    this.track(
      (async () => {
        if (rank > 0) await sleep(2_500 * rank, undefined, { signal: this.abort.signal })
        if (this.watcher?.settled(roundId) !== undefined) return
        await this.watcher?.poll()
        if (this.watcher?.settled(roundId) !== undefined) return
        this.settledByMe.add(roundId)
        try {
          await chain.serial(() =>
            chain.vain.rounds.settle(
              group.result,
              signers.map((s) => group.signatures.get(s) as Hex),
            ),
          )
          this.log.info(`settled round ${entry.round + 1} on chain`, {
            roundId: String(roundId),
            model: group.result.modelHash.slice(0, 14),
            signatures: signers.length,
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
    const k = this.keyOf(r.roundId)
    this.emit('round:settled', { ...r, byMe: this.settledByMe.has(r.roundId), jobId: k?.jobId, round: k?.round })
    if (entry !== undefined) this.track(this.maybeSlash(r, entry))
  }

  private keyOf(roundId: bigint): { jobId: string; round: number; attempt: number } | undefined {
    const opened = this.watcher?.opened(roundId)
    return opened === undefined ? undefined : this.keys.get(opened.key)
  }

  /** Members of the quorum slash committee members who signed another result for a settled round. */
  private async maybeSlash(settled: SettledRound, entry: RoundVotes): Promise<void> {
    const chain = this.chain
    const opened = this.watcher?.opened(settled.roundId)
    if (!this.init.config.slashDissenters || chain === undefined || opened === undefined) return
    const settledDigest = await this.digestOf(chain, {
      roundId: settled.roundId,
      modelHash: settled.modelHash,
      rewardsRoot: settled.rewardsRoot,
      totalReward: settled.totalReward,
      contributions: settled.contributions,
    })
    if (entry.mine !== settledDigest) return // only the quorum's members hold evidence worth sending
    for (const [digest, group] of entry.groups) {
      if (digest === settledDigest) continue
      for (const [member, signature] of group.signatures) {
        if (!opened.committee.includes(member) || entry.slashed.has(member)) continue
        entry.slashed.add(member)
        try {
          await chain.serial(() => chain.vain.rounds.slashDissenter(group.result, signature))
          this.log.warn(
            `slashed committee member ${shortAddress(member)}: it signed model ${group.result.modelHash.slice(0, 14)} for round ${entry.round + 1}, the quorum settled ${settled.modelHash.slice(0, 14)}`,
          )
        } catch (err) {
          if (!isRevert(err, 'AlreadySlashed', 'NotADissent')) {
            this.log.warn('cannot slash a dissenting committee member', { member, error: firstLine(err) })
          }
        }
      }
    }
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
    if (chain?.address === undefined || watcher === undefined) return
    const attempt = this.attempts.get(`${d.jobId}:${d.round}`) ?? 0
    const opened = await watcher.waitOpened(roundKey(d.jobId, d.round, attempt), 30_000)
    if (opened === undefined) return // no chain round for it (the creator does not open rounds)
    const settled = await watcher.waitSettledModel(`0x${d.model}`, 120_000)
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
    if (await chain.vain.rounds.isClaimed(settled.roundId, chain.address)) return
    const claim = tree.claimFor(chain.address)
    try {
      await chain.serial(() => chain.vain.rounds.claim(claim))
    } catch (err) {
      if (isRevert(err, 'AlreadyClaimed')) return
      throw err
    }
    this.claimedRounds += 1
    this.claimedAmount += claim.amount
    this.directory?.invalidate(chain.address)
    this.log.info(
      `claimed ${formatVain(claim.amount)} and +${claim.reputationGain} reputation for round ${d.round + 1}`,
      {
        roundId: String(settled.roundId),
      },
    )
  }

  private onClaimed(r: ClaimedReward): void {
    const k = this.keyOf(r.roundId)
    this.emit('reward:claimed', { ...r, byMe: r.account === this.chain?.address, jobId: k?.jobId, round: k?.round })
  }
}
