import { describe, expect, it } from 'vitest'
import {
  capacityWeight,
  capacityWeightedEligibility,
  type EligibilityPolicy,
  type JobAnnouncement,
  selectCommittee,
} from '../src/round/index.js'

const job = {} as JobAnnouncement

describe('capacity-weighted committee selection', () => {
  it('weighs by the quantized score, keeping the floor; unknown scores count as 0.5', () => {
    expect(capacityWeight(2, 1)).toBe(2)
    expect(capacityWeight(2, 0)).toBe(1)
    expect(capacityWeight(2, 0.74)).toBe(2 * (0.5 + 0.5 * 0.5)) // rounded down to 0.5
    expect(capacityWeight(2, undefined)).toBe(2 * 0.75)
    expect(capacityWeight(2, Number.NaN)).toBe(2 * 0.75)
    expect(capacityWeight(2, 7)).toBe(2) // clamped
    expect(capacityWeight(2, 0.3, { floor: 0, steps: 10 })).toBeCloseTo(0.6)
  })

  it('wraps a policy: same members, reweighted; expected trainers passed through', async () => {
    const base: EligibilityPolicy = {
      committeeCandidates: async () => [
        { peerId: 'a', weight: 3 },
        { peerId: 'b', weight: 3 },
      ],
      expectedTrainers: () => ['t1'],
    }
    const scores: Record<string, number> = { a: 1, b: 0 }
    const policy = capacityWeightedEligibility(base, { scoreOf: (p) => scores[p] })
    expect(await policy.committeeCandidates(job, 1)).toEqual([
      { peerId: 'a', weight: 3 },
      { peerId: 'b', weight: 1.5 },
    ])
    expect(await policy.expectedTrainers?.(job, 1)).toEqual(['t1'])
    const sync = capacityWeightedEligibility(
      { committeeCandidates: () => [{ peerId: 'a', weight: 1 }] },
      {
        scoreOf: () => undefined,
      },
    )
    expect(sync.committeeCandidates(job, 1)).toEqual([{ peerId: 'a', weight: 0.75 }])
    expect(sync.expectedTrainers).toBeUndefined()
  })

  it('the effect: over 4,000 seeds a node with all its budget free sits on a 1-seat committee about twice as often as an equal-stake node with none', async () => {
    const scores: Record<string, number> = { busy: 0, free: 1 }
    const policy = capacityWeightedEligibility(
      {
        committeeCandidates: () => [
          { peerId: 'busy', weight: 1 },
          { peerId: 'free', weight: 1 },
        ],
      },
      { scoreOf: (p) => scores[p] },
    )
    const candidates = await policy.committeeCandidates(job, 1)
    let free = 0
    const seeds = 4_000
    for (let i = 0; i < seeds; i++) if (selectCommittee(candidates, `seed-${i}`, 1)[0] === 'free') free++
    // weights 1 : 0.5 → P(free) = 2/3; 4,000 draws: σ ≈ 0.0075, so ±0.04 is > 5σ
    expect(free / seeds).toBeGreaterThan(2 / 3 - 0.04)
    expect(free / seeds).toBeLessThan(2 / 3 + 0.04)
    // deterministic: the same inputs give the same committee on every node
    expect(selectCommittee(candidates, 'x', 1)).toEqual(
      selectCommittee(await policy.committeeCandidates(job, 1), 'x', 1),
    )
  })
})
