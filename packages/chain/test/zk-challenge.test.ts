import { readFileSync } from 'node:fs'
import { type Hex, keccak256, parseEther, sha256, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  buildRewardTree,
  ChallengeAlreadyUpheldError,
  ContractRevertError,
  LeafNotInRootError,
  NotCommitteeMemberError,
  ProofDigestMismatchError,
  ProofIsValidError,
  proofChallengesAbi,
  type RewardTree,
  settlementResultFrom,
  type VainClient,
} from '../src/index.js'
import {
  challengeUpdateProof,
  proofChunkLeaf,
  type UpdateProof,
  updateProofCalldata,
  updateProofDigest,
  updateProofDigestOf,
} from '../src/zk/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()

// a real proof of circuits/update/update_norm.circom with the committed setup
const fixture = JSON.parse(
  readFileSync(new URL('../../../circuits/test/fixtures/update_norm.proof.json', import.meta.url), 'utf8'),
) as UpdateProof
const valid: UpdateProof = { proof: fixture.proof, publicSignals: fixture.publicSignals }
// pi_a moved off the proof's point: the verifier rejects it
const tampered: UpdateProof = {
  proof: { ...fixture.proof, pi_a: [fixture.proof.pi_a[0], (BigInt(fixture.proof.pi_a[1]) + 1n).toString(), '1'] },
  publicSignals: fixture.publicSignals,
}

