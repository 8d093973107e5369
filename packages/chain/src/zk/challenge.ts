/**
 * Optimistic on-chain checks of update proofs: the proof digest a proof-carrying reward leaf commits
 * to, and challenges of a settled leaf whose proof does not verify (the `ProofChallenges` contract).
 *
 * For a job that requires proofs, the committee checks each trainer's chunk proofs off chain and
 * settles, as the leaf's `commitment`, the contribution's **proof digest**:
 *
 * ```
 * chunkLeaf_i = keccak256(abi.encode(uint256 i, uint256[2] a, uint256[2][2] b, uint256[2] c, uint256[3] input))
 * proofDigest = keccak256(abi.encodePacked(bytes32 payloadHash, bytes32[] chunkLeaves))
 * ```
 *
 * (`a, b, c, input`: {@link updateProofCalldata} of chunk i's proof; `payloadHash`: the sha2-256 of
 * the encoded update; `encodePacked` of a `bytes32[]` is the leaves concatenated.) Honest rounds pay
 * no verification gas: `settle` and `claim` are unchanged. Anyone holding the proofs who finds a
 * chunk that does not verify calls {@link challengeUpdateProof}: the contract checks the leaf is in
 * the round's root and commits to that proof, runs `UpdateNormVerifier`, and slashes the trainer and
 * the listed committee members if the proof fails (`ProofIsValid` otherwise, nothing changes).
 * @module
 */
import {
  type Account,
  type Address,
  type Chain,
  encodeAbiParameters,
  encodePacked,
  type Hex,
  isHex,
  keccak256,
  type PublicClient,
  parseEventLogs,
  type TransactionReceipt,
  type Transport,
  type WalletClient,
} from 'viem'
import { proofChallengesAbi } from '../abi/proofChallenges.js'
import { updateNormVerifierAbi } from '../abi/updateNormVerifier.js'
import {
  decodeRevert,
  InvalidInputError,
  ProofDigestMismatchError,
  ProofIsValidError,
  TransactionRevertedError,
} from '../errors.js'
import type { RewardClaim } from '../merkle.js'
import { type UpdateProof, type UpdateProofCalldata, updateProofCalldata } from './update.js'

type Wallet = WalletClient<Transport, Chain | undefined, Account>

const CHUNK_LEAF_PARAMS = [
  { type: 'uint256' },
  { type: 'uint256[2]' },
  { type: 'uint256[2][2]' },
  { type: 'uint256[2]' },
  { type: 'uint256[3]' },
] as const

/** Addresses sorted ascending without repeats (ProofChallenges' committee list). */
function ascendingUnique(addresses: readonly Address[]): Address[] {
  const byValue = new Map(addresses.map((a) => [BigInt(a), a] as const))
  return [...byValue.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, a]) => a)
}

const isBytes32 = (h: unknown): h is Hex => typeof h === 'string' && isHex(h) && h.length === 66

/**
 * The leaf of chunk `i`'s proof: `keccak256(abi.encode(uint256 i, a, b, c, input))`, as
 * `ProofChallenges.chunkLeaf` computes it.
 *
 * @example
 * ```ts
 * const leaf = proofChunkLeaf(0, updateProofCalldata(proof, publicSignals))
 * ```
 */
export function proofChunkLeaf(i: number | bigint, calldata: UpdateProofCalldata): Hex {
  if (BigInt(i) < 0n) throw new InvalidInputError(`chunk index ${i} is negative`)
  return keccak256(
    encodeAbiParameters(CHUNK_LEAF_PARAMS, [BigInt(i), calldata.a, calldata.b, calldata.c, calldata.input]),
  )
}

/**
 * The proof digest a proof-carrying reward leaf commits to:
 * `keccak256(abi.encodePacked(bytes32 payloadHash, bytes32[] chunkLeaves))`, as
 * `ProofChallenges.proofDigest` computes it.
 *
 * @throws {@link InvalidInputError} when `payloadHash` or a leaf is not 32 bytes of hex.
 * @example
 * ```ts
 * const commitment = updateProofDigest(payloadHash, proofs.map((p, i) => proofChunkLeaf(i, updateProofCalldata(p.proof, p.publicSignals))))
 * ```
 */
