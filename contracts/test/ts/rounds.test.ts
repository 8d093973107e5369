import { strict as assert } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { encodeAbiParameters, type Hex, keccak256, parseEther, toHex } from 'viem'
import { DISSENT_SLASH, deploySuite, MIN_STAKE, type Suite, type Wallet } from './fixture.js'

const LEAF = ['uint256', 'address', 'uint256', 'uint256', 'bytes32']

describe('rounds and rewards (viem, in-process network)', () => {
  let s: Suite
  let committee: Wallet[]

  before(async () => {
    s = await deploySuite()
    committee = s.nodes.slice(0, 3)
    for (const m of committee) await s.makeTier(m, 3)
    await s.token.write.approve([s.rounds.address, parseEther('1000000')])
  })
  after(async () => {
    await s.connection.close()
  })

  async function signResult(member: Wallet, result: Result) {
    const chainId = await s.publicClient.getChainId()
    return member.signTypedData({
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
    })
  }

  type Result = { roundId: bigint; modelHash: Hex; rewardsRoot: Hex; totalReward: bigint; contributions: number }

  async function openRound(pool: bigint) {
    const { timestamp } = await s.publicClient.getBlock()
    const hash = await s.rounds.write.openRound([
      keccak256(toHex('mnist-job')),
      committee.map((m) => m.account.address),
      2,
      timestamp + 3600n,
      pool,
    ])
    await s.publicClient.waitForTransactionReceipt({ hash })
    return s.rounds.read.roundCount()
  }

  it('settles by quorum signatures and pays every contributor by Merkle proof', async () => {
    const roundId = await openRound(parseEther('100'))
    const contributors = s.nodes.slice(3, 8)
    const values = contributors.map((c, i) => [
      roundId,
      c.account.address,
      parseEther('20'), // an equal share of the 100 VAIN pool each
      BigInt(5 + i), // at most the round's reputation cap (10)
      keccak256(toHex(`update-${i}`)),
    ])
    const tree = StandardMerkleTree.of(values, LEAF)
    const total = values.reduce((sum, v) => sum + (v[2] as bigint), 0n)
    const result: Result = {
      roundId,
      modelHash: keccak256(toHex('model-r1')),
      rewardsRoot: tree.root as Hex,
      totalReward: total,
      contributions: values.length,
    }
    const signers = [committee[0]!, committee[2]!].sort((a, b) =>
      a.account.address.toLowerCase() < b.account.address.toLowerCase() ? -1 : 1,
    )
    const sigs = await Promise.all(signers.map((m) => signResult(m, result)))
    await s.viem.assertions.emitWithArgs(s.rounds.write.settle([result, sigs]), s.rounds, 'RoundSettled', [
      roundId,
      result.modelHash,
      result.rewardsRoot,
      total,
      5,
      2n,
    ])
    for (const [i, v] of tree.entries()) {
      const [, account, amount, gain, commitment] = v as [bigint, Hex, bigint, bigint, Hex]
      const before = await s.token.read.balanceOf([account])
      await s.viem.assertions.emitWithArgs(
        s.rounds.write.claim([roundId, account, amount, gain, commitment, tree.getProof(i) as Hex[]]),
        s.rounds,
        'RewardClaimed',
        [roundId, account, amount, gain, commitment],
      )
      assert.equal((await s.token.read.balanceOf([account])) - before, amount)
      assert.equal(await s.rounds.read.isClaimed([roundId, account]), true)
      assert.equal(await s.reputation.read.reputationOf([account]), gain)
    }
    // the round manager holds nothing more for this round
    assert.equal(await s.token.read.balanceOf([s.rounds.address]), 0n)
  })

  it('slashes a committee member who signed a different result', async () => {
    const roundId = await openRound(0n)
    const result: Result = {
      roundId,
      modelHash: keccak256(toHex('honest')),
      rewardsRoot: keccak256(toHex('root')),
      totalReward: 0n,
      contributions: 0,
    }
    const ordered = [...committee].sort((a, b) =>
      a.account.address.toLowerCase() < b.account.address.toLowerCase() ? -1 : 1,
    )
    const sigs = await Promise.all(ordered.slice(0, 2).map((m) => signResult(m, result)))
    await s.rounds.write.settle([result, sigs])
    const dissenter = ordered[2]!
    const evidence = await signResult(dissenter, { ...result, modelHash: keccak256(toHex('other')) })
    const before = await s.staking.read.stakeOf([dissenter.account.address])
    await s.viem.assertions.emitWithArgs(
      s.rounds.write.slashDissenter([{ ...result, modelHash: keccak256(toHex('other')) }, evidence], {
        account: s.nodes[7]!.account,
      }),
      s.staking,
      'Slashed',
      [
        dissenter.account.address,
        DISSENT_SLASH,
        s.rounds.address,
        keccak256(encodeAbiParameters([{ type: 'string' }, { type: 'uint256' }], ['dissent', roundId])),
        '0x0000000000000000000000000000000000000000',
      ],
    )
    assert.equal(before - (await s.staking.read.stakeOf([dissenter.account.address])), DISSENT_SLASH)
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.rounds.write.slashDissenter([{ ...result, modelHash: keccak256(toHex('other')) }, evidence]),
      s.rounds,
      'AlreadySlashed',
      [roundId, dissenter.account.address],
    )
  })

  it('refuses a committee member below tier 3 with TierTooLow', async () => {
    const weak = s.nodes[3]!
    await s.stake(weak, MIN_STAKE[0])
    const { timestamp } = await s.publicClient.getBlock()
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.rounds.write.openRound([keccak256(toHex('j')), [weak.account.address], 1, timestamp + 60n, 0n]),
      s.rounds,
      'TierTooLow',
      [weak.account.address, 1, 3],
    )
  })
})
