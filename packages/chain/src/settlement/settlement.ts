/**
 * The settlement part every node runs ({@link createSettlement}): it follows the round
 * participant's events and the chain's, and applies the rules of `rules.ts` (see the package docs
 * of `@vain/chain/settlement`). This file assembles the parts — opening (`opening.ts`), voting and
 * settling (`voting.ts`), claiming (`claiming.ts`), slashing (`slashing.ts`), over the bookkeeping
 * they share (`context.ts`) — and wires them to the participant, the gossip and the chain watcher.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { TypedEventEmitter } from 'main-event'
import { DEFAULT_ROLE_TIERS } from '../eligibility.js'
import { claim, onClaimed } from './claiming.js'
import { bounded, createSettlementContext, type SettlementContext } from './context.js'
import { type ChainDirectory, createChainDirectory } from './directory.js'
import { type ChainJobPolicy, createChainJobPolicy, DEFAULT_MAX_UNFUNDED_ROUNDS, noteRoundStarted } from './jobs.js'
import { onOpened, openRound } from './opening.js'
import { type ChainEligibilityPolicy, chainEligibilityPolicy } from './policy.js'
import type { SettlementChain, SettlementParticipant, SettlementParticipantEvents } from './ports.js'
import { onCancelled, startRefunding } from './refunding.js'
import { roundKey } from './rules.js'
import { onSlashed } from './slashing.js'
import type { Settlement, SettlementEvents, SettlementInit, SettlementStats } from './types.js'
import { onSettled, onVote, vote } from './voting.js'
import { createChainWatcher } from './watcher.js'

export type { ProtocolRoundOf, Settlement, SettlementEvents, SettlementInit, SettlementStats } from './types.js'

class NodeSettlement extends TypedEventEmitter<SettlementEvents> implements Settlement {
  readonly policy: ChainEligibilityPolicy
  readonly jobPolicy: ChainJobPolicy
  private readonly ctx: SettlementContext
  private readonly unfunded = new Map<string, number>()
  private chainPolicy: ChainEligibilityPolicy | undefined
  private readonly offs: Array<() => void> = []
  private started = false

  constructor(init: SettlementInit) {
    super()
    const ctx = createSettlementContext(init, (type, detail) => this.safeDispatchEvent(type, { detail }))
    this.ctx = ctx
    this.jobPolicy = createChainJobPolicy(ctx)
    const roleTiers = init.roleTiers ?? DEFAULT_ROLE_TIERS
    const whenReady = async (): Promise<ChainEligibilityPolicy | undefined> => {
      if (ctx.dir === undefined) {
        const ready = await Promise.race([ctx.ready(), sleep(10_000, undefined, { ref: false }).then(() => undefined)])
        if (ready === undefined || ctx.dir === undefined) {
          ctx.log.warn('chain not reachable yet: nobody can be checked for a committee this round')
          return undefined
        }
      }
      this.chainPolicy ??= chainEligibilityPolicy({
        directory: ctx.dir,
        log: ctx.log,
        roleTiers,
        self: init.self,
        // jobs without allow-lists draw from every registered node: know them first
        synced: async () => {
          await Promise.race([ctx.watcher?.whenSynced(), sleep(5_000, undefined, { ref: false })])
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
    return this.ctx.dir
  }

  get down(): boolean {
    return this.ctx.watcher?.down === true
  }

  ready(): Promise<SettlementChain | undefined> {
    return this.ctx.ready()
  }

  stats(): SettlementStats {
    const { settledByMe, claimedRounds, claimedAmount, refundedByMe, refundedAmount } = this.ctx
    return {
      settled: settledByMe.size,
      claimed: { rounds: claimedRounds, amount: claimedAmount },
      refunded: { rounds: refundedByMe.size, amount: refundedAmount },
    }
  }

  async start(participant: SettlementParticipant): Promise<void> {
    if (this.started) return
    this.started = true
    const ctx = this.ctx
    const self = ctx.init.self
    this.offs.push(ctx.init.gossip.subscribe((v) => ctx.track(onVote(ctx, v))))
    const listen = <K extends keyof SettlementParticipantEvents>(
      type: K,
      fn: (detail: SettlementParticipantEvents[K]['detail']) => void,
    ) => {
      const h = (e: SettlementParticipantEvents[K]): void => fn(e.detail)
      participant.addEventListener(type, h)
      this.offs.push(() => participant.removeEventListener(type, h))
    }
    listen('job:joined', (d) => {
      if (d.creator !== self) return
      ctx.createdJobs.add(d.jobId)
      if (d.spec?.roundDeadlineMs !== undefined) bounded(ctx.jobDeadlines).set(d.jobId, d.spec.roundDeadlineMs)
    })
    listen('round:started', (d) => {
      bounded(ctx.attempts).set(`${d.jobId}:${d.round}`, d.attempt)
      bounded(ctx.keys).set(roundKey(d.jobId, d.round, d.attempt), {
        jobId: d.jobId,
        round: d.round,
        attempt: d.attempt,
      })
      if (ctx.createdJobs.has(d.jobId)) ctx.track(openRound(ctx, d))
      else noteRoundStarted(ctx, this.unfunded, d, ctx.init.maxUnfundedRounds ?? DEFAULT_MAX_UNFUNDED_ROUNDS)
    })
    if (ctx.settleEnabled) {
      listen('result:published', (r) => {
        if (r.aggregator === self) ctx.track(vote(ctx, r))
      })
      listen('round:completed', (d) => {
        if (d.contributions.some((c) => c.trainer === self)) ctx.track(claim(ctx, d))
      })
    }
    listen('committee:disagreement', (d) => {
      ctx.log.warn(
        `committee member …${d.member.slice(-6)} signed model ${d.claimed.slice(0, 12)} for round ${d.round + 1}, not the majority's${ctx.slashEnabled ? ': its signed chain vote, if held, is evidence for slashing once the round settles' : ''}`,
      )
    })
    ctx.track(
      Promise.resolve(ctx.init.chain).then(
        (chain) => this.follow(chain),
        () => ctx.resolveReady(undefined),
      ),
    )
  }

  /** Follows the chain's events once connected. */
  private follow(chain: SettlementChain | undefined): void {
    const ctx = this.ctx
    if (chain === undefined || ctx.abort.signal.aborted) {
      ctx.resolveReady(undefined)
      return
    }
    ctx.chain = chain
    if (chain.serial !== undefined) ctx.serial = (send) => (chain.serial as NonNullable<typeof chain.serial>)(send)
    ctx.dir = createChainDirectory(
      chain.vain,
      ctx.init.claimedAddressOf === undefined ? {} : { claimedAddressOf: ctx.init.claimedAddressOf },
    )
    ctx.watcher = createChainWatcher(chain.vain, {
      log: ctx.log,
      pollMs: ctx.init.pollMs ?? 500,
      fromBlock: ctx.init.fromBlock ?? 0n,
      ...(chain.rpcUrl !== undefined ? { rpcUrl: chain.rpcUrl } : {}),
      handlers: {
        opened: (r) => onOpened(ctx, r),
        settled: (r) => onSettled(ctx, r),
        claimed: (r) => onClaimed(ctx, r),
        cancelled: (r) => onCancelled(ctx, r),
        slashed: (e) => onSlashed(ctx, e),
        registered: (address, peerId) => ctx.dir?.noteRegistration(address, peerId),
        down: (error) => ctx.emit('chain:down', { error }),
        up: () => ctx.emit('chain:up', {}),
      },
    })
    ctx.watcher.start()
    startRefunding(ctx)
    ctx.resolveReady(chain)
  }

  async stop(): Promise<void> {
    const ctx = this.ctx
    ctx.abort.abort()
    for (const off of this.offs.splice(0)) off()
    await ctx.watcher?.stop()
    ctx.resolveReady(undefined)
    await Promise.allSettled([...ctx.tasks])
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
