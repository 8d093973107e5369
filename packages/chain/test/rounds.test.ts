import { type Hex, keccak256, parseEther, toHex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  AlreadyClaimedError,
  buildRewardTree,
  InvalidInputError,
  InvalidProofError,
  loadRewardTree,
  NotCommitteeMemberError,
  QuorumNotReachedError,
  type RewardLeaf,
  settlementResultFrom,
  TierTooLowError,
  type VainClient,
} from '../src/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()
const commitment = (i: number) => keccak256(toHex(`update-${i}`))

describe('round settlement on chain', () => {
  let admin: VainClient
  let committee: VainClient[]
  let outsider: VainClient
  const contributors = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => privateKeyToAccount(shared.keys[i]!).address)

  beforeAll(async () => {
    // reputation thresholds at 0: stake alone decides the tier
    const suite = await freshSuite(shared, {
      nodes: [3, 4, 5, 16],
      params: { reputation: { minReputation: [0n, 0n, 0n] } },
    })
    admin = suite.admin
    committee = suite.nodes.slice(0, 3)
    outsider = suite.nodes[3]!
    for (const m of committee) await m.staking.stake(parseEther('10000'))
    // the round's funder: the network asks job creators for tier 1 (a stake) by default
    await admin.staking.stake(parseEther('100'))
  })

  async function openRound(pool: bigint) {
    const { timestamp } = await shared.publicClient.getBlock()
    const { roundId } = await admin.rounds.open({
      jobId: keccak256(toHex('mnist')),
      committee: committee.map((m) => m.account!),
      deadline: timestamp + 3600n,
      rewardPool: pool,
    })
    return roundId
  }

  it('settles with a quorum of signatures and pays 10 contributors by Merkle proof', async () => {
    const roundId = await openRound(parseEther('100'))
    // an equal share each (what RoundManager.claim allows at most), reputation up to the cap (10)
    const leaves: RewardLeaf[] = contributors.map((account, i) => ({
      account,
      amount: parseEther('5'),
      reputationGain: BigInt(1 + i),
      commitment: commitment(i),
    }))
    const tree = buildRewardTree(roundId, leaves)
    expect(tree.totalReward).toBe(parseEther('50'))
    const result = settlementResultFrom(roundId, keccak256(toHex('model-1')), tree)
    // two of three sign; given in any order, with a duplicate
    const sigs = [await committee[2]!.rounds.signResult(result), await committee[0]!.rounds.signResult(result)]
    const funderBefore = await admin.token.balanceOf()
    const { events, receipt } = await outsider.rounds.settle(result, [...sigs, sigs[0]!])
    expect(events.map((e) => e.eventName)).toContain('RoundSettled')
    // whatever the number of contributors; ~50k of it per signer, who gains committee reputation
    expect(receipt.gasUsed).toBeLessThan(300_000n)
    expect((await admin.token.balanceOf()) - funderBefore).toBe(parseEther('50'))
    const info = await admin.rounds.roundOf(roundId)
    expect(info).toMatchObject({
      status: 'settled',
      modelHash: result.modelHash,
      totalReward: parseEther('50'),
      contributions: 10,
      claims: 0,
      maxReputationGain: 10n,
    })

    // contributors receive the tree dump (e.g. over gossip) and claim for themselves
    const received = loadRewardTree(JSON.parse(JSON.stringify(tree.dump())))
    for (const claim of received.claims()) await outsider.rounds.claim(claim)
    for (const [i, account] of contributors.entries()) {
      expect(await admin.token.balanceOf(account)).toBe(parseEther('5'))
      expect(await admin.reputation.reputationOf(account)).toBe(BigInt(1 + i))
    }
    expect((await admin.rounds.roundOf(roundId)).claims).toBe(10)
    await expect(outsider.rounds.claim(tree.claimFor(contributors[0]!))).rejects.toBeInstanceOf(AlreadyClaimedError)
  })

  it('refuses a short quorum, a foreign signer and a forged claim with typed errors', async () => {
    const roundId = await openRound(parseEther('10'))
    const tree = buildRewardTree(roundId, [
      { account: contributors[0]!, amount: parseEther('1'), reputationGain: 1n, commitment: commitment(0) },
      { account: contributors[1]!, amount: parseEther('1'), reputationGain: 1n, commitment: commitment(1) },
    ])
    const result = settlementResultFrom(roundId, keccak256(toHex('m')), tree)
    const one = await committee[0]!.rounds.signResult(result)
    await expect(admin.rounds.settle(result, [one])).rejects.toBeInstanceOf(QuorumNotReachedError)
    const foreign = await outsider.rounds.signResult(result)
    await expect(admin.rounds.settle(result, [one, foreign])).rejects.toBeInstanceOf(NotCommitteeMemberError)
    await admin.rounds.settle(result, [one, await committee[1]!.rounds.signResult(result)])
    const forged = { ...tree.claimFor(contributors[0]!), reputationGain: 2n }
    await expect(admin.rounds.claim(forged)).rejects.toBeInstanceOf(InvalidProofError)
  })

  it('caps what a claim pays on chain: an equal share of the settled total, the round’s reputation cap', async () => {
    // a committee signs a tree that favours one trainer (3 of 4 VAIN) and gives another 11 reputation
    const roundId = await openRound(parseEther('10'))
    const tree = buildRewardTree(roundId, [
      { account: contributors[0]!, amount: parseEther('3'), reputationGain: 1n, commitment: commitment(0) },
      { account: contributors[1]!, amount: parseEther('1'), reputationGain: 11n, commitment: commitment(1) },
    ])
    const result = settlementResultFrom(roundId, keccak256(toHex('greedy')), tree)
    await admin.rounds.settle(result, [
      await committee[0]!.rounds.signResult(result),
      await committee[1]!.rounds.signResult(result),
    ])
    const balance = await admin.token.balanceOf(contributors[0]!)
    await expect(admin.rounds.claim(tree.claimFor(contributors[0]!))).rejects.toMatchObject({
      errorName: 'RewardExceedsShare',
    })
    await expect(admin.rounds.claim(tree.claimFor(contributors[1]!))).rejects.toMatchObject({
      errorName: 'ReputationGainExceedsCap',
    })
    expect(await admin.token.balanceOf(contributors[0]!)).toBe(balance)
    expect((await admin.rounds.roundOf(roundId)).claimed).toBe(0n)
  })

  it('slashes a committee member who signed a different result', async () => {
    const roundId = await openRound(0n)
    const tree = buildRewardTree(roundId, [
      { account: contributors[0]!, amount: 0n, reputationGain: 1n, commitment: commitment(0) },
    ])
    const result = settlementResultFrom(roundId, keccak256(toHex('honest')), tree)
    await admin.rounds.settle(result, [
      await committee[0]!.rounds.signResult(result),
      await committee[1]!.rounds.signResult(result),
    ])
    const dissent = { ...result, modelHash: keccak256(toHex('other')) }
    const evidence = await committee[2]!.rounds.signResult(dissent)
    const before = await admin.staking.stakeOf(committee[2]!.account!)
    const { events } = await outsider.rounds.slashDissenter(dissent, evidence)
    expect(events.map((e) => e.eventName)).toEqual(expect.arrayContaining(['Slashed', 'DissenterSlashed']))
    expect(before - (await admin.staking.stakeOf(committee[2]!.account!))).toBe(parseEther('500'))
  })

  it('refuses a committee member below the committee tier', async () => {
    const { timestamp } = await shared.publicClient.getBlock()
    await outsider.staking.stake(parseEther('100'))
    await expect(
      admin.rounds.open({
        jobId: keccak256(toHex('j')),
        committee: [outsider.account!],
        deadline: timestamp + 60n,
        rewardPool: 0n,
      }),
    ).rejects.toSatisfy((e: unknown) => e instanceof TierTooLowError && e.tier === 1 && e.required === 3)
  })
})

describe('settlement helpers (no chain)', () => {
  const a = (n: number) => `0x${n.toString(16).padStart(40, '0')}` as const

  it('reward trees refuse duplicates, bad commitments and malformed dumps', () => {
    const c = { account: a(1), amount: 1n, reputationGain: 1n, commitment: commitment(1) }
    expect(() => buildRewardTree(1n, [c, c])).toThrow(InvalidInputError)
    expect(() => buildRewardTree(1n, [{ ...c, commitment: '0x12' as Hex }])).toThrow(InvalidInputError)
    expect(() => buildRewardTree(1n, [])).toThrow(InvalidInputError)
    expect(() => loadRewardTree({ format: 'nope' })).toThrow(InvalidInputError)
    const dump = buildRewardTree(1n, [c]).dump()
    expect(() => loadRewardTree({ ...dump, roundId: '2' })).toThrow(/mixes rounds/)
    expect(() => loadRewardTree({ ...dump, tree: { ...dump.tree, tree: ['0x00'] } })).toThrow(InvalidInputError)
  })
})
