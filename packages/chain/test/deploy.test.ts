import { parseEther, zeroAddress } from 'viem'
import { describe, expect, it } from 'vitest'
import { deployVain, InvalidInputError, VAIN_ROLES } from '../src/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()

describe('deployVain', () => {
  it('deploys the six contracts and wires their roles (deployer keeps control by default)', async () => {
    const { deployment, admin } = await freshSuite(shared, { nodes: [] })
    const { addresses } = deployment
    expect(new Set(Object.values(addresses)).size).toBe(6)
    const c = admin.contracts
    const deployer = admin.account!
    expect(await c.staking.read.hasRole([VAIN_ROLES.SLASHER, addresses.roundManager])).toBe(true)
    expect(await c.staking.read.hasRole([VAIN_ROLES.SLASHER, addresses.governance])).toBe(true)
    expect(await c.staking.read.hasRole([VAIN_ROLES.GOVERNOR, addresses.governance])).toBe(true)
    expect(await c.reputation.read.hasRole([VAIN_ROLES.UPDATER, addresses.roundManager])).toBe(true)
    expect(await c.roundManager.read.hasRole([VAIN_ROLES.OPENER, deployer])).toBe(true)
    expect(await c.staking.read.hasRole([VAIN_ROLES.DEFAULT_ADMIN, deployer])).toBe(true)
    expect(await admin.token.balanceOf()).toBe(parseEther('1000000000'))
    expect(await admin.staking.minStakes()).toEqual([parseEther('100'), parseEther('1000'), parseEther('10000')])
    expect(await c.staking.read.treasury()).toBe(zeroAddress)
    expect(deployment.gasUsed).toBeGreaterThan(0n)
  })

  it("with admin: 'governance', the deployer keeps no role", async () => {
    const { deployment, admin } = await freshSuite(shared, { nodes: [], params: { admin: 'governance' } })
    const deployer = admin.account!
    const c = admin.contracts
    for (const contract of [c.staking, c.reputation, c.roundManager]) {
      expect(await contract.read.hasRole([VAIN_ROLES.DEFAULT_ADMIN, deployer])).toBe(false)
      expect(await contract.read.hasRole([VAIN_ROLES.GOVERNOR, deployer])).toBe(false)
      expect(await contract.read.hasRole([VAIN_ROLES.DEFAULT_ADMIN, deployment.addresses.governance])).toBe(true)
    }
    expect(await c.roundManager.read.hasRole([VAIN_ROLES.OPENER, deployer])).toBe(false)
  })

  it('refuses inconsistent parameters before sending anything', async () => {
    await expect(
      deployVain(shared.walletClient(0), { staking: { minStake: [10n, 5n, 20n] }, reputation: { decayBps: 20_000 } }),
    ).rejects.toSatisfy(
      (err: Error) => err instanceof InvalidInputError && /minStake/.test(err.message) && /decayBps/.test(err.message),
    )
  })
})