export function updateProofDigest(payloadHash: Hex, chunkLeaves: readonly Hex[]): Hex {
  if (!isBytes32(payloadHash)) throw new InvalidInputError('payloadHash must be 32 bytes of hex')
  chunkLeaves.forEach((leaf, i) => {
    if (!isBytes32(leaf)) throw new InvalidInputError(`chunk leaf ${i} must be 32 bytes of hex`)
  })
  return keccak256(encodePacked(['bytes32', 'bytes32[]'], [payloadHash, chunkLeaves]))
}

/**
 * {@link updateProofDigest} of an update's chunk proofs, in chunk order.
 *
 * @throws MalformedProofError when a proof is not well-formed; {@link InvalidInputError} for a bad `payloadHash`.
 * @example
 * ```ts
 * const commitment = updateProofDigestOf(payloadHash, proofs) // the reward leaf's `commitment`
 * ```
 */
export function updateProofDigestOf(payloadHash: Hex, proofs: readonly UpdateProof[]): Hex {
  return updateProofDigest(payloadHash, updateProofChunkLeaves(proofs))
}

/** The chunk leaves of an update's proofs, in chunk order. */
export function updateProofChunkLeaves(proofs: readonly UpdateProof[]): Hex[] {
  return proofs.map((p, i) => proofChunkLeaf(i, updateProofCalldata(p.proof, p.publicSignals)))
}

/**
 * The index of the first chunk whose proof the on-chain verifier rejects, or `undefined` when all
 * verify (read calls, no gas).
 *
 * @example
 * ```ts
 * const verifier = await publicClient.readContract({ address: proofChallenges, abi: proofChallengesAbi, functionName: 'verifier' })
 * const chunk = await findInvalidUpdateChunk(publicClient, { verifier, proofs })
 * ```
 */
export async function findInvalidUpdateChunk(
  publicClient: PublicClient,
  params: { verifier: Address; proofs: readonly UpdateProof[] },
): Promise<number | undefined> {
  for (const [i, p] of params.proofs.entries()) {
    const { a, b, c, input } = updateProofCalldata(p.proof, p.publicSignals)
    const ok = await publicClient.readContract({
      address: params.verifier,
      abi: updateNormVerifierAbi,
      functionName: 'verifyProof',
      args: [a, b, c, input],
    })
    if (!ok) return i
  }
  return undefined
}

/** Parameters of {@link challengeUpdateProof}. */
export interface ChallengeUpdateProofParams {
  /** The ProofChallenges contract (`VainAddresses.proofChallenges`). */
  proofChallenges: Address
  /** The trainer's settled claim (`RewardTree.claimFor(trainer)`): its `commitment` is the proof digest. */
  claim: RewardClaim
  /** sha2-256 of the encoded update (32 bytes of hex). */
  payloadHash: Hex
  /** The update's chunk proofs, in chunk order, as the trainer sent them. */
  proofs: readonly UpdateProof[]
  /** The chunk to challenge; default: the first whose proof the on-chain verifier rejects. */
  chunkIndex?: number
  /**
   * Members of the round's committee to slash with the trainer: the signers of the settled result
   * (their signatures are in the `settle` transaction), at least the round's quorum of them; each
   * must be on the round's committee. Sent sorted and without repeats; members already slashed for
   * the round are skipped (they still count toward the quorum).
   */
  committee: readonly Address[]
}

/** What {@link challengeUpdateProof} returns once the challenge is mined. */
export interface ChallengeUpdateProofResult {
  hash: Hex
  receipt: TransactionReceipt
  /** The chunk challenged. */
  chunkIndex: number
  /** Stake taken from the trainer (token wei). */
  trainerSlashed: bigint
  /** Stake taken from each committee member slashed by this challenge. */
  committeeSlashed: { member: Address; slashed: bigint }[]
}

