import { encodeFunctionData, parseEther } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  AlreadyVotedError,
  CooldownNotLongerThanVotingError,
  decodeRevert,
  deployVain,
  InvalidInputError,
  NoVotingPowerError,
  reputationAbi,
  stakingAbi,
  TierTooLowError,
  TimelockActiveError,
} from '../src/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()

describe('governance through the client', () => {
  it('proposes, votes by stake × tier, waits out the timelock and executes', async () => {
    const { admin, nodes } = await freshSuite(shared, {
      nodes: [17, 18, 19],
      params: {
        reputation: { minReputation: [0n, 0n, 0n] },
        governance: { quorumVotes: parseEther('30000'), votingPeriodSeconds: 600n, timelockSeconds: 300n },
      },
    })
    const [t3, t2, t1] = nodes as [typeof admin, typeof admin, typeof admin]
    await t3.staking.stake(parseEther('10000'))
    await t2.staking.stake(parseEther('1000'))
    await t1.staking.stake(parseEther('100'))
    const data = encodeFunctionData({ abi: reputationAbi, functionName: 'setMinReputation', args: [[0n, 10n, 20n]] })
    const action = { target: admin.addresses.reputation, data }
    await expect(t1.governance.propose([action], 'tier 1 cannot propose')).rejects.toBeInstanceOf(TierTooLowError)
    const { proposalId } = await t2.governance.propose([action], 'raise reputation thresholds')
    expect(await t3.governance.votingPower(proposalId)).toBe(parseEther('30000')) // 10,000 × tier 3
    await t3.governance.vote(proposalId, 'for')
    await t1.governance.vote(proposalId, 'against')
    await expect(t3.governance.vote(proposalId, 'for')).rejects.toBeInstanceOf(AlreadyVotedError)
    expect(await admin.governance.proposalOf(proposalId)).toMatchObject({
      forVotes: parseEther('30000'),
      againstVotes: parseEther('100'), // 100 × tier 1
    })
    await t2.governance.vote(proposalId, 'abstain')
    expect(await admin.governance.state(proposalId)).toBe('active')
    await shared.increaseTime(601n)
    expect(await admin.governance.state(proposalId)).toBe('succeeded')
    await admin.governance.queue(proposalId)
    await expect(admin.governance.execute(proposalId)).rejects.toBeInstanceOf(TimelockActiveError)
    await shared.increaseTime(300n)
    await admin.governance.execute(proposalId)
    expect(await admin.governance.state(proposalId)).toBe('executed')
    expect(await admin.reputation.minReputations()).toEqual([0n, 10n, 20n])
    // thresholds now need reputation: t2 and t3 drop to tier 1
    expect(await t3.reputation.tierOf()).toBe(1)
  })

  it('splitting stake adds no weight, and stake moved after the proposal does not vote', async () => {
    const { admin, nodes } = await freshSuite(shared, {
      nodes: [10, 11, 12, 13, 14, 15, 16],
      params: {
        reputation: { minReputation: [0n, 0n, 0n] },
        governance: { quorumVotes: parseEther('2000'), votingPeriodSeconds: 600n, timelockSeconds: 300n },
      },
    })
    const [whole, mover, late, ...split] = nodes as [typeof admin, typeof admin, typeof admin, ...(typeof admin)[]]
    // 1,000 VAIN on one address (tier 2) against the same 1,000 on four addresses of 250 (tier 1)
    await whole.staking.stake(parseEther('1000'))
    for (const n of split) await n.staking.stake(parseEther('250'))
    await mover.staking.stake(parseEther('1000'))
    const data = encodeFunctionData({ abi: stakingAbi, functionName: 'setCooldown', args: [3600n] })
    const { proposalId } = await whole.governance.propose(
      [{ target: admin.addresses.staking, data }],
      'longer cooldown',
    )
    let splitWeight = 0n
    for (const n of split) splitWeight += await n.governance.votingPower(proposalId)
    expect(splitWeight).toBe(parseEther('1000'))
    expect(await whole.governance.votingPower(proposalId)).toBe(parseEther('2000'))
    for (const n of split) await n.governance.vote(proposalId, 'for')
    // the split side alone no longer reaches a quorum the same stake on one address reaches
    expect((await admin.governance.proposalOf(proposalId)).forVotes).toBeLessThan(parseEther('2000'))

    // mover votes, unstakes, hands its tokens to `late`, which stakes them: `late` has no vote here
    await mover.governance.vote(proposalId, 'against')
    await mover.staking.requestUnstake(parseEther('1000'))
    await mover.token.transfer(late.account!, parseEther('1000'))
    await late.staking.stake(parseEther('11000'))
    expect(await late.reputation.tierOf()).toBe(3)
    await expect(late.governance.vote(proposalId, 'for')).rejects.toBeInstanceOf(NoVotingPowerError)
    expect((await admin.governance.proposalOf(proposalId)).againstVotes).toBe(parseEther('2000'))
  })

  it('keeps the cooldown longer than the voting period', async () => {
    const { admin } = await freshSuite(shared, {
      nodes: [],
      params: { staking: { cooldownSeconds: 900n }, governance: { votingPeriodSeconds: 600n } },
    })
    const wallet = admin.walletClient!
    const err = await wallet
      .writeContract({
        address: admin.addresses.staking,
        abi: stakingAbi,
        functionName: 'setCooldown',
        args: [600n],
        account: wallet.account,
        chain: wallet.chain,
      })
      .catch(decodeRevert)
    expect(err).toBeInstanceOf(CooldownNotLongerThanVotingError)
    expect((err as Error).message).toMatch(/cooldown \(600 s\) must be longer than the voting period \(600 s\)/)
    // deployVain wires governance into Staking and checks the rule before sending anything
    expect((await admin.contracts.staking.read.governance()).toLowerCase()).toBe(
      admin.addresses.governance.toLowerCase(),
    )
    expect(await admin.contracts.governance.read.quorumVotes()).toBe(parseEther('100000'))
    await expect(
      deployVain(shared.walletClient(0), {
        staking: { cooldownSeconds: 600n },
        governance: { votingPeriodSeconds: 600n },
      }),
    ).rejects.toSatisfy(
      (e: Error) => e instanceof InvalidInputError && /cooldownSeconds must be longer/.test(e.message),
    )
  })
})
