import { describe, expect, it } from 'vitest'
import { type BootstrapChain, bootstrapTiers } from '../scripts/bootstrap-tiers.js'
import { TierTooLowError } from '../src/index.js'
import { sharedChain } from './helpers.js'

const shared = sharedChain()
const chain: BootstrapChain = {
  rpcUrl: shared.rpcUrl,
  chain: shared.chain,
  privateKeys: shared.keys,
  walletClient: (i) => shared.walletClient(i),
  increaseTime: (s) => shared.increaseTime(s),
}

describe('bootstrapping tiers under production parameters (scripts/bootstrap-tiers.ts, shortened)', () => {
  // ~110 rounds: about 30 s on two cores
  it('a genesis committee settles rounds until a trainer climbs from tier 1 to tier 3', {
    timeout: 120_000,
  }, async () => {
    const report = await bootstrapTiers(chain, { trainers: 2, untilTier3: 1, maxRounds: 130 })
    const byName = new Map(report.nodes.map((n) => [n.name, n]))
    const t1 = byName.get('t1')!
    expect(t1.genesis).toBe(false)
    expect(t1.tier).toBe(3)
    expect(t1.reputation).toBeGreaterThanOrEqual(1000n)
    // tier 2 after 10 claims of 10 (reputation 100), tier 3 after ~100 claims and some decay
    expect(report.tier2At.t1).toBe(10)
    expect(report.tier3At.t1).toBeGreaterThan(100)
    // reputation alone makes no tier: t2 staked for tier 2 only
    expect(byName.get('t2')!.reputation).toBeGreaterThanOrEqual(1000n)
    expect(byName.get('t2')!.tier).toBe(2)
    // committee work keeps the genesis committee up against decay; g4 sat out and decayed
    expect(byName.get('g1')!.reputation).toBeGreaterThan(2000n)
    expect(byName.get('g4')!.reputation).toBeLessThan(2000n)
  })

  it('without a genesis set, nobody can govern or sit on a committee', async () => {
    // the first step, a proposal letting the job creator open rounds, needs tier 2
    await expect(bootstrapTiers(chain, { genesis: false, maxRounds: 1 })).rejects.toBeInstanceOf(TierTooLowError)
  })
})
