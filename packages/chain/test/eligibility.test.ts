import { parseEther, zeroAddress } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  assertEligible,
  chainEligibility,
  checkEligibility,
  DEFAULT_ROLE_TIERS,
  InvalidInputError,
  roleTiersWith,
  StakeTooLowError,
  type StandingForEligibility,
  TierTooLowError,
  UnknownRoleError,
} from '../src/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()
const base: StandingForEligibility = {
  address: zeroAddress,
  staked: 0n,
  reputation: 0n,
  tier: 0,
  minStake: [parseEther('100'), parseEther('1000'), parseEther('10000')],
  minReputation: [0n, 100n, 1000n],
}

describe('eligibility policy: staked and tier >= required for the role', () => {
  it('refuses an unstaked node with StakeTooLowError, whatever the role', () => {
    const verdict = checkEligibility(base, 'light')
    expect(verdict.eligible).toBe(false)
    if (verdict.eligible) return
    expect(verdict.error).toBeInstanceOf(StakeTooLowError)
    expect(verdict.error.message).toContain('has 0 VAIN staked but needs at least 100 VAIN')
    expect(verdict.error.message).toContain('the light role needs a stake')
  })

  it('refuses a staked node below the role’s tier with TierTooLowError that says what is missing', () => {
    const standing = { ...base, staked: parseEther('1000'), reputation: 120n, tier: 2 }
    expect(checkEligibility(standing, 'trainer').eligible).toBe(true)
    const verdict = checkEligibility(standing, 'aggregator')
    expect(verdict.eligible).toBe(false)
    if (verdict.eligible) return
    expect(verdict.error).toBeInstanceOf(TierTooLowError)
    expect(verdict.error.message).toBe(
      `node ${zeroAddress} is tier 2 but needs tier 3 or higher\naggregator needs 10000 VAIN staked and reputation 1000; it has 1000 VAIN and reputation 120`,
    )
    expect(() => assertEligible(standing, 'validator')).toThrow(TierTooLowError)
  })

  it('takes custom role tiers', () => {
    const standing = { ...base, staked: parseEther('100'), tier: 1 }
    expect(checkEligibility(standing, 'trainer', { light: 1, trainer: 1, aggregator: 3, validator: 3 }).eligible).toBe(
      true,
    )
  })

  it('refuses a role the role→tier map does not name with UnknownRoleError', async () => {
    const standing = { ...base, staked: parseEther('10000'), reputation: 1000n, tier: 3 }
    let err: unknown
    try {
      checkEligibility(standing, 'trainr')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(UnknownRoleError)
    expect(err).toMatchObject({ name: 'UnknownRoleError', role: 'trainr', known: Object.keys(DEFAULT_ROLE_TIERS) })
    expect((err as Error).message).toBe(
      'unknown role "trainr": no tier is set for it (roles: light, trainer, aggregator, validator)',
    )
    // an inherited property is no role either; a map of its own names its own roles
    expect(() => checkEligibility(standing, 'toString')).toThrow(UnknownRoleError)
    expect(() => assertEligible(standing, 'aggregator', { trainer: 2 })).toThrow(UnknownRoleError)
    expect(checkEligibility(standing, 'auditor', { auditor: 3 }).eligible).toBe(true)
    // checked before the chain is read
    const unread = { standing: () => Promise.reject(new Error('read the chain')) }
    await expect(chainEligibility(unread)(zeroAddress, 'validtor')).rejects.toThrow(UnknownRoleError)
  })

  it('roleTiersWith overrides the default tiers, and refuses a tier that does not exist', () => {
    expect(roleTiersWith({ aggregator: 2, trainer: undefined })).toEqual({
      light: 1,
      trainer: 2,
      aggregator: 2,
      validator: 3,
    })
    expect(() => roleTiersWith({ trainer: 4 })).toThrow(InvalidInputError)
  })

  it('reads the standing from chain', async () => {
    const { nodes } = await freshSuite(shared, { nodes: [2] })
    const node = nodes[0]!
    const eligible = chainEligibility(node)
    expect((await eligible(node.account!, 'light')).eligible).toBe(false)
    await node.staking.stake(parseEther('1000'))
    expect((await eligible(node.account!, 'light')).eligible).toBe(true)
    // tier 2 needs reputation 100 too
    const trainer = await eligible(node.account!, 'trainer')
    expect(trainer).toMatchObject({ eligible: false, tier: 1, required: 2 })
  })
})
