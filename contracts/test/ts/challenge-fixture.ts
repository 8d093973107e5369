// Shared by proof-challenges.test.ts and scripts/gas.ts: a real update proof (circuits' committed
// fixture), the proof digest a proof-carrying reward leaf commits to, and the ProofChallenges
// contract wired to a suite from fixture.ts.
import { readFileSync } from 'node:fs'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { type Address, encodeAbiParameters, encodePacked, type Hex, keccak256, parseEther, toHex } from 'viem'
import { role, type Suite, type Wallet } from './fixture.js'

/** A real proof of circuits/update/update_norm.circom with the committed setup. */
export const updateFixture = JSON.parse(
  readFileSync(new URL('../../../circuits/test/fixtures/update_norm.proof.json', import.meta.url), 'utf8'),
) as { proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }; publicSignals: string[] }

export type ChunkProof = {
  a: readonly [bigint, bigint]
  b: readonly [readonly [bigint, bigint], readonly [bigint, bigint]]
  c: readonly [bigint, bigint]
  input: readonly [bigint, bigint, bigint]
}

/** snarkjs' proof → verifyProof's arguments (G2 coordinates swapped for the precompile). */
export function chunkProofOf(proof = updateFixture.proof, signals = updateFixture.publicSignals): ChunkProof {
  const n = (s: string | undefined) => BigInt(s ?? 0)
  const b = proof.pi_b
  return {
    a: [n(proof.pi_a[0]), n(proof.pi_a[1])],
    b: [
      [n(b[0]?.[1]), n(b[0]?.[0])],
      [n(b[1]?.[1]), n(b[1]?.[0])],
    ],
    c: [n(proof.pi_c[0]), n(proof.pi_c[1])],
    input: [n(signals[0]), n(signals[1]), n(signals[2])],
  }
}

/** The fixture proof with its binding (public signal 2) changed: it no longer verifies. */
export function invalidChunkProof(): ChunkProof {
  const signals = [...updateFixture.publicSignals]
  signals[2] = (BigInt(signals[2] ?? 0) + 1n).toString()
  return chunkProofOf(updateFixture.proof, signals)
}

/** keccak256(abi.encode(uint256 i, uint256[2] a, uint256[2][2] b, uint256[2] c, uint256[3] input)) */
export function chunkLeaf(i: number | bigint, p: ChunkProof): Hex {
  return keccak256(
    encodeAbiParameters(
      [
        { type: 'uint256' },
        { type: 'uint256[2]' },
        { type: 'uint256[2][2]' },
        { type: 'uint256[2]' },
        { type: 'uint256[3]' },
      ],
      [BigInt(i), p.a, p.b, p.c, p.input],
    ),
  )
}

/** keccak256(abi.encodePacked(bytes32 payloadHash, bytes32[] chunkLeaves)) */
export function proofDigest(payloadHash: Hex, chunkLeaves: readonly Hex[]): Hex {
  return keccak256(encodePacked(['bytes32', 'bytes32[]'], [payloadHash, chunkLeaves]))
}

export const TRAINER_SLASH = parseEther('50')
export const TRAINER_REPUTATION_PENALTY = 20n
export const COMMITTEE_SLASH = parseEther('300')
export const COMMITTEE_REPUTATION_PENALTY = 100n

/** Deploys UpdateNormVerifier and ProofChallenges for `s`, with SLASHER (Staking) and UPDATER (Reputation). */
export async function deployChallenges(s: Suite) {
  const verifier = await s.viem.deployContract('UpdateNormVerifier')
  const challenges = await s.viem.deployContract('ProofChallenges', [
    s.rounds.address,
    verifier.address,
    s.staking.address,
    s.reputation.address,
    [TRAINER_SLASH, TRAINER_REPUTATION_PENALTY, COMMITTEE_SLASH, COMMITTEE_REPUTATION_PENALTY],
    s.admin.account.address,
  ])
  await s.staking.write.grantRole([role('SLASHER_ROLE'), challenges.address])
  await s.reputation.write.grantRole([role('UPDATER_ROLE'), challenges.address])
  return { verifier, challenges }
}

/** Addresses in ascending order, as ProofChallenges wants the committee list. */
export const ascending = (addresses: readonly Address[]) =>
  [...addresses].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))

export const LEAF_ENCODING = ['uint256', 'address', 'uint256', 'uint256', 'bytes32']

/** One trainer's proof-carrying contribution: its payload hash and chunk proofs. */
export interface ProvenContribution {
  account: Address
  payloadHash: Hex
  chunks: ChunkProof[]
}

/**
 * Opens a round with `committee` (all tier 3; the admin funds it), settles a reward tree whose
 * leaves commit to each contribution's proof digest (quorum: all but one member) and returns what
 * a challenger needs.
 */
export async function settleProvenRound(s: Suite, committee: Wallet[], contributions: ProvenContribution[]) {
  const { timestamp } = await s.publicClient.getBlock()
  await s.publicClient.waitForTransactionReceipt({
    hash: await s.rounds.write.openRound([
      keccak256(toHex('proof-job')),
      committee.map((m) => m.account.address),
      committee.length - 1,
      timestamp + 3600n,
      parseEther('10') * BigInt(contributions.length),
    ]),
  })
  const roundId = await s.rounds.read.roundCount()
  const leaves = contributions.map((c) => {
    const chunkLeaves = c.chunks.map((p, i) => chunkLeaf(i, p))
    return { ...c, chunkLeaves, commitment: proofDigest(c.payloadHash, chunkLeaves) }
  })
  const values = leaves.map((l) => [roundId, l.account, parseEther('10'), 5n, l.commitment])
  const tree = StandardMerkleTree.of(values, LEAF_ENCODING)
  const result = {
    roundId,
    modelHash: keccak256(toHex(`model-${roundId}`)),
    rewardsRoot: tree.root as Hex,
    totalReward: parseEther('10') * BigInt(contributions.length),
    contributions: contributions.length,
  }
  const chainId = await s.publicClient.getChainId()
  const signers = [...committee]
    .sort((a, b) => (BigInt(a.account.address) < BigInt(b.account.address) ? -1 : 1))
    .slice(0, committee.length - 1)
  const sigs = await Promise.all(
    signers.map((m) =>
      m.signTypedData({
        domain: { name: 'vAIn RoundManager', version: '1', chainId, verifyingContract: s.rounds.address },
        types: {
          RoundResult: [
            { name: 'roundId', type: 'uint256' },
            { name: 'modelHash', type: 'bytes32' },
            { name: 'rewardsRoot', type: 'bytes32' },
            { name: 'totalReward', type: 'uint256' },
            { name: 'contributions', type: 'uint32' },
          ],
        },
        primaryType: 'RoundResult',
        message: result,
      }),
    ),
  )
  await s.publicClient.waitForTransactionReceipt({ hash: await s.rounds.write.settle([result, sigs]) })
  /** The challenge arguments for `leaves[index]`'s chunk `chunk` (members listed in ascending order). */
  const challengeArgs = (index: number, chunk: number, members: Wallet[] = committee) => {
    const l = leaves[index]!
    return [
      roundId,
      { account: l.account, amount: parseEther('10'), reputationGain: 5n, commitment: l.commitment },
      tree.getProof(index) as Hex[],
      l.payloadHash,
      l.chunkLeaves,
      BigInt(chunk),
      l.chunks[chunk]!,
      ascending(members.map((m) => m.account.address)),
    ] as const
  }
  return { roundId, tree, leaves, challengeArgs }
}
