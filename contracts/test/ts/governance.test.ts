import { strict as assert } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { encodeFunctionData, parseEther } from 'viem'
import { deploySuite, type Suite, TIMELOCK, VOTING_PERIOD } from './fixture.js'

const FOR = 1
const AGAINST = 0

describe('governance (viem, in-process network)', () => {
  let s: Suite
  before(async () => {
    s = await deploySuite()
    await s.makeTier(s.nodes[0]!, 3)
    await s.makeTier(s.nodes[1]!, 2)
    await s.makeTier(s.nodes[2]!, 1)
  })
  after(async () => {
    await s.connection.close()
  })

  it('changes tier thresholds through a vote weighted by stake × tier and a timelock', async () => {
    const [t3, t2, t1] = s.nodes as [typeof s.admin, typeof s.admin, typeof s.admin]
    const data = encodeFunctionData({
      abi: s.reputation.abi,
      functionName: 'setMinReputation',
      args: [[0n, 50n, 500n]],
    })
    await s.governance.write.propose([[s.reputation.address], [data], 'lower reputation thresholds'], {
      account: t2.account,
    })
    const id = await s.governance.read.proposalCount()
    await s.viem.assertions.emitWithArgs(
      s.governance.write.castVote([id, FOR], { account: t3.account }),
      s.governance,
      'VoteCast',
      [t3.account.address, id, FOR, parseEther('30000')],
    )
    await s.governance.write.castVote([id, AGAINST], { account: t1.account })
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.governance.write.castVote([id, FOR], { account: t3.account }),
      s.governance,
      'AlreadyVoted',
      [id, t3.account.address],
    )
    await s.governance.write.castVote([id, FOR], { account: t2.account })
    const p = await s.governance.read.proposalOf([id])
    assert.equal(p.forVotes, parseEther('32000')) // 10,000 × 3 + 1,000 × 2
    assert.equal(p.againstVotes, parseEther('100')) // 100 × 1

    await s.networkHelpers.time.increase(VOTING_PERIOD + 1n)
    await s.governance.write.queue([id])
    const { eta } = await s.governance.read.proposalOf([id])
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.governance.write.execute([id]),
      s.governance,
      'TimelockActive',
      [eta],
    )
    await s.networkHelpers.time.increase(TIMELOCK)
    await s.viem.assertions.emitWithArgs(s.governance.write.execute([id]), s.reputation, 'MinReputationSet', [
      [0n, 50n, 500n],
    ])
    assert.equal(await s.reputation.read.minReputation([3]), 500n)
  })

  it('reads weights at the snapshot: stake staked after the proposal does not vote', async () => {
    const [t3, , , late] = s.nodes as [typeof s.admin, typeof s.admin, typeof s.admin, typeof s.admin]
    const data = encodeFunctionData({ abi: s.staking.abi, functionName: 'setCooldown', args: [8n * 86_400n] })
    await s.governance.write.propose([[s.staking.address], [data], 'longer cooldown'], { account: t3.account })
    const id = await s.governance.read.proposalCount()
    const { snapshot } = await s.governance.read.proposalOf([id])
    await s.makeTier(late, 3)
    assert.equal(await s.reputation.read.tierOf([late.account.address]), 3)
    assert.equal(await s.governance.read.votingPowerAt([late.account.address, snapshot]), 0n)
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.governance.write.castVote([id, FOR], { account: late.account }),
      s.governance,
      'NoVotingPower',
      [late.account.address],
    )
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.staking.write.setCooldown([VOTING_PERIOD]),
      s.staking,
      'CooldownNotLongerThanVoting',
      [VOTING_PERIOD, VOTING_PERIOD],
    )
  })
})
