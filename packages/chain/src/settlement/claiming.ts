/**
 * Claiming: each trainer whose update was accepted waits for the round's settlement, rebuilds the
 * reward tree the committee signed, checks it against the settled root and claims its reward and
 * reputation with its Merkle proof; and the `reward:claimed` event for every claim on chain.
 * @module
 */
import type { Contribution } from '@vain/fl/round'
import { formatVain } from '../format.js'
import { isRevert, protocolRoundOf, rewardTree, type SettlementContext } from './context.js'
import { modelHashOf, roundKey } from './rules.js'
import type { ClaimedReward } from './watcher.js'

/** As a trainer whose update was accepted: wait for the settlement and claim the reward. */
export async function claim(
  ctx: SettlementContext,
  d: { jobId: string; round: number; model: string; contributions: Contribution[] },
): Promise<void> {
  const chain = await ctx.ready()
  const watcher = ctx.watcher
  const account = chain?.vain.account
  if (chain === undefined || account === undefined || watcher === undefined) return
  const attempt = ctx.attempts.get(`${d.jobId}:${d.round}`) ?? 0
  const opened = await watcher.waitOpened(roundKey(d.jobId, d.round, attempt), 30_000)
  if (opened === undefined) return // no chain round for it (the creator does not open rounds)
  const settled = await watcher.waitSettledModel(modelHashOf(d.model), 120_000)
  if (settled === undefined) {
    if (!ctx.abort.signal.aborted) {
      ctx.log.warn(`round ${d.round + 1} was not settled on chain within 120 s: reward not claimed`)
    }
    return
  }
  const round = watcher.opened(settled.roundId) ?? (await chain.vain.rounds.roundOf(settled.roundId))
  const tree = await rewardTree(ctx, settled.roundId, d.contributions, round)
  if (tree === undefined || tree.root.toLowerCase() !== settled.rewardsRoot.toLowerCase()) {
    ctx.log.warn(`round ${d.round + 1}: the settled rewards root differs from this node's tree, cannot claim`)
    return
  }
  if (await chain.vain.rounds.isClaimed(settled.roundId, account)) return
  const claim = tree.claimFor(account)
  try {
    await ctx.serial(() => chain.vain.rounds.claim(claim))
  } catch (err) {
    if (isRevert(err, 'AlreadyClaimed')) return
    throw err
  }
  ctx.claimedRounds += 1
  ctx.claimedAmount += claim.amount
  ctx.dir?.invalidate(account)
  ctx.log.info(`claimed ${formatVain(claim.amount)} and +${claim.reputationGain} reputation for round ${d.round + 1}`, {
    roundId: String(settled.roundId),
  })
}

/** A reward was claimed on chain (by anyone): emits `reward:claimed`. */
export function onClaimed(ctx: SettlementContext, r: ClaimedReward): void {
  ctx.emit('reward:claimed', {
    ...r,
    ...protocolRoundOf(ctx, r.roundId),
    byMe: r.account === ctx.chain?.vain.account,
  })
}
