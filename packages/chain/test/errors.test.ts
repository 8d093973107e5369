import { encodeErrorResult, parseEther } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  allVainAbis,
  ContractRevertError,
  CooldownActiveError,
  decodeRevert,
  decodeRevertData,
  InsufficientStakeError,
  StakeTooLowError,
  UnauthorizedError,
  VAIN_ROLES,
} from '../src/index.js'
import { freshSuite, libp2pIdentity, sharedChain } from './helpers.js'

const shared = sharedChain()
const NODE = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8'

describe('revert decoding (no chain)', () => {
  it('turns StakeTooLow data into a StakeTooLowError that says why', () => {
    const data = encodeErrorResult({
      abi: allVainAbis,
      errorName: 'StakeTooLow',
      args: [NODE, parseEther('50'), parseEther('100')],
    })
    const err = decodeRevertData(data)
    expect(err).toBeInstanceOf(StakeTooLowError)
    expect(err?.name).toBe('StakeTooLowError')
    expect(err?.message).toBe(`node ${NODE} has 50 VAIN staked but needs at least 100 VAIN`)
    expect((err as StakeTooLowError).required).toBe(parseEther('100'))
  })

  it('names the missing role of an access-control revert', () => {
    const data = encodeErrorResult({
      abi: allVainAbis,
      errorName: 'AccessControlUnauthorizedAccount',
      args: [NODE, VAIN_ROLES.SLASHER],
    })
    const err = decodeRevertData(data) as UnauthorizedError
    expect(err.name).toBe('UnauthorizedError')
    expect(err.message).toBe(`account ${NODE} lacks the SLASHER role`)
  })

  it('explains a failed governance action by its inner error', () => {
    const inner = encodeErrorResult({
      abi: allVainAbis,
      errorName: 'CooldownTooLong',
      args: [400n * 86_400n, 365n * 86_400n],
    })
    const err = decodeRevertData(encodeErrorResult({ abi: allVainAbis, errorName: 'ActionFailed', args: [0n, inner] }))
    expect(err?.message).toBe('proposal action 0 reverted: a cooldown of 34560000 s exceeds the maximum of 31536000 s')
  })

  it('returns undefined for empty or unknown data', () => {
    expect(decodeRevertData('0x')).toBeUndefined()
    expect(decodeRevertData('0xdeadbeef')).toBeUndefined()
  })
})

describe('reverts from a real chain become typed errors', () => {
  it('StakeTooLow, InsufficientStake, CooldownActive, Unauthorized', async () => {
    const { nodes } = await freshSuite(shared, { nodes: [1] })
    const node = nodes[0]!
    await expect(node.registry.register(libp2pIdentity('poor').key)).rejects.toBeInstanceOf(StakeTooLowError)
    await node.staking.stake(parseEther('100'))
    await expect(node.staking.requestUnstake(parseEther('101'))).rejects.toBeInstanceOf(InsufficientStakeError)
    await node.staking.requestUnstake(parseEther('1'))
    const err = await node.staking.withdraw().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CooldownActiveError)
    expect((err as CooldownActiveError).unlockAt).toBe((await node.staking.accountOf()).unlockAt)
    const unauthorized = await node.contracts.staking.simulate
      .setCooldown([1n], { account: node.account! })
      .catch(decodeRevert)
    expect(unauthorized).toBeInstanceOf(UnauthorizedError)
    expect((unauthorized as UnauthorizedError).roleName).toBe('GOVERNOR')
    const denied = await node.rounds.cancelExpired(999n).catch((e: unknown) => e)
    expect(denied).toBeInstanceOf(ContractRevertError)
    expect((denied as ContractRevertError).errorName).toBe('WrongRoundStatus')
    expect((denied as Error).message).toBe('round 999 is unknown')
  })
})
