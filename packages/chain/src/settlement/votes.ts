/**
 * Settlement votes: a committee member's EIP-712 signature over the result it aggregated,
 * gossiped to the other members (topic `vain/settle/1`), validated with zod off the wire and
 * checked against its claimed signer before it counts.
 * @module
 */
import { type Address, getAddress, type Hex } from 'viem'
import { z } from 'zod'
import { recoverResultSigner, type SettlementDomain, type SettlementResult } from '../rounds.js'
import { InvalidSettleVoteError } from './errors.js'

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/)
const uint = z.string().regex(/^\d{1,78}$/)

/**
 * A committee member's signature over its result for a chain round, as gossiped (strict: unknown
 * fields are refused). Amounts and ids are decimal strings.
 *
 * @example
 * ```ts
 * const parsed = SettleVoteSchema.safeParse(JSON.parse(text))
 * if (parsed.success) console.log(parsed.data.signer)
 * ```
 */
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

/**
 * A settlement vote (see {@link SettleVoteSchema}).
 *
 * @example
 * ```ts
 * gossip.subscribe((vote: SettleVote) => console.log(vote.signer, vote.result.modelHash))
 * ```
 */
export type SettleVote = z.output<typeof SettleVoteSchema>

/**
 * Which protocol round a vote is for.
 *
 * @example
 * ```ts
 * const round: SettleVoteRound = { jobId, round: 0, attempt: 0 }
 * ```
 */
export interface SettleVoteRound {
  jobId: string
  round: number
  attempt: number
}

/**
 * The vote that carries `signature`, by `signer`, over `result` for a protocol round.
 *
 * @example
 * ```ts
 * const vote = settleVoteOf({ jobId, round: 0, attempt: 0 }, result, vain.account!, await vain.rounds.signResult(result))
 * await gossip.publish(vote)
 * ```
 */
export function settleVoteOf(
  round: SettleVoteRound,
  result: SettlementResult,
  signer: Address,
  signature: Hex,
  sentAt = Date.now(),
): SettleVote {
  return {
    v: 1,
    jobId: round.jobId,
    round: round.round,
    attempt: round.attempt,
    result: {
      roundId: String(result.roundId),
      modelHash: result.modelHash,
      rewardsRoot: result.rewardsRoot,
      totalReward: String(result.totalReward),
      contributions: result.contributions,
    },
    signer,
    signature,
    sentAt,
  }
}

/**
 * The result a vote is over.
 *
 * @example
 * ```ts
 * const result = settlementResultOfVote(vote) // { roundId: 7n, modelHash, rewardsRoot, totalReward: 30n, contributions: 3 }
 * ```
 */
export function settlementResultOfVote(vote: SettleVote): SettlementResult {
  return {
    roundId: BigInt(vote.result.roundId),
    modelHash: vote.result.modelHash as Hex,
    rewardsRoot: vote.result.rewardsRoot as Hex,
    totalReward: BigInt(vote.result.totalReward),
    contributions: vote.result.contributions,
  }
}

/**
 * Validates a vote received from a peer: its shape, and that its signature over its result
 * (in `domain`) recovers its claimed signer.
 *
 * @throws {@link InvalidSettleVoteError} when it is malformed, its signature does not recover, or
 * it recovers another address than `signer`.
 * @example
 * ```ts
 * const { result, signer, signature } = await verifySettleVote(vote, { chainId, roundManager })
 * ```
 */
export async function verifySettleVote(
  vote: unknown,
  domain: SettlementDomain,
): Promise<{ vote: SettleVote; result: SettlementResult; signer: Address; signature: Hex }> {
  const parsed = SettleVoteSchema.safeParse(vote)
  if (!parsed.success) {
    throw new InvalidSettleVoteError('malformed settlement vote', {
      cause: parsed.error,
      details: parsed.error.message,
    })
  }
  const result = settlementResultOfVote(parsed.data)
  const signer = getAddress(parsed.data.signer)
  const signature = parsed.data.signature as Hex
  let recovered: Address
  try {
    recovered = getAddress(await recoverResultSigner(result, signature, domain))
  } catch (err) {
    throw new InvalidSettleVoteError(`settlement vote of ${signer} has an unreadable signature`, { cause: err })
  }
  if (recovered !== signer) {
    throw new InvalidSettleVoteError(`settlement vote claims signer ${signer} but was signed by ${recovered}`)
  }
  return { vote: parsed.data, result, signer, signature }
}
