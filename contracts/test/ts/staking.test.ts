import { strict as assert } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { getAddress, parseEther } from 'viem'
import { COOLDOWN, deploySuite, MIN_STAKE, type Suite } from './fixture.js'
import { PEER_ID, peerProof } from './peer-proof.js'

describe('staking, registry and tiers (viem, in-process network)', () => {
  let s: Suite
  before(async () => {
    s = await deploySuite()
  })
  after(async () => {
    await s.connection.close()
  })

  it('stakes in one transaction with an EIP-2612 permit', async () => {
    const node = s.nodes[0]!
    const amount = parseEther('150')
    const chainId = await s.publicClient.getChainId()
    const deadline = (await s.publicClient.getBlock()).timestamp + 600n
    const signature = await node.signTypedData({
      domain: { name: 'vAIn', version: '1', chainId, verifyingContract: s.token.address },
      types: {
        Permit: [
          { name: 'owner', type: 'address' },
          { name: 'spender', type: 'address' },
          { name: 'value', type: 'uint256' },
          { name: 'nonce', type: 'uint256' },
          { name: 'deadline', type: 'uint256' },
        ],
      },
      primaryType: 'Permit',
      message: {
        owner: node.account.address,
        spender: s.staking.address,
        value: amount,
        nonce: await s.token.read.nonces([node.account.address]),
        deadline,
      },
    })
    const r = `0x${signature.slice(2, 66)}` as const
    const sv = `0x${signature.slice(66, 130)}` as const
    const v = Number.parseInt(signature.slice(130, 132), 16)
    await s.viem.assertions.emitWithArgs(
      s.staking.write.stakeWithPermit([amount, deadline, v, r, sv], { account: node.account }),
      s.staking,
      'Staked',
      [node.account.address, amount, amount],
    )
    assert.equal(await s.reputation.read.tierOf([node.account.address]), 1)
  })

  it('registers the peer id only with enough stake, and emits NodeRegistered', async () => {
    const poor = s.nodes[1]!
    const chainId = await s.publicClient.getChainId()
    const proofFor = (node: typeof poor) =>
      peerProof({ chainId, registry: s.registry.address, node: node.account.address })
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.registry.write.register([PEER_ID, await proofFor(poor)], { account: poor.account }),
      s.registry,
      'StakeTooLow',
      [poor.account.address, 0n, MIN_STAKE[0]],
    )
    const node = s.nodes[0]!
    await s.viem.assertions.emitWithArgs(
      s.registry.write.register([PEER_ID, await proofFor(node)], { account: node.account }),
      s.registry,
      'NodeRegistered',
      [node.account.address, PEER_ID],
    )
    assert.equal(await s.registry.read.nodeOf([PEER_ID]), getAddress(node.account.address))
  })

  it('holds unstaked tokens until the cooldown is over', async () => {
    const node = s.nodes[0]!
    await s.staking.write.requestUnstake([parseEther('50')], { account: node.account })
    const { unlockAt } = await s.staking.read.accountOf([node.account.address])
    await s.viem.assertions.revertWithCustomErrorWithArgs(
      s.staking.write.withdraw({ account: node.account }),
      s.staking,
      'CooldownActive',
      [unlockAt],
    )
    await s.networkHelpers.time.increase(COOLDOWN)
    await s.viem.assertions.emitWithArgs(s.staking.write.withdraw({ account: node.account }), s.staking, 'Withdrawn', [
      node.account.address,
      parseEther('50'),
    ])
    const balance = await s.token.read.balanceOf([s.staking.address])
    assert.equal(balance, (await s.staking.read.totalStaked()) + (await s.staking.read.totalPending()))
  })
})
