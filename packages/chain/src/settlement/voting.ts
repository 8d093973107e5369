/**
 * Voting and settling: each committee member signs (EIP-712) the result it aggregated — the
 * model's hash ({@link modelHashOf}) and the root of the reward tree — and gossips the signature;
 * votes received are checked ({@link verifySettleVote}) and grouped by result. Once a quorum
 * signed this node's result, the first of them by address submits `settle` at once, the others
 * later if the round is still open ({@link settlePlan}). A settled round emits `round:settled`
 * and hands the votes held to slashing.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Contribution } from '@vain/fl/round'
import type { Hex } from 'viem'
import { formatVain } from '../format.js'
import { type SettlementDomain, settlementResultFrom } from '../rounds.js'
import {
  bounded,
  isRevert,
  protocolRoundOf,
  type RoundVotes,
  rewardTree,
  type SettlementContext,
  type VoteGroup,
} from './context.js'
import { InvalidSettleVoteError } from './errors.js'
import type { SettlementChain } from './ports.js'
import { modelHashOf, roundKey, type SignedResult, settlementResultKey, settlePlan } from './rules.js'
import { maybeSlash } from './slashing.js'
import { type SettleVote, settleVoteOf, verifySettleVote } from './votes.js'
import type { SettledRound } from './watcher.js'

/** The EIP-712 domain votes are signed in (read once per connection; again after a failed read). */
function roundDomain(ctx: SettlementContext, chain: SettlementChain): Promise<SettlementDomain> {
  ctx.domain ??= chain.vain.publicClient
    .getChainId()
    .then((chainId) => ({ chainId, roundManager: chain.vain.addresses.roundManager }))
  ctx.domain.catch(() => {
    ctx.domain = undefined
  })
  return ctx.domain
}

/** As a committee member: sign the result this node aggregated and gossip the signature. */
export async function vote(
  ctx: SettlementContext,
  r: { jobId: string; round: number; attempt: number; newModel: string; contributions: Contribution[] },
): Promise<void> {
  const chain = await ctx.ready()
  const account = chain?.vain.account
  if (chain === undefined || account === undefined || ctx.watcher === undefined) return
  const key = roundKey(r.jobId, r.round, r.attempt)
  bounded(ctx.keys).set(key, { jobId: r.jobId, round: r.round, attempt: r.attempt })
  const opened = await ctx.watcher.waitOpened(key, 30_000)
  if (opened === undefined) {
    if (!ctx.noRoundReported.has(r.jobId) && !ctx.abort.signal.aborted) {
      ctx.noRoundReported.add(r.jobId)
      ctx.log.info(
        `no round opened on chain for job ${r.jobId.slice(0, 12)} (the job's creator opens and funds them): nothing to settle`,
      )
    }
    return
  }
  if (!opened.committee.includes(account)) {
    ctx.log.debug('not on the chain committee of this round', { roundId: String(opened.roundId) })
    return
  }
  const tree = await rewardTree(ctx, opened.roundId, r.contributions, opened)
  if (tree === undefined) {
    ctx.log.info(`round ${r.round + 1}: no accepted contribution from a registered node, nothing to settle`)
    return
  }
  const result = settlementResultFrom(opened.roundId, modelHashOf(r.newModel), tree)
  const signature = await chain.vain.rounds.signResult(result)
  const vote = settleVoteOf(r, result, account, signature)
  ctx.emit('vote:signed', { jobId: r.jobId, round: r.round, roundId: opened.roundId, modelHash: result.modelHash })
  await addVote(ctx, { vote, result, signer: account, signature }, true)
  // gossip it; again a little later while the round is still open (a peer may have missed it)
  for (const wait of [0, 4_000, 12_000]) {
    if (wait > 0) {
      try {
        await sleep(wait, undefined, { signal: ctx.abort.signal })
      } catch {
        return
      }
    }
    if (ctx.watcher?.settled(opened.roundId) !== undefined) return
    await ctx.init.gossip.publish({ ...vote, sentAt: Date.now() }).catch(() => {})
  }
}