describe('update-proof challenges on chain (ProofChallenges, real Groth16 proofs)', () => {
  let admin: VainClient
  let committee: VainClient[]
  let proofChallenges: `0x${string}`
  let tree: RewardTree
  const [honest, cheater] = [6, 7].map((i) => privateKeyToAccount(shared.keys[i]!).address) as [Hex, Hex]
  const payloads = { honest: sha256(toHex('honest update')), cheater: sha256(toHex('cheater update')) }
  const proofs = { honest: [valid], cheater: [valid, tampered] }

  beforeAll(async () => {
    const suite = await freshSuite(shared, {
      nodes: [3, 4, 5, 6, 7],
      params: { reputation: { minReputation: [0n, 0n, 0n] } },
    })
    admin = suite.admin
    committee = suite.nodes.slice(0, 3)
    proofChallenges = suite.deployment.addresses.proofChallenges!
    for (const m of committee) await m.staking.stake(parseEther('10000'))
    for (const t of suite.nodes.slice(3)) await t.staking.stake(parseEther('100'))
    await admin.staking.stake(parseEther('100'))
    const { timestamp } = await shared.publicClient.getBlock()
    const { roundId } = await admin.rounds.open({
      jobId: keccak256(toHex('proof-job')),
      committee: committee.map((m) => m.account!),
      deadline: timestamp + 3600n,
      rewardPool: parseEther('20'),
    })
    // the committee settles leaves whose commitment is each contribution's proof digest
    tree = buildRewardTree(roundId, [
      {
        account: honest,
        amount: parseEther('10'),
        reputationGain: 5n,
        commitment: updateProofDigestOf(payloads.honest, proofs.honest),
      },
      {
        account: cheater,
        amount: parseEther('10'),
        reputationGain: 5n,
        commitment: updateProofDigestOf(payloads.cheater, proofs.cheater),
      },
    ])
    const result = settlementResultFrom(roundId, keccak256(toHex('model')), tree)
    await admin.rounds.settle(result, [
      await committee[0]!.rounds.signResult(result),
      await committee[1]!.rounds.signResult(result),
    ])
  }, 120_000)

  const committeeAddresses = () => committee.map((m) => m.account!)
  const stakes = () =>
    Promise.all([honest, cheater, ...committeeAddresses()].map((a) => admin.contracts.staking.read.stakeOf([a])))

  it('computes the same chunk leaves and proof digest as the contract', async () => {
    const read = (functionName: 'chunkLeaf' | 'proofDigest', args: readonly unknown[]) =>
      shared.publicClient.readContract({ address: proofChallenges, abi: proofChallengesAbi, functionName, args } as any)
    for (const [i, p] of [valid, tampered].entries()) {
      const calldata = updateProofCalldata(p.proof, p.publicSignals)
      expect(await read('chunkLeaf', [BigInt(i + 4), calldata])).toBe(proofChunkLeaf(i + 4, calldata))
    }
    const leaves = proofs.cheater.map((p, i) => proofChunkLeaf(i, updateProofCalldata(p.proof, p.publicSignals)))
    expect(await read('proofDigest', [payloads.cheater, leaves])).toBe(updateProofDigest(payloads.cheater, leaves))
    expect(updateProofDigestOf(payloads.cheater, proofs.cheater)).toBe(updateProofDigest(payloads.cheater, leaves))
    expect(tree.claimFor(cheater).commitment).toBe(updateProofDigest(payloads.cheater, leaves))
  })

  it('refuses to challenge valid proofs: off chain when no chunk fails, ProofIsValid on chain; nobody is slashed', async () => {
    const before = await stakes()
    const params = {
      proofChallenges,
      claim: tree.claimFor(honest),
      payloadHash: payloads.honest,
      proofs: proofs.honest,
      committee: committeeAddresses(),
    }
    await expect(
      challengeUpdateProof(shared.walletClient(16), params, { publicClient: shared.publicClient }),
    ).rejects.toSatisfy((err: Error) => err instanceof ProofIsValidError && err.name === 'ProofIsValidError')
    // the chunk named explicitly: the contract runs the verifier and reverts ProofIsValid
    await expect(
      challengeUpdateProof(
        shared.walletClient(16),
        { ...params, chunkIndex: 0 },
        { publicClient: shared.publicClient },
      ),
    ).rejects.toBeInstanceOf(ProofIsValidError)
    expect(await stakes()).toEqual(before)
  })

  it('refuses proofs the leaf does not commit to, a forged leaf and a foreign committee member', async () => {
    const params = {
      proofChallenges,
      claim: tree.claimFor(cheater),
      payloadHash: payloads.cheater,
      proofs: proofs.cheater,
      committee: committeeAddresses(),
    }
    const send = (p: typeof params) =>
      challengeUpdateProof(shared.walletClient(16), p, { publicClient: shared.publicClient })
    await expect(send({ ...params, payloadHash: payloads.honest })).rejects.toBeInstanceOf(ProofDigestMismatchError)
    await expect(send({ ...params, proofs: [tampered, valid] })).rejects.toBeInstanceOf(ProofDigestMismatchError)
    await expect(send({ ...params, claim: { ...params.claim, amount: parseEther('11') } })).rejects.toBeInstanceOf(
      LeafNotInRootError,
    )
    await expect(send({ ...params, committee: [...params.committee, honest] })).rejects.toBeInstanceOf(
      NotCommitteeMemberError,
    )
    // at least the round's quorum (2 of 3) must be listed: a quorum cannot leave itself out
    await expect(send({ ...params, committee: [params.committee[0]!, params.committee[0]!] })).rejects.toSatisfy(
      (err: Error) => err instanceof ContractRevertError && err.errorName === 'CommitteeBelowQuorum',
    )
  })

  it('slashes the trainer and the committee for a proof that fails, once', async () => {
    const before = await stakes()
    const params = {
      proofChallenges,
      claim: tree.claimFor(cheater),
      payloadHash: payloads.cheater,
      proofs: proofs.cheater,
      committee: committeeAddresses(),
    }
    // listed in any order, with a repeat: the wrapper sends them ascending, once each
    const result = await challengeUpdateProof(
      shared.walletClient(16),
      { ...params, committee: [...params.committee].reverse().concat(params.committee[0]!) },
      { publicClient: shared.publicClient },
    )
    expect(result.chunkIndex).toBe(1) // found by reading the verifier: chunk 0 verifies
    expect(result.trainerSlashed).toBe(parseEther('100')) // deployVain's default trainer penalty
    expect(result.committeeSlashed.map((s) => s.slashed)).toEqual([
      parseEther('500'),
      parseEther('500'),
      parseEther('500'),
    ])
    const after = await stakes()
    expect(after[0]).toBe(before[0])
    expect(after[1]).toBe(before[1]! - parseEther('100'))
    for (const i of [2, 3, 4]) expect(after[i]).toBe(before[i]! - parseEther('500'))
    console.log(`challenge upheld (2 chunks, committee of 3): ${result.receipt.gasUsed} gas`)
    await expect(
      challengeUpdateProof(shared.walletClient(16), params, { publicClient: shared.publicClient }),
    ).rejects.toBeInstanceOf(ChallengeAlreadyUpheldError)
  })
})
