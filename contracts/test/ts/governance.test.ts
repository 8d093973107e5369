import { strict as assert } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { encodeFunctionData } from 'viem'
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

  it('changes tier thresholds through a tier-weighted vote and a timelock', async () => {
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
      [t3.account.address, id, FOR, 3n],
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
    assert.equal(p.forVotes, 5n)
    assert.equal(p.againstVotes, 1n)

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
})
