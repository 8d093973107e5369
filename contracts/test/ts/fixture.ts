import { network } from 'hardhat'
import { type Address, keccak256, parseEther, toBytes } from 'viem'

/** Parameters used by the TypeScript tests (same as the Solidity tests' Suite). */
export const SUPPLY = parseEther('1000000000')
export const COOLDOWN = 7n * 24n * 3600n
export const MIN_STAKE = [parseEther('100'), parseEther('1000'), parseEther('10000')] as const
export const MIN_REPUTATION = [0n, 100n, 1000n] as const
export const VOTING_PERIOD = 3n * 24n * 3600n
export const TIMELOCK = 2n * 24n * 3600n
/** Governance quorum in weight units (stake in wei × tier): one tier-3 node at the tier-3 minimum. */
export const QUORUM = parseEther('30000')
export const DISSENT_SLASH = parseEther('500')

export const role = (name: string) => keccak256(toBytes(name))

/**
 * Deploys and wires the suite on a fresh in-process Hardhat network: the admin keeps its
 * GOVERNOR/OPENER roles (as `deployVain` does by default), governance gets GOVERNOR and SLASHER,
 * the round manager gets SLASHER and UPDATER. Accounts 1..8 each get 100,000 VAIN.
 */
export async function deploySuite() {
  const connection = await network.create()
  const { viem, networkHelpers } = connection
  const publicClient = await viem.getPublicClient()
  const [admin, ...nodes] = await viem.getWalletClients()
  const adminAddress = admin!.account.address
  const token = await viem.deployContract('VainToken', ['vAIn', 'VAIN', SUPPLY, adminAddress])
  const staking = await viem.deployContract('Staking', [
    token.address,
    COOLDOWN,
    adminAddress,
    [...MIN_STAKE],
    adminAddress,
  ])
  // slashed stake is burned in these tests
  await staking.write.setTreasury(['0x0000000000000000000000000000000000000000'])
  const reputation = await viem.deployContract('Reputation', [
    staking.address,
    86_400n,
    500,
    [...MIN_REPUTATION],
    adminAddress,
    [],
    0n,
  ])
  const registry = await viem.deployContract('NodeRegistry', [staking.address])
  const rounds = await viem.deployContract('RoundManager', [
    token.address,
    staking.address,
    reputation.address,
    DISSENT_SLASH,
    50n,
    adminAddress,
  ])
  const governance = await viem.deployContract('Governance', [
    staking.address,
    reputation.address,
    VOTING_PERIOD,
    TIMELOCK,
    QUORUM,
    2,
  ])
  await staking.write.setGovernance([governance.address])
  await staking.write.grantRole([role('SLASHER_ROLE'), rounds.address])
  await staking.write.grantRole([role('SLASHER_ROLE'), governance.address])
  await staking.write.grantRole([role('GOVERNOR_ROLE'), governance.address])
  await reputation.write.grantRole([role('UPDATER_ROLE'), rounds.address])
  await reputation.write.grantRole([role('GOVERNOR_ROLE'), governance.address])
  await rounds.write.grantRole([role('GOVERNOR_ROLE'), governance.address])
  for (const node of nodes.slice(0, 8)) {
    await token.write.transfer([node.account.address, parseEther('100000')])
  }

  /** Stakes `amount` as `who`. */
  async function stake(who: (typeof nodes)[number], amount: bigint) {
    await token.write.approve([staking.address, amount], { account: who.account })
    await staking.write.stake([amount], { account: who.account })
  }

  /** Brings `who` to `tier`: stakes the minimum and (temporarily granting itself UPDATER) adds reputation. */
  async function makeTier(who: (typeof nodes)[number], tier: 1 | 2 | 3) {
    await stake(who, MIN_STAKE[tier - 1])
    const rep = MIN_REPUTATION[tier - 1]
    if (rep > 0n) {
      await reputation.write.grantRole([role('UPDATER_ROLE'), adminAddress])
      await reputation.write.increase([who.account.address, rep])
      await reputation.write.revokeRole([role('UPDATER_ROLE'), adminAddress])
    }
  }

  return {
    connection,
    viem,
    networkHelpers,
    publicClient,
    admin: admin!,
    nodes,
    token,
    staking,
    reputation,
    registry,
    rounds,
    governance,
    stake,
    makeTier,
  }
}

export type Suite = Awaited<ReturnType<typeof deploySuite>>
export type Wallet = Suite['nodes'][number]
export const addressOf = (w: { account: { address: Address } }) => w.account.address
