import { encodeFunctionData, parseEther } from 'viem'
import { describe, expect, it } from 'vitest'
import { AlreadyVotedError, reputationAbi, TierTooLowError, TimelockActiveError } from '../src/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()

describe('governance through the client', () => {
  it('proposes, votes by tier, waits out the timelock and executes', async () => {
    const { admin, nodes } = await freshSuite(shared, {
      nodes: [17, 18, 19],
      params: {
        reputation: { minReputation: [0n, 0n, 0n] },
        governance: { quorumVotes: 4n, votingPeriodSeconds: 600n, timelockSeconds: 300n },
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
    await t3.governance.vote(proposalId, 'for')
    await t1.governance.vote(proposalId, 'against')
    await expect(t3.governance.vote(proposalId, 'for')).rejects.toBeInstanceOf(AlreadyVotedError)
    expect(await admin.governance.proposalOf(proposalId)).toMatchObject({ forVotes: 3n, againstVotes: 1n })
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
})
