/**
 * Refunding: every chain round is settled or refunded. A round whose committee did not settle it
 * by its deadline — an attempt of a protocol round that failed and was retried under a new
 * attempt (a new committee, so a new chain round), a round whose job stopped, a committee that
 * never reached its quorum — keeps its pool locked in the RoundManager until someone calls
 * `cancelExpired`. The node of the round's funder does so: at each sweep it looks at the rounds
 * the chain reports opened and not settled or cancelled, and cancels those past their deadline
 * that its account funded, which sends their pool back to it. Only after the deadline: a funder
 * who could cancel earlier could dodge paying for a round whose committee already signed.
 * @module
 */
import { getAddress } from 'viem'
import { formatVain } from '../format.js'
import { firstLine, isRevert, protocolRoundOf, type SettlementContext } from './context.js'
import type { CancelledRound } from './watcher.js'

/** How often the funder's node looks for its rounds past their deadline (ms). */
export const REFUND_SWEEP_MS = 5_000

/**
 * As the funder of chain rounds: cancel (refund) each round this node's account funded that is
 * past its deadline and neither settled nor cancelled. Rounds opened before this node started are
 * read once to learn their funder. Returns the rounds it refunded.
 */
export async function refundExpired(ctx: SettlementContext): Promise<bigint[]> {
  const chain = ctx.chain
  const watcher = ctx.watcher
  const account = chain?.vain.account
  if (chain === undefined || watcher === undefined || account === undefined) return []
  const candidates = watcher.openRounds().filter((r) => !ctx.fundedByOthers.has(r.roundId))
  if (candidates.length === 0) return []
  // the contract compares the deadline with the time of the block the cancellation goes into:
  // at least the latest block's (a chain whose clock was moved on), at least this machine's
  // clock (a chain that mines a block only for a transaction); a cancellation sent too early
  // reverts with RoundNotExpired and waits for the next sweep
  const latest = (await chain.vain.publicClient.getBlock()).timestamp
  const wall = BigInt(Math.floor(Date.now() / 1000))
  const now = latest > wall ? latest : wall
  const refunded: bigint[] = []
  for (const r of candidates) {
    if (ctx.abort.signal.aborted) break
    if (r.deadline >= now) continue
    if (!ctx.fundedByMe.has(r.roundId)) {
      const info = await chain.vain.rounds.roundOf(r.roundId)
      if (getAddress(info.funder) !== getAddress(account)) {
        if (ctx.fundedByOthers.size >= 4_096) ctx.fundedByOthers.clear()
        ctx.fundedByOthers.add(r.roundId)
        continue
      }
      ctx.fundedByMe.add(r.roundId)
      if (info.status !== 'open') continue
    }
    ctx.refundedByMe.add(r.roundId)
    try {
      await ctx.serial(() => chain.vain.rounds.cancelExpired(r.roundId))
    } catch (err) {
      ctx.refundedByMe.delete(r.roundId)
      // settled or cancelled meanwhile (the watcher has not seen it yet), or the chain's clock
      // has not passed the deadline in the block the transaction went into: the next sweep sees
      if (isRevert(err, 'WrongRoundStatus', 'RoundNotExpired')) continue
      throw err
    }
    ctx.refundedAmount += r.rewardPool
    refunded.push(r.roundId)
    const { round } = protocolRoundOf(ctx, r.roundId)
    ctx.log.info(
      `refunded chain round #${r.roundId}${round === undefined ? '' : ` (round ${round + 1})`}: not settled by its deadline, ${formatVain(r.rewardPool)} back to this node's account`,
    )
  }
  return refunded
}

/**
 * Sweeps with {@link refundExpired} every `everyMs` until `ctx` is stopped (one sweep at a time;
 * a failed sweep is logged and retried at the next).
 */
export function startRefunding(ctx: SettlementContext, everyMs = REFUND_SWEEP_MS): void {
  let running = false
  const timer = setInterval(() => {
    if (running || ctx.abort.signal.aborted) return
    running = true
    ctx.track(
      refundExpired(ctx)
        .catch((err: unknown) => {
          if (!ctx.abort.signal.aborted) ctx.log.warn('refunding expired rounds failed', { error: firstLine(err) })
        })
        .finally(() => {
          running = false
        }),
    )
  }, everyMs)
  timer.unref?.()
  ctx.abort.signal.addEventListener('abort', () => clearInterval(timer), { once: true })
}

/** A chain round was cancelled (by anyone): emits `round:refunded`. */
export function onCancelled(ctx: SettlementContext, r: CancelledRound): void {
  ctx.emit('round:refunded', {
    ...r,
    ...protocolRoundOf(ctx, r.roundId),
    byMe: ctx.refundedByMe.has(r.roundId),
    fundedByMe: ctx.fundedByMe.has(r.roundId),
  })
}
