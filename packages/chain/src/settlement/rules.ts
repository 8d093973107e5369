/**
 * The consensus rules of settlement, as pure functions: every node computes them identically
 * from the same inputs, so the committee agrees on one result, one settler and one reward tree
 * without talking about it.
 * @module
 */
import { majority } from '@vain/fl/round'
import { CID } from 'multiformats/cid'
import { type Address, bytesToHex, encodeAbiParameters, getAddress, type Hex, keccak256 } from 'viem'
import type { RewardLeaf } from '../merkle.js'
import type { SettlementResult } from '../rounds.js'
import { InvalidModelAddressError } from './errors.js'

/**
 * The chain round key of a protocol round: `keccak256(abi.encode(bytes32 jobId, uint256 round, uint256 attempt))`.
 * A job's creator opens one chain round under this key per protocol round (and per attempt of it).
 *
 * @example
 * ```ts
 * const key = roundKey(jobId, 0, 0) // the `jobId` field of the chain round opened for round 1
 * ```
 */
export function roundKey(jobId: string, round: number, attempt: number): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'uint256' }],
      [`0x${jobId}`, BigInt(round), BigInt(attempt)],
    ),
  )
}

const SHA2_256 = 0x12
const HEX64 = /^[0-9a-f]{64}$/

/**
 * The `modelHash` (bytes32) that goes on chain for a model address: the sha2-256 digest it
 * names. A 64-hex address (a plain sha256) is that digest; a CID (e.g. `bafkrei…`, as
 * `@vain/memory` addresses blobs) must carry a 32-byte sha2-256 multihash, whose digest it is.
 *
 * @throws {@link InvalidModelAddressError} for anything else.
 * @example
 * ```ts
 * modelHashOf('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08') // '0x9f86…0a08'
 * modelHashOf('bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba')  // '0x9f86…0a08' (the same bytes)
 * ```
 */
export function modelHashOf(modelAddress: string): Hex {
  if (HEX64.test(modelAddress)) return `0x${modelAddress}`
  let cid: CID
  try {
    cid = CID.parse(modelAddress)
  } catch (err) {
    throw new InvalidModelAddressError(modelAddress, 'is neither 64 lowercase hex characters nor a CID', {
      cause: err,
    })
  }
  const { code, digest } = cid.multihash
  if (code !== SHA2_256 || digest.length !== 32) {
    throw new InvalidModelAddressError(
      modelAddress,
      `is a CID whose multihash is not a 32-byte sha2-256 (code 0x${code.toString(16)}, ${digest.length} bytes)`,
    )
  }
  return bytesToHex(digest)
}

/**
 * The quorum of a chain round's committee: the round's own majority (`majority` of `@vain/fl`),
 * which the creator of a job asks for when it opens the round.
 *
 * @example
 * ```ts
 * settleQuorum(3) // 2
 * ```
 */
export function settleQuorum(committeeSize: number): number {
  return majority(committeeSize)
}

/**
 * How much later each member after the first submits `settle`, in its rank's order.
 *
 * @example
 * ```ts
 * settlePlan(signers, round, self)?.delayMs === rank * SETTLE_STAGGER_MS
 * ```
 */
export const SETTLE_STAGGER_MS = 2_500

