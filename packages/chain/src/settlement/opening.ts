/**
 * Opening chain rounds: the creator of a job, when its account may open rounds (OPENER role),
 * opens and funds one chain round per protocol round at its start, with the round's committee
 * and quorum ({@link settleQuorum}), under {@link roundKey}, with a deadline that fits the round
 * ({@link chainRoundSeconds}); and the `round:opened` event for every round the chain reports
 * opened. A round this node funded that is not settled by its deadline is refunded
 * (`refunding.ts`).
 * @module
 */
import type { Address, Hex } from 'viem'
import { shortAddress } from '../format.js'
import { VAIN_ROLES } from '../roles.js'
import { firstLine, type SettlementContext } from './context.js'
import { chainRoundSeconds, roundKey, settleQuorum } from './rules.js'
import type { OpenedRound } from './watcher.js'

/** As the job's creator (with the OPENER role): open and fund the chain round of a protocol round. */
export async function openRound(
  ctx: SettlementContext,
  d: { jobId: string; round: number; attempt: number; committee: string[] },
): Promise<void> {
  const chain = await ctx.ready()
  const directory = ctx.dir
  if (chain === undefined || directory === undefined || chain.vain.account === undefined || d.committee.length === 0)
    return
  const self = chain.vain.account
  ctx.canOpen ??= chain.vain.contracts.roundManager.read.hasRole([VAIN_ROLES.OPENER, self]).catch(() => false)
  if (!(await ctx.canOpen)) {
    if (!ctx.noRoundReported.has(d.jobId)) {
      ctx.noRoundReported.add(d.jobId)
      ctx.log.info(
        `this node created job ${d.jobId.slice(0, 12)} but its account ${shortAddress(self)} may not open rounds on chain (no OPENER role): its rounds will not be settled`,
      )
    }
    return
  }
  const members = await Promise.all(d.committee.map((p) => directory.addressOf(p)))
  if (members.some((m) => m === undefined)) {
    ctx.log.warn(`cannot open round ${d.round + 1} on chain: a committee member is not registered`)
    return
  }
  const pool = ctx.pool
  const key = roundKey(d.jobId, d.round, d.attempt)
  ctx.openedByMe.add(key)
  const seconds = ctx.init.roundDeadlineSeconds ?? chainRoundSeconds(ctx.jobDeadlines.get(d.jobId))
  try {
    const opened = await ctx.serial(async () => {
      const { vain } = chain
      if (pool > 0n && (await vain.token.allowance(self, vain.addresses.roundManager)) < pool) {
        await vain.token.approve(vain.addresses.roundManager, pool * 1000n)
      }
      const block = await vain.publicClient.getBlock()
      return vain.rounds.open({
        jobId: key,
        committee: members as Address[],
        quorum: settleQuorum(members.length),
        deadline: block.timestamp + BigInt(seconds),
        rewardPool: pool,
      })
    })
    ctx.fundedByMe.add(opened.roundId)
  } catch (err) {
    ctx.openedByMe.delete(key)
    if (!ctx.abort.signal.aborted) ctx.log.warn(`cannot open round ${d.round + 1} on chain`, { error: firstLine(err) })
  }
}

/** A chain round was opened (by anyone): emits `round:opened`. */
export function onOpened(ctx: SettlementContext, r: OpenedRound): void {
  if (ctx.openedKeys.size >= 4_096) ctx.openedKeys.delete(ctx.openedKeys.values().next().value as Hex)
  ctx.openedKeys.add(r.key)
  const k = ctx.keys.get(r.key)
  ctx.emit('round:opened', { ...r, jobId: k?.jobId, round: k?.round, byMe: ctx.openedByMe.has(r.key) })
}
