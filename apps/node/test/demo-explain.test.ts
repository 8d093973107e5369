/** The demo's summary in words (src/demo/explain.ts): why it stopped, the upload figure, settlements, reputations. */
import { describe, expect, it } from 'vitest'
import type { DemoChainSummary, DemoSummary } from '../src/demo.js'
import { explainReputations, explainRun } from '../src/demo.js'

const short = (id: string) => `…${id.slice(-4)}`

const base: DemoSummary = {
  ok: true,
  nodes: 3,
  rounds: 4,
  accuracy: 0.91,
  centralizedAccuracy: 0.93,
  uploadedBytes: 3 * 4 * 3 * 5120,
  denseBytesPerRound: 0,
  seconds: 30,
  curve: [],
  secondsToFirstRound: 5,
  meanSecondsPerRound: 5,
  stopReason: 'target',
  targetReachedAtRound: 3,
  denseModelBytes: 203_560,
  bytesPerNodePerRound: 3 * 5120,
  compression: 203_560 / 5120,
  participation: [
    { peerId: 'peer-aaaa', roundsTrained: 4, committeeRounds: 3 },
    { peerId: 'peer-bbbb', roundsTrained: 4, committeeRounds: 2 },
    { peerId: 'peer-cccc', roundsTrained: 2, committeeRounds: 1 },
  ],
}

describe('vain demo explains itself', () => {
  it('why it stopped, the upload figure in words, who missed rounds', () => {
    const lines = explainRun(base, { rounds: 20, target: 0.9 }, short).join('\n')
    expect(lines).toContain('why it stopped: the global model reached the target 90.0 % after round 3 (--target)')
    expect(lines).toContain(
      'each node uploaded 15.0 KiB per round on average (its compressed update, sent to every committee member), 40× less than the dense float32 model of 198.8 KiB',
    )
    expect(lines).toContain('…cccc missed 2 of 4 rounds')
    expect(lines).not.toContain('…aaaa missed')
    const rounds = explainRun({ ...base, stopReason: 'rounds' }, { rounds: 4, target: 0.99 }, short).join('\n')
    expect(rounds).toContain('all 4 rounds ran (--rounds 4) without reaching the target 99.0 %')
  })

  it('rounds trained vs settled, and why reputations differ', () => {
    const node = (peerId: string, reputation: string, roundsTrained: number, committeeRounds: number) => ({
      peerId,
      address: '0x0000000000000000000000000000000000000001',
      staked: '10000 VAIN',
      tier: 3,
      reputation,
      earned: '50 VAIN',
      roundsTrained,
      committeeRounds,
    })
    const chain: DemoChainSummary = {
      rpcUrl: 'http://127.0.0.1:8545',
      openedRounds: 4,
      settledRounds: 3,
      refundedRounds: 1,
      openRounds: 0,
      rewardsFunded: '200 VAIN',
      rewardsPaid: '150 VAIN',
      rewardsRefunded: '50 VAIN',
      rewardsUnclaimed: '0 VAIN',
      paidNodes: 3,
      nodes: [node('peer-aaaa', '60', 4, 3), node('peer-bbbb', '50', 4, 2), node('peer-cccc', '20', 2, 1)],
    }
    const run = explainRun({ ...base, chain }, { rounds: 20, target: 0.9 }, short).join('\n')
    expect(run).toContain('rounds trained vs settled: 4 trained')
    expect(run).toContain('3 settled on chain')
    expect(run).toContain('1 trained but not settled')
    const why = explainReputations(chain, 4, short).join('\n')
    expect(why).toContain('why reputations differ')
    expect(why).toContain('highest: node 0 (…aaaa, reputation 60)')
    expect(why).toContain('node 2 (…cccc, reputation 20) missed 2 rounds')
    expect(why).toContain('node 1 (…bbbb, reputation 50) sat on 1 committee fewer than node 0')
    const same = explainReputations(
      { ...chain, nodes: [node('peer-aaaa', '40', 2, 2), node('peer-bbbb', '30', 2, 2)] },
      2,
      short,
    ).join('\n')
    expect(same).toContain('node 1 (…bbbb, reputation 30) did the same work as node 0, but fewer of its signatures')
    const equal = explainReputations({ ...chain, nodes: [node('a', '50', 4, 1), node('b', '50', 4, 1)] }, 4, short)
    expect(equal.join('\n')).toContain('all equal')
  })
})