const ascending = (a: Address, b: Address): number => {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Who settles a result, and when. The committee members among `signers` (one per address),
 * by ascending address, once there are at least `quorum` of them: the first submits `settle` at
 * once, the one of rank `r` after `r ×` {@link SETTLE_STAGGER_MS} if the round is still open
 * by then. `undefined` while below the quorum.
 *
 * @example
 * ```ts
 * const plan = settlePlan([b, a, outsider], { committee: [a, b, c], quorum: 2 }, b)
 * // { signers: [a, b], rank: 1, delayMs: 2500 }  (when a < b)
 * ```
 */
export function settlePlan(
  signers: Iterable<Address>,
  round: { committee: readonly Address[]; quorum: number },
  self: Address,
): { signers: Address[]; rank: number; delayMs: number } | undefined {
  const committee = new Set(round.committee.map((m) => getAddress(m)))
  const ordered = [...new Set([...signers].map((s) => getAddress(s)))].filter((s) => committee.has(s)).sort(ascending)
  if (ordered.length < round.quorum) return undefined
  const rank = Math.max(0, ordered.indexOf(getAddress(self)))
  return { signers: ordered, rank, delayMs: rank * SETTLE_STAGGER_MS }
}

/**
 * An accepted contribution of a registered trainer, as the reward split needs it. What the trainer
 * reports about its data (its sample count) is not part of it: the split never reads it.
 *
 * @example
 * ```ts
 * const share: RewardShare = { account, payloadHash: c.payloadHash }
 * ```
 */
export interface RewardShare {
  /** The trainer's address (its peer id mapped through the NodeRegistry). */
  account: Address
  /**
   * What the leaf commits to (its `commitment`): the accepted update's hash (64 hex, or
   * 0x-prefixed), or for a proven update the digest of its proofs (`Contribution.proofDigest`),
   * which `ProofChallenges` lets anyone challenge.
   */
  payloadHash: string
}

/**
 * The reward each accepted contribution of a round earns: an equal share of `pool`, rounded down
 * (`pool / contributions`; the remainder goes back to the round's funder when it is settled).
 * `RoundManager.claim` refuses any claim above `totalReward / contributions`, which is this share.
 *
 * @example
 * ```ts
 * rewardPerContribution(parseEther('50'), 3) // 16.666666666666666666 VAIN
 * ```
 */
export function rewardPerContribution(pool: bigint, contributions: number): bigint {
  return contributions <= 0 ? 0n : pool / BigInt(contributions)
}

/**
 * The reputation each accepted contribution of a round earns: the round's on-chain cap
 * (`maxReputationGain`, the governor's `maxReputationPerClaim` when the round was opened), or
 * `configured` when it is lower. Every committee member must use the same `configured` (leave it
 * unset: the chain's figure is the network's).
 *
 * @example
 * ```ts
 * reputationPerContribution(10n)      // 10n
 * reputationPerContribution(10n, 25n) // 10n (capped)
 * ```
 */
export function reputationPerContribution(maxReputationGain: bigint, configured?: bigint): bigint {
  return configured === undefined || configured > maxReputationGain ? maxReputationGain : configured
}

/**
 * The reward leaves of a round — the economic model (contracts/README.md, "Rewards"): every
 * accepted contribution earns the same reward ({@link rewardPerContribution}: `pool` split equally,
 * rounded down) and the same `reputationGain`, whatever the trainer reported about its data. One
 * leaf per account, in the order of `shares` (an account listed twice is paid once).
 *
 * @example
 * ```ts
 * rewardLeavesOf([{ account: a, payloadHash: h1 }, { account: b, payloadHash: h2 }], 11n, 10n)
 * // amounts 5n and 5n (1 wei goes back to the funder), reputationGain 10n each
 * ```
 */
export function rewardLeavesOf(shares: readonly RewardShare[], pool: bigint, reputationGain: bigint): RewardLeaf[] {
  const seen = new Set<Address>()
  const unique: RewardShare[] = []
  for (const s of shares) {
    const account = getAddress(s.account)
    if (seen.has(account)) continue
    seen.add(account)
    unique.push({ account, payloadHash: s.payloadHash })
  }
  const amount = rewardPerContribution(pool, unique.length)
  return unique.map((s) => ({
    account: s.account,
    amount,
    reputationGain,
    commitment: (s.payloadHash.startsWith('0x') ? s.payloadHash : `0x${s.payloadHash}`) as Hex,
  }))
}

/**
 * The deadline, in seconds after it is opened, of the chain round of a protocol round whose
 * deadline is `roundDeadlineMs`: long enough for the round (its deadline, then as long again for
 * results), its vote and its settlement — `3 × roundDeadlineMs + 60 s` — and no longer, since the
 * pool of a round that is not settled is locked until then (its funder's node then refunds it).
 * 3,600 s when the round's deadline is not known.
 *
 * @example
 * ```ts
 * chainRoundSeconds(20_000) // 120
 * ```
 */
export function chainRoundSeconds(roundDeadlineMs?: number): number {
  if (roundDeadlineMs === undefined || !Number.isFinite(roundDeadlineMs) || roundDeadlineMs <= 0) return 3_600
  return Math.ceil((3 * roundDeadlineMs) / 1000) + 60
}

/**
 * A key that is equal for two results exactly when they are the same result (the same EIP-712
 * message): what the committee's votes are grouped by.
 *
 * @example
 * ```ts
 * settlementResultKey(mine) === settlementResultKey(settled) // this node signed what was settled
 * ```
 */
export function settlementResultKey(result: SettlementResult): string {
  return [
    result.roundId,
    result.modelHash.toLowerCase(),
    result.rewardsRoot.toLowerCase(),
    result.totalReward,
    result.contributions,
  ].join(':')
}

/**
 * A committee member's verified signature over a result.
 *
 * @example
 * ```ts
 * const { result, signer, signature }: SignedResult = await verifySettleVote(vote, domain)
 * ```
 */
export interface SignedResult {
  result: SettlementResult
  signer: Address
  signature: Hex
}

/**
 * The slashing evidence a node submits once a round is settled: for each committee member, one
 * signature of it over another result than the settled one. Only a node that signed the settled
 * result itself (a member of the quorum) sends evidence; for others this is empty.
 *
 * @example
 * ```ts
 * for (const e of dissentEvidence(settled, mine, votes, opened.committee)) await vain.rounds.slashDissenter(e.result, e.signature)
 * ```
 */
export function dissentEvidence(
  settled: SettlementResult,
  mine: SettlementResult | undefined,
  votes: Iterable<SignedResult>,
  committee: readonly Address[],
): SignedResult[] {
  const settledKey = settlementResultKey(settled)
  if (mine === undefined || settlementResultKey(mine) !== settledKey) return []
  const members = new Set(committee.map((m) => getAddress(m)))
  const evidence = new Map<Address, SignedResult>()
  for (const vote of votes) {
    const member = getAddress(vote.signer)
    if (!members.has(member) || evidence.has(member)) continue
    if (settlementResultKey(vote.result) === settledKey) continue
    evidence.set(member, vote)
  }
  return [...evidence.values()]
}