/**
 * Challenges a settled trainer's update proofs: sends `ProofChallenges.challenge` for the chunk
 * whose proof fails, which slashes the trainer and the listed committee members. Checks first, off
 * chain, that the proofs are those the leaf commits to and (when `chunkIndex` is omitted) finds the
 * failing chunk, so an honest contribution costs the challenger no gas.
 *
 * @throws {@link ProofDigestMismatchError} when the proofs are not those the claim commits to;
 * {@link ProofIsValidError} when no chunk fails (or the chosen one verifies); decoded contract
 * errors otherwise ({@link LeafNotInRootError}, {@link ChallengeAlreadyUpheldError},
 * {@link NotCommitteeMemberError}, `CommitteeBelowQuorum` as a {@link ContractRevertError}, ...).
 * @example
 * ```ts
 * import { challengeUpdateProof } from '@vain/chain/zk'
 * const claim = loadRewardTree(dump).claimFor(trainer)
 * const { trainerSlashed } = await challengeUpdateProof(walletClient, {
 *   proofChallenges: addresses.proofChallenges!, claim, payloadHash, proofs, committee,
 * }, { publicClient })
 * ```
 */
export async function challengeUpdateProof(
  client: Wallet,
  params: ChallengeUpdateProofParams,
  options: { publicClient: PublicClient },
): Promise<ChallengeUpdateProofResult> {
  const reader = options.publicClient
  const { claim, proofs } = params
  if (proofs.length === 0) throw new InvalidInputError('an update proof challenge needs the update’s chunk proofs')
  const chunkLeaves = updateProofChunkLeaves(proofs)
  const digest = updateProofDigest(params.payloadHash, chunkLeaves)
  if (digest.toLowerCase() !== claim.commitment.toLowerCase()) {
    throw new ProofDigestMismatchError(
      `the claim commits to ${claim.commitment}, but these proofs digest to ${digest}: not the proofs the committee settled`,
      'ProofDigestMismatch',
      [claim.commitment, digest],
    )
  }
  let chunkIndex = params.chunkIndex
  try {
    if (chunkIndex === undefined) {
      const verifier = await reader.readContract({
        address: params.proofChallenges,
        abi: proofChallengesAbi,
        functionName: 'verifier',
      })
      chunkIndex = await findInvalidUpdateChunk(reader, { verifier, proofs })
      if (chunkIndex === undefined) {
        throw new ProofIsValidError('every chunk proof verifies: nothing to challenge', 'ProofIsValid', [])
      }
    }
    if (!Number.isInteger(chunkIndex) || chunkIndex < 0 || chunkIndex >= proofs.length) {
      throw new InvalidInputError(`chunk ${chunkIndex} does not exist: the update has ${proofs.length} chunk proof(s)`)
    }
    const { a, b, c, input } = updateProofCalldata(proofs[chunkIndex]!.proof, proofs[chunkIndex]!.publicSignals)
    const { request } = await reader.simulateContract({
      address: params.proofChallenges,
      abi: proofChallengesAbi,
      functionName: 'challenge',
      args: [
        claim.roundId,
        {
          account: claim.account,
          amount: claim.amount,
          reputationGain: claim.reputationGain,
          commitment: claim.commitment,
        },
        claim.proof,
        params.payloadHash,
        chunkLeaves,
        BigInt(chunkIndex),
        { a, b, c, input },
        ascendingUnique(params.committee),
      ],
      account: client.account,
    })
    const hash = await client.writeContract(request as any)
    const receipt = await reader.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new TransactionRevertedError(hash)
    const logs = parseEventLogs({ abi: proofChallengesAbi, logs: receipt.logs })
    let trainerSlashed = 0n
    const committeeSlashed: { member: Address; slashed: bigint }[] = []
    for (const log of logs) {
      if (log.eventName === 'ChallengeUpheld') trainerSlashed = log.args.slashed
      if (log.eventName === 'CommitteeMemberSlashed') {
        committeeSlashed.push({ member: log.args.member, slashed: log.args.slashed })
      }
    }
    return { hash, receipt, chunkIndex, trainerSlashed, committeeSlashed }
  } catch (err) {
    throw decodeRevert(err)
  }
}
