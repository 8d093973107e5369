/**
 * The result a committee signs to settle a chain round ({@link SettlementResult}, the contract's
 * EIP-712 `RoundResult`), its typed data, signer recovery and ordering (the contract wants
 * ascending signers). Committee selection and the quorum of a committee are the round's
 * (`selectCommittee`, `majority` in `@vain/fl`); the rules a node follows to settle are in
 * `@vain/chain/settlement`.
 *
 * @example
 * ```ts
 * import { buildRewardTree, settlementResultFrom } from '@vain/chain'
 *
 * const tree = buildRewardTree(roundId, leaves)
 * const result = settlementResultFrom(roundId, newModelHash, tree)
 * const signatures = await Promise.all(members.map((m) => m.rounds.signResult(result)))
 * await vain.rounds.settle(result, signatures)
 * ```
 * @module
 */
import { type Address, type Hex, hexToBigInt, recoverTypedDataAddress } from 'viem'
import { InvalidInputError } from './errors.js'
import type { RewardTree } from './merkle.js'

/**
 * What committee members sign to settle a chain round (the contract's EIP-712 `RoundResult`).
 *
 * @example
 * ```ts
 * const result: SettlementResult = { roundId, modelHash, rewardsRoot: tree.root, totalReward: tree.totalReward, contributions: tree.size }
 * ```
 */
export interface SettlementResult {
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

/**
 * Where a result is settled: the EIP-712 domain's chain and RoundManager.
 *
 * @example
 * ```ts
 * const domain: SettlementDomain = { chainId: await publicClient.getChainId(), roundManager: addresses.roundManager }
 * ```
 */
export interface SettlementDomain {
  chainId: number
  roundManager: Address
}

/**
 * The EIP-712 types of {@link SettlementResult} (named `RoundResult`, as in the contract).
 *
 * @example
 * ```ts
 * hashStruct({ data: result, primaryType: 'RoundResult', types: SETTLEMENT_RESULT_TYPES })
 * ```
 */
export const SETTLEMENT_RESULT_TYPES = {
  RoundResult: [
    { name: 'roundId', type: 'uint256' },
    { name: 'modelHash', type: 'bytes32' },
    { name: 'rewardsRoot', type: 'bytes32' },
    { name: 'totalReward', type: 'uint256' },
    { name: 'contributions', type: 'uint32' },
  ],
} as const

/**
 * The result for `roundId` with the new model hash and a reward tree.
 *
 * @throws {@link InvalidInputError} when the tree is for another round.
 * @example
 * ```ts
 * const result = settlementResultFrom(roundId, modelHashOf(newModelCid), buildRewardTree(roundId, leaves))
 * ```
 */
export function settlementResultFrom(roundId: bigint, modelHash: Hex, tree: RewardTree): SettlementResult {
  if (tree.roundId !== roundId) throw new InvalidInputError(`reward tree is for round ${tree.roundId}, not ${roundId}`)
  return { roundId, modelHash, rewardsRoot: tree.root, totalReward: tree.totalReward, contributions: tree.size }
}

/**
 * EIP-712 typed data for `signTypedData` / `recoverTypedDataAddress`.
 *
 * @example
 * ```ts
 * const signature = await account.signTypedData(settlementResultTypedData(result, domain))
 * ```
 */
export function settlementResultTypedData(result: SettlementResult, domain: SettlementDomain) {
  return {
    domain: {
      name: 'vAIn RoundManager',
      version: '1',
      chainId: domain.chainId,
      verifyingContract: domain.roundManager,
    },
    types: SETTLEMENT_RESULT_TYPES,
    primaryType: 'RoundResult' as const,
    message: result,
  }
}

/**
 * The address that signed `result`.
 *
 * @example
 * ```ts
 * const signer = await recoverResultSigner(result, signature, domain)
 * ```
 */
export function recoverResultSigner(
  result: SettlementResult,
  signature: Hex,
  domain: SettlementDomain,
): Promise<Address> {
  return recoverTypedDataAddress({ ...settlementResultTypedData(result, domain), signature })
}

/**
 * Orders signatures by ascending signer address and drops duplicate signers, as `settle` needs.
 *
 * @example
 * ```ts
 * const ordered = await orderSignatures(result, [sigB, sigA, sigA], domain) // [sigA, sigB] if A < B
 * ```
 */
export async function orderSignatures(
  result: SettlementResult,
  signatures: readonly Hex[],
  domain: SettlementDomain,
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
