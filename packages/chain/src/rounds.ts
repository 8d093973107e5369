/**
 * Round settlement helpers: the result a committee signs ({@link RoundResult}), its EIP-712
 * typed data, signer recovery and ordering (the contract wants ascending signers), the quorum of
 * a committee, and deterministic stake-weighted committee selection seeded by the previous
 * model hash.
 *
 * @example
 * ```ts
 * import { buildRewardTree, roundResultFrom, selectCommittee } from '@vain/chain'
 *
 * const committee = selectCommittee(candidates, { size: 3, seed: previousModelHash })
 * const tree = buildRewardTree(roundId, contributions)
 * const result = roundResultFrom(roundId, newModelHash, tree)
 * const signatures = await Promise.all(members.map((m) => m.rounds.signResult(result)))
 * await vain.rounds.settle(result, signatures)
 * ```
 * @module
 */
import { type Address, encodePacked, getAddress, type Hex, hexToBigInt, keccak256, recoverTypedDataAddress } from 'viem'
import { InvalidInputError } from './errors.js'
import type { RewardTree } from './merkle.js'

/** What committee members sign for a round (the contract's `RoundResult`). */
export interface RoundResult {
  roundId: bigint
  /** Hash of the new global model. */
  modelHash: Hex
  /** Root of the reward tree. */
  rewardsRoot: Hex
  /** Sum of rewards, at most the round's pool; the rest returns to the funder. */
  totalReward: bigint
  /** Number of accepted contributions. */
  contributions: number
}

/** Where a result is settled. */
export interface RoundDomain {
  chainId: number
  roundManager: Address
}

/** The EIP-712 types of {@link RoundResult}. */
export const ROUND_RESULT_TYPES = {
  RoundResult: [
    { name: 'roundId', type: 'uint256' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'rewardsRoot', type: 'bytes32' },
    { name: 'totalReward', type: 'uint256' },
    { name: 'contributions', type: 'uint32' },
  ],
} as const

/** The result for `roundId` with the new model hash and a reward tree. */
export function roundResultFrom(roundId: bigint, modelHash: Hex, tree: RewardTree): RoundResult {
  if (tree.roundId !== roundId) throw new InvalidInputError(`reward tree is for round ${tree.roundId}, not ${roundId}`)
  return { roundId, modelHash, rewardsRoot: tree.root, totalReward: tree.totalReward, contributions: tree.size }
}

/** EIP-712 typed data for `signTypedData` / `recoverTypedDataAddress`. */
export function roundResultTypedData(result: RoundResult, domain: RoundDomain) {
  return {
    domain: {
      name: 'vAIn RoundManager',
      version: '1',
      chainId: domain.chainId,
      verifyingContract: domain.roundManager,
    },
    types: ROUND_RESULT_TYPES,
    primaryType: 'RoundResult' as const,
    message: result,
  }
}

/** The address that signed `result`. */
export function recoverResultSigner(result: RoundResult, signature: Hex, domain: RoundDomain): Promise<Address> {
  return recoverTypedDataAddress({ ...roundResultTypedData(result, domain), signature })
}

/**
 * Orders signatures by ascending signer address and drops duplicate signers, as `settle` needs.
 */
export async function orderSignatures(
  result: RoundResult,
  signatures: readonly Hex[],
  domain: RoundDomain,
): Promise<Hex[]> {
  const signed = await Promise.all(
    signatures.map(async (signature) => ({
      signature,
      signer: hexToBigInt(await recoverResultSigner(result, signature, domain)),
    })),
  )
  signed.sort((a, b) => (a.signer < b.signer ? -1 : a.signer > b.signer ? 1 : 0))
  return signed.filter((s, i) => i === 0 || s.signer !== signed[i - 1]!.signer).map((s) => s.signature)
}

/** The smallest majority of a committee of `size`. */
export function quorumFor(size: number): number {
  return Math.floor(size / 2) + 1
}

/** A candidate for a committee. */
export interface CommitteeCandidate {
  address: Address
  /** Weight of the draw (its stake). */
  stake: bigint
}

/**
 * Picks `size` distinct members from `candidates`, stake-weighted, deterministically from `seed`
 * (e.g. the previous round's model hash): every node computes the same committee. Candidates are
 * sorted by address first, so their order does not matter. Returns fewer if there are fewer
 * candidates with stake.
 */
export function selectCommittee(
  candidates: readonly CommitteeCandidate[],
  options: { size: number; seed: Hex },
): Address[] {
  const pool = [
    ...new Map(candidates.filter((c) => c.stake > 0n).map((c) => [getAddress(c.address), c.stake])).entries(),
  ]
    .map(([address, stake]) => ({ address, stake }))
    .sort((a, b) => (hexToBigInt(a.address) < hexToBigInt(b.address) ? -1 : 1))
  const picked: Address[] = []
  for (let draw = 0; picked.length < options.size && pool.length > 0; draw++) {
    const total = pool.reduce((sum, c) => sum + c.stake, 0n)
    let ticket = hexToBigInt(keccak256(encodePacked(['bytes32', 'uint256'], [options.seed, BigInt(draw)]))) % total
    const index = pool.findIndex((c) => {
      if (ticket < c.stake) return true
      ticket -= c.stake
      return false
    })
    picked.push(pool[index]!.address)
    pool.splice(index, 1)
  }
  return picked
}
