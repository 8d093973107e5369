import { strict as assert } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { type Hex, keccak256, parseEther, toHex } from 'viem'
import {
  ascending,
  COMMITTEE_REPUTATION_PENALTY,
  COMMITTEE_SLASH,
  chunkLeaf,
  chunkProofOf,
  deployChallenges,
  invalidChunkProof,
  proofDigest,
  settleProvenRound,
  TRAINER_REPUTATION_PENALTY,
  TRAINER_SLASH,
} from './challenge-fixture.js'
import { deploySuite, MIN_STAKE, role, type Suite, type Wallet } from './fixture.js'

const payload = (name: string) => keccak256(toHex(name)) as Hex

describe('ProofChallenges (real Groth16 proofs, in-process network)', () => {
  let s: Suite
  let c: Awaited<ReturnType<typeof deployChallenges>>
  let committee: Wallet[]
  let honest: Wallet
  let cheater: Wallet
  let round: Awaited<ReturnType<typeof settleProvenRound>>

  before(async () => {
    s = await deploySuite()
    c = await deployChallenges(s)
    committee = s.nodes.slice(0, 3)
    for (const m of committee) await s.makeTier(m, 3)
    honest = s.nodes[3]!
    cheater = s.nodes[4]!
    await s.makeTier(honest, 1)
    await s.makeTier(cheater, 1)
    await s.token.write.approve([s.rounds.address, parseEther('1000000')])
    round = await settleProvenRound(s, committee, [
      { account: honest.account.address, payloadHash: payload('honest'), chunks: [chunkProofOf()] },
      // chunk 0 verifies, chunk 1 (the fixture proof with another binding) does not
      {
        account: cheater.account.address,
        payloadHash: payload('cheater'),
        chunks: [chunkProofOf(), invalidChunkProof()],
      },
    ])
  })
  after(async () => {
    await s.connection.close()
  })

  const stakes = () =>
    Promise.all([honest, cheater, ...committee].map((w) => s.staking.read.stakeOf([w.account.address])))

  it("computes the same chunk leaves and proof digest as the TypeScript definition (viem's encodings)", async () => {
    const p = chunkProofOf()
    assert.equal(await c.challenges.read.chunkLeaf([3n, p]), chunkLeaf(3, p))
    const leaves = [chunkLeaf(0, p), chunkLeaf(1, invalidChunkProof())]
    assert.equal(await c.challenges.read.proofDigest([payload('x'), leaves]), proofDigest(payload('x'), leaves))
    assert.equal(await c.challenges.read.proofDigest([payload('x'), []]), keccak256(payload('x')))
  })

  it('a challenge of a valid proof reverts ProofIsValid and slashes nobody', async () => {
    const before = await stakes()
    await s.viem.assertions.revertWithCustomError(
      c.challenges.write.challenge(round.challengeArgs(0, 0)),
      c.challenges,
      'ProofIsValid',
    )
    await s.viem.assertions.revertWithCustomError(
      c.challenges.write.challenge(round.challengeArgs(1, 0)), // the cheater's valid chunk
      c.challenges,
      'ProofIsValid',
    )
    assert.deepEqual(await stakes(), before)
    assert.equal(await c.challenges.read.isUpheld([round.roundId, honest.account.address]), false)
  })

  it('refuses a wrong leaf, digest, chunk leaf, index, committee member or round with typed errors', async () => {
    const args = round.challengeArgs(1, 1)
    const assertions = s.viem.assertions
    const withArgs = (i: number, value: unknown) => args.map((a, j) => (j === i ? value : a)) as unknown as typeof args
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(1, { ...args[1], amount: parseEther('11') })),
      c.challenges,
      'LeafNotInRoot',
      [round.roundId, cheater.account.address],
    )
    await assertions.revertWithCustomError(c.challenges.write.challenge(withArgs(2, [])), c.challenges, 'LeafNotInRoot')
    const wrongPayload = payload('other')
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(3, wrongPayload)),
      c.challenges,
      'ProofDigestMismatch',
      [args[1].commitment, proofDigest(wrongPayload, args[4])],
    )
    await assertions.revertWithCustomError(
      c.challenges.write.challenge(withArgs(4, [args[4][0]])), // a chunk leaf left out
      c.challenges,
      'ProofDigestMismatch',
    )
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(6, chunkProofOf())), // chunk 0's proof given for chunk 1
      c.challenges,
      'ChunkLeafMismatch',
      [1n, args[4][1], chunkLeaf(1, chunkProofOf())],
    )
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(5, 2n)),
      c.challenges,
      'ChunkIndexOutOfRange',
      [2n, 2n],
    )
    const outsider = s.nodes[5]!
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(7, ascending([committee[0]!.account.address, outsider.account.address]))),
      c.challenges,
      'NotCommitteeMember',
      [round.roundId, outsider.account.address],
    )
    // at least the round's quorum (2 of 3), distinct and ascending: a quorum cannot leave itself out
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(7, [committee[0]!.account.address])),
      c.challenges,
      'CommitteeBelowQuorum',
      [1n, 2],
    )
    const listed = ascending(committee.map((m) => m.account.address))
    await assertions.revertWithCustomError(
      c.challenges.write.challenge(withArgs(7, [...listed].reverse())),
      c.challenges,
      'CommitteeNotAscending',
    )
    await assertions.revertWithCustomError(
      c.challenges.write.challenge(withArgs(7, [listed[0], listed[0]])),
      c.challenges,
      'CommitteeNotAscending',
    )
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(withArgs(0, round.roundId + 1n)),
      c.challenges,
      'RoundNotSettled',
      [round.roundId + 1n, 0],
    )
    // too little gas for the verifier: refused, never taken for a failed proof
    await assertions.revertWithCustomError(
      c.challenges.write.challenge(args, { gas: 250_000n }),
      c.challenges,
      'InsufficientGasForVerification',
    )
    assert.equal(await c.challenges.read.isUpheld([round.roundId, cheater.account.address]), false)
    await assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.setPenalties([0n, 0n, 0n, 0n], { account: cheater.account }),
      c.challenges,
      'AccessControlUnauthorizedAccount',
      [cheater.account.address, role('GOVERNOR_ROLE')],
    )
  })

  it('a challenge of an invalid proof slashes the trainer and the committee once; a second challenge reverts', async () => {
    const before = await stakes()
    const repBefore = await s.reputation.read.reputationOf([committee[0]!.account.address])
    const trainerRepBefore = await s.reputation.read.reputationOf([cheater.account.address])
    const challenger = s.nodes[6]!
    const hash = await c.challenges.write.challenge(round.challengeArgs(1, 1), { account: challenger.account })
    const receipt = await s.publicClient.waitForTransactionReceipt({ hash })
    assert.equal(receipt.status, 'success')
    const after = await stakes()
    assert.equal(after[0], before[0]) // the honest trainer keeps its stake
    assert.equal(after[1], before[1]! - TRAINER_SLASH)
    for (const i of [2, 3, 4]) assert.equal(after[i], before[i]! - COMMITTEE_SLASH, `committee member ${i - 2}`)
    assert.equal(
      await s.reputation.read.reputationOf([committee[0]!.account.address]),
      repBefore - COMMITTEE_REPUTATION_PENALTY,
    )
    const trainerRep = await s.reputation.read.reputationOf([cheater.account.address])
    assert.equal(
      trainerRep,
      trainerRepBefore > TRAINER_REPUTATION_PENALTY ? trainerRepBefore - TRAINER_REPUTATION_PENALTY : 0n,
    )
    assert.equal(await c.challenges.read.isUpheld([round.roundId, cheater.account.address]), true)
    for (const m of committee)
      assert.equal(await c.challenges.read.isCommitteeSlashed([round.roundId, m.account.address]), true)
    const upheld = await c.challenges.getEvents.ChallengeUpheld({}, { blockHash: receipt.blockHash })
    assert.equal(upheld.length, 1)
    assert.equal(upheld[0]!.args.challenger?.toLowerCase(), challenger.account.address.toLowerCase())
    assert.equal(upheld[0]!.args.slashed, TRAINER_SLASH)
    assert.equal(upheld[0]!.args.chunkIndex, 1n)
    const slashedMembers = await c.challenges.getEvents.CommitteeMemberSlashed({}, { blockHash: receipt.blockHash })
    assert.equal(slashedMembers.length, 3)
    console.log(
      `      challenge upheld (committee of 3 slashed, proof of ${round.tree.getProof(1).length}): ${receipt.gasUsed} gas`,
    )

    await s.viem.assertions.revertWithCustomErrorWithArgs(
      c.challenges.write.challenge(round.challengeArgs(1, 1)),
      c.challenges,
      'AlreadyUpheld',
      [round.roundId, cheater.account.address],
    )
    assert.deepEqual(await stakes(), after)
    // the stake taken stays within what the nodes had: tier-3 members keep MIN_STAKE[2] - COMMITTEE_SLASH
    assert.equal(after[2], MIN_STAKE[2] - COMMITTEE_SLASH)
  })

  it('slashes a committee member at most once per round, and only the governor sets the penalties', async () => {
    await s.makeTier(s.nodes[7]!, 1)
    // the committee lost tier 3 with its stake and reputation: bring it back
    await s.reputation.write.grantRole([role('UPDATER_ROLE'), s.admin.account.address])
    for (const m of committee) {
      await s.stake(m, COMMITTEE_SLASH)
      await s.reputation.write.increase([m.account.address, COMMITTEE_REPUTATION_PENALTY])
    }
    const second = await settleProvenRound(s, committee, [
      { account: s.nodes[7]!.account.address, payloadHash: payload('a'), chunks: [invalidChunkProof()] },
      { account: cheater.account.address, payloadHash: payload('b'), chunks: [invalidChunkProof()] },
    ])
    await s.viem.assertions.emit(c.challenges.write.setPenalties([1n, 2n, 3n, 4n]), c.challenges, 'PenaltiesSet')
    const before = await stakes()
    await s.publicClient.waitForTransactionReceipt({
      hash: await c.challenges.write.challenge(second.challengeArgs(0, 0, [committee[0]!, committee[1]!])),
    })
    await s.publicClient.waitForTransactionReceipt({
      hash: await c.challenges.write.challenge(second.challengeArgs(1, 0)),
    })
    const after = await stakes()
    assert.equal(after[1], before[1]! - 1n)
    // listed in both challenges, slashed once; the third member, listed in the second only, once too
    for (const i of [2, 3, 4]) assert.equal(after[i], before[i]! - 3n, `committee member ${i - 2}`)
  })
})
