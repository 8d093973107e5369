import { strict as assert } from 'node:assert'
import { after, before, describe, it } from 'node:test'
import { keccak256, toHex, zeroAddress } from 'viem'
import { deploySuite, role, type Suite } from './fixture.js'

/**
 * Every privileged function, called by an account without the role, reverts with the error
 * naming the missing role; the deployment wires exactly the roles it should.
 */
describe('access control on every privileged function', () => {
  let s: Suite
  before(async () => {
    s = await deploySuite()
  })
  after(async () => {
    await s.connection.close()
  })

  it('rejects outsiders with AccessControlUnauthorizedAccount(account, role)', async () => {
    const outsider = s.nodes[8]!
    const who = outsider.account.address
    const opts = { account: outsider.account }
    const cases = [
      [s.staking, 'SLASHER_ROLE', () => s.staking.write.slash([who, 1n, keccak256(toHex('x'))], opts)],
      [s.staking, 'GOVERNOR_ROLE', () => s.staking.write.setCooldown([1n], opts)],
      [s.staking, 'GOVERNOR_ROLE', () => s.staking.write.setTreasury([who], opts)],
      [s.staking, 'GOVERNOR_ROLE', () => s.staking.write.setMinStake([[1n, 2n, 3n]], opts)],
      [s.staking, 'DEFAULT_ADMIN_ROLE', () => s.staking.write.grantRole([role('SLASHER_ROLE'), who], opts)],
      [s.staking, 'DEFAULT_ADMIN_ROLE', () => s.staking.write.setGovernance([who], opts)],
      [s.reputation, 'UPDATER_ROLE', () => s.reputation.write.increase([who, 1n], opts)],
      [s.reputation, 'UPDATER_ROLE', () => s.reputation.write.decrease([who, 1n], opts)],
      [s.reputation, 'GOVERNOR_ROLE', () => s.reputation.write.setDecay([1n, 1], opts)],
      [s.reputation, 'GOVERNOR_ROLE', () => s.reputation.write.setMinReputation([[0n, 0n, 0n]], opts)],
      [s.reputation, 'DEFAULT_ADMIN_ROLE', () => s.reputation.write.grantRole([role('UPDATER_ROLE'), who], opts)],
      [s.rounds, 'OPENER_ROLE', () => s.rounds.write.openRound([keccak256(toHex('j')), [who], 1, 2n ** 40n, 0n], opts)],
      [s.rounds, 'GOVERNOR_ROLE', () => s.rounds.write.setDissentPenalty([1n, 1n], opts)],
      [s.rounds, 'GOVERNOR_ROLE', () => s.rounds.write.setCommitteeTier([1], opts)],
      [s.rounds, 'GOVERNOR_ROLE', () => s.rounds.write.setCommitteeReputationPerRound([1n], opts)],
      [s.rounds, 'DEFAULT_ADMIN_ROLE', () => s.rounds.write.grantRole([role('OPENER_ROLE'), who], opts)],
    ] as const
    for (const [contract, roleName, call] of cases) {
      const expected = roleName === 'DEFAULT_ADMIN_ROLE' ? `0x${'0'.repeat(64)}` : role(roleName)
      await s.viem.assertions.revertWithCustomErrorWithArgs(
        call() as Promise<`0x${string}`>,
        contract as typeof s.staking,
        'AccessControlUnauthorizedAccount',
        [who, expected as `0x${string}`],
      )
    }
  })

  it('governance parameters change only through governance itself', async () => {
    await s.viem.assertions.revertWithCustomError(
      s.governance.write.setParams([1n, 1n, 1n, 1]),
      s.governance,
      'OnlyGovernance',
    )
  })

  it('wires the roles the suite needs and no others', async () => {
    const has = (
      c: { read: { hasRole: (a: readonly [`0x${string}`, `0x${string}`]) => Promise<boolean> } },
      r: string,
      a: `0x${string}`,
    ) => c.read.hasRole([role(r), a])
    assert.equal(await has(s.staking, 'SLASHER_ROLE', s.rounds.address), true)
    assert.equal(await has(s.staking, 'SLASHER_ROLE', s.governance.address), true)
    assert.equal(await has(s.staking, 'GOVERNOR_ROLE', s.governance.address), true)
    assert.equal(await has(s.reputation, 'UPDATER_ROLE', s.rounds.address), true)
    assert.equal(await has(s.reputation, 'UPDATER_ROLE', s.admin.account.address), false)
    assert.equal(await has(s.rounds, 'GOVERNOR_ROLE', s.governance.address), true)
    assert.equal(await has(s.staking, 'SLASHER_ROLE', s.admin.account.address), false)
    assert.equal(await s.staking.read.treasury(), zeroAddress)
  })
})