/** A vote gossiped by another node: checked, then counted (dropped, logged at debug, when invalid). */
export async function onVote(ctx: SettlementContext, vote: SettleVote): Promise<void> {
  const chain = await ctx.ready()
  if (chain === undefined) return
  let checked: Awaited<ReturnType<typeof verifySettleVote>>
  try {
    checked = await verifySettleVote(vote, await roundDomain(ctx, chain))
  } catch (err) {
    if (!(err instanceof InvalidSettleVoteError)) throw err
    ctx.log.debug('dropped a settlement vote', { error: err.shortMessage })
    return
  }
  await addVote(ctx, checked, false)
}

/** Counts a checked vote (this node's when `mine`), then settles or slashes if it is time to. */
async function addVote(
  ctx: SettlementContext,
  signed: SignedResult & { vote: SettleVote },
  mine: boolean,
): Promise<void> {
  if (ctx.chain === undefined) return
  const { vote, result, signer, signature } = signed
  const id = vote.result.roundId
  let entry = ctx.votes.get(id)
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
    ctx.votes.set(id, entry)
    if (ctx.votes.size > 512) ctx.votes.delete(ctx.votes.keys().next().value as string)
  }
  const key = settlementResultKey(result)
  let group = entry.groups.get(key)
  if (group === undefined) {
    group = { result, signatures: new Map() }
    entry.groups.set(key, group)
  }
  group.signatures.set(signer, signature)
  if (mine) entry.mine = key
  maybeSettle(ctx, result.roundId, entry)
  const settled = ctx.watcher?.settled(result.roundId)
  if (settled !== undefined) await maybeSlash(ctx, settled, entry)
}

/** Once a quorum signed this node's result: settle (first signer by address at once, others later). */
function maybeSettle(ctx: SettlementContext, roundId: bigint, entry: RoundVotes): void {
  const chain = ctx.chain
  const account = chain?.vain.account
  const opened = ctx.watcher?.opened(roundId)
  if (chain === undefined || account === undefined || opened === undefined || entry.mine === undefined) return
  if (entry.settling || ctx.watcher?.settled(roundId) !== undefined) return
  const group = entry.groups.get(entry.mine) as VoteGroup
  const plan = settlePlan(group.signatures.keys(), opened, account)
  if (plan === undefined) return
  entry.settling = true
  ctx.track(
    (async () => {
      if (plan.delayMs > 0) await sleep(plan.delayMs, undefined, { signal: ctx.abort.signal })
      if (ctx.watcher?.settled(roundId) !== undefined) return
      await ctx.watcher?.poll()
      if (ctx.watcher?.settled(roundId) !== undefined) return
      ctx.settledByMe.add(roundId)
      try {
        await ctx.serial(() =>
          chain.vain.rounds.settle(
            group.result,
            plan.signers.map((s) => group.signatures.get(s) as Hex),
          ),
        )
        ctx.log.info(`settled round ${entry.round + 1} on chain`, {
          roundId: String(roundId),
          model: group.result.modelHash.slice(0, 14),
          signatures: plan.signers.length,
          rewards: formatVain(group.result.totalReward),
        })
      } catch (err) {
        ctx.settledByMe.delete(roundId)
        if (isRevert(err, 'WrongRoundStatus')) return // another member was first
        entry.settling = false
        throw err
      }
    })(),
  )
}

/** A chain round was settled (by anyone): emits `round:settled`, then slashes dissenters among the votes held. */
export function onSettled(ctx: SettlementContext, r: SettledRound): void {
  const entry = ctx.votes.get(String(r.roundId))
  ctx.emit('round:settled', { ...r, ...protocolRoundOf(ctx, r.roundId), byMe: ctx.settledByMe.has(r.roundId) })
  if (entry !== undefined) ctx.track(maybeSlash(ctx, r, entry))
}
