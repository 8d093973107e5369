/**
 * Slashing: once a round is settled, members of its quorum submit the signatures of committee
 * members who signed another result ({@link dissentEvidence}) to `slashDissenter`; and the
 * `dissenter:slashed` event (logged louder when this node is the one slashed).
 * @module
 */
import { formatVain, shortAddress } from '../format.js'
import { firstLine, isRevert, type RoundVotes, type SettlementContext } from './context.js'
import { dissentEvidence } from './rules.js'
import type { SettledRound, SlashedDissenter } from './watcher.js'

/** Members of the quorum slash committee members who signed another result for a settled round. */
export async function maybeSlash(ctx: SettlementContext, settled: SettledRound, entry: RoundVotes): Promise<void> {
  const chain = ctx.chain
  const opened = ctx.watcher?.opened(settled.roundId)
  if (!ctx.slashEnabled || chain === undefined || opened === undefined) return
  const mine = entry.mine === undefined ? undefined : entry.groups.get(entry.mine)?.result
  const votes = [...entry.groups.values()].flatMap((g) =>
    [...g.signatures].map(([signer, signature]) => ({ result: g.result, signer, signature })),
  )
  for (const evidence of dissentEvidence(settled, mine, votes, opened.committee)) {
    const member = evidence.signer
    if (entry.slashed.has(member)) continue
    entry.slashed.add(member)
    try {
      await ctx.serial(() => chain.vain.rounds.slashDissenter(evidence.result, evidence.signature))
      ctx.log.warn(
        `slashed committee member ${shortAddress(member)}: it signed model ${evidence.result.modelHash.slice(0, 14)} for round ${entry.round + 1}, the quorum settled ${settled.modelHash.slice(0, 14)}`,
      )
    } catch (err) {
      if (!isRevert(err, 'AlreadySlashed', 'NotADissent')) {
        ctx.log.warn('cannot slash a dissenting committee member', { member, error: firstLine(err) })
      }
    }
  }
}

/** A committee member was slashed on chain: logs it and emits `dissenter:slashed`. */
export function onSlashed(ctx: SettlementContext, e: SlashedDissenter): void {
  if (e.member === ctx.chain?.vain.account) {
    ctx.log.warn(
      `this node was slashed ${formatVain(e.slashed)} on chain: it signed another result than its committee's quorum`,
      { roundId: String(e.roundId) },
    )
  } else {
    ctx.log.info(`committee member ${shortAddress(e.member)} slashed ${formatVain(e.slashed)} on chain`, {
      roundId: String(e.roundId),
    })
  }
  ctx.emit('dissenter:slashed', e)
}
