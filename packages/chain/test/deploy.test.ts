import { type Abi, type Address, parseAbiItem, parseEther, zeroAddress } from 'viem'
import { describe, expect, it } from 'vitest'
import { deployVain, InvalidInputError, VAIN_ROLES } from '../src/index.js'
import { freshSuite, sharedChain } from './helpers.js'

const shared = sharedChain()

describe('deployVain', () => {
  it('deploys the seven contracts and wires their roles (deployer keeps control by default)', async () => {
    const { deployment, admin } = await freshSuite(shared, { nodes: [] })
    const { addresses } = deployment
    expect(new Set(Object.values(addresses)).size).toBe(7)
    const c = admin.contracts
    const deployer = admin.account!
    expect(await c.staking.read.hasRole([VAIN_ROLES.SLASHER, addresses.roundManager])).toBe(true)
    expect(await c.staking.read.hasRole([VAIN_ROLES.SLASHER, addresses.governance])).toBe(true)
    expect(await c.staking.read.hasRole([VAIN_ROLES.GOVERNOR, addresses.governance])).toBe(true)
    expect(await c.reputation.read.hasRole([VAIN_ROLES.UPDATER, addresses.roundManager])).toBe(true)
    // ProofChallenges slashes trainers and committees for settled proofs that fail
    expect(await c.staking.read.hasRole([VAIN_ROLES.SLASHER, addresses.proofChallenges!])).toBe(true)
    expect(await c.reputation.read.hasRole([VAIN_ROLES.UPDATER, addresses.proofChallenges!])).toBe(true)
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

  it("with anonymousVoting: true, Governance gets TierGroups and VoteVerifier (also under admin: 'governance')", async () => {
    for (const admin of ['deployer', 'governance'] as const) {
      const { deployment, admin: client } = await freshSuite(shared, {
        nodes: [],
        params: { admin, anonymousVoting: true },
      })
      const anon = deployment.anonymousVoting!
      expect(new Set([anon.tierGroups, anon.voteVerifier, anon.poseidonT3]).size).toBe(3)
      const g = client.contracts.governance
      expect((await g.read.tierGroups()).toLowerCase()).toBe(anon.tierGroups.toLowerCase())
      expect((await g.read.voteVerifier()).toLowerCase()).toBe(anon.voteVerifier.toLowerCase())
      // the deployer's one-time power is spent: it cannot switch the contracts afterwards
      await expect(
        shared.walletClient(0).writeContract({
          address: deployment.addresses.governance,
          abi: g.abi,
          functionName: 'setAnonymousVoting',
          args: [zeroAddress, zeroAddress],
        }),
      ).rejects.toThrow(/NotConfigurator/)
    }
    const { deployment } = await freshSuite(shared, { nodes: [] })
    expect(deployment.anonymousVoting).toBeUndefined()
  })

  it("with admin: 'governance' (the production profile) and a genesis set, no externally owned account holds any role", async () => {
    const genesis = [1, 2, 3].map((i) => shared.walletClient(i).account.address)
    const { deployment, admin } = await freshSuite(shared, {
      nodes: [],
      params: { admin: 'governance', genesis: { members: genesis } },
    })
    // the genesis set got its reputation in the constructor: 2 × the tier-3 minimum
    for (const g of genesis) expect(await admin.reputation.reputationOf(g)).toBe(2000n)
    expect(await admin.reputation.reputationOf(admin.account!)).toBe(0n)
    const pc = shared.publicClient
    const granted = parseAbiItem(
      'event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender)',
    )
    const hasRole = [
      {
        type: 'function',
        name: 'hasRole',
        stateMutability: 'view',
        inputs: [
          { name: 'role', type: 'bytes32' },
          { name: 'account', type: 'address' },
        ],
        outputs: [{ type: 'bool' }],
      },
    ] as const satisfies Abi
    let held = 0
    // every role ever granted by any contract of the suite, and who still holds it
    for (const contract of Object.values(deployment.addresses) as Address[]) {
      const logs = await pc.getLogs({ address: contract, event: granted, fromBlock: 0n })
      for (const log of logs) {
        const { role, account } = log.args as { role: `0x${string}`; account: Address }
        const still = await pc.readContract({
          address: contract,
          abi: hasRole,
          functionName: 'hasRole',
          args: [role, account],
        })
        if (!still) continue
        held++
        const code = await pc.getCode({ address: account })
        expect(code?.length ?? 0, `${account} holds ${role} on ${contract} but is not a contract`).toBeGreaterThan(2)
      }
    }
    expect(held).toBeGreaterThanOrEqual(8) // the wiring between contracts and governance's roles
  })

  it('refuses a genesis set with a member twice', async () => {
    const a = shared.walletClient(1).account.address
    await expect(deployVain(shared.walletClient(0), { genesis: { members: [a, a] } })).rejects.toSatisfy(
      (err: Error) => err instanceof InvalidInputError && /genesis/.test(err.message),
    )
  })

  it('refuses inconsistent parameters before sending anything', async () => {
    await expect(
      deployVain(shared.walletClient(0), { staking: { minStake: [10n, 5n, 20n] }, reputation: { decayBps: 20_000 } }),
    ).rejects.toSatisfy(
      (err: Error) => err instanceof InvalidInputError && /minStake/.test(err.message) && /decayBps/.test(err.message),
    )
  })
})
