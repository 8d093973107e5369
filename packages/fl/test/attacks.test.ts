import { describe, expect, it } from 'vitest'
import { mean, median } from '../src/aggregators/index.js'
import {
  alieZ,
  applyAttack,
  createAttack,
  flipLabels,
  gaussianAttack,
  innerProductManipulation,
  labelFlip,
  littleIsEnough,
  selectAttackers,
  signFlip,
} from '../src/attacks/index.js'
import { createRng } from '../src/random.js'

function honest(n: number, d: number, seed: number): Float32Array[] {
  const rng = createRng(seed)
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => 1 + 0.1 * rng.normal()))
}

describe('attacker selection', () => {
  it('picks ⌊fraction·n⌋ distinct clients, reproducibly', () => {
    const a = selectAttackers(10, 0.3, 7)
    expect(a).toHaveLength(3)
    expect(new Set(a).size).toBe(3)
    expect(a).toEqual([...a].sort((x, y) => x - y))
    expect(selectAttackers(10, 0.3, 7)).toEqual(a)
    expect(selectAttackers(100, 0.2, 1)).toHaveLength(20)
    expect(selectAttackers(10, 0, 1)).toEqual([])
    expect(() => selectAttackers(10, 1.5, 1)).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
  })
})

describe('model poisoning', () => {
  it('sign flip negates (and scales) the attackers’ own updates, leaving the others untouched', () => {
    const updates = honest(5, 4, 1)
    const out = signFlip({ scale: 2 }).poisonUpdates!(updates, [1, 3])
    expect(out[0]).toBe(updates[0])
    expect(out[2]).toBe(updates[2])
    expect(Array.from(out[1]!)).toEqual(Array.from(updates[1]!, (x) => Math.fround(-2 * x)))
    expect(updates[1]![0]).toBeGreaterThan(0) // inputs not modified
  })

  it('Gaussian noise replaces the update with N(0, std²) draws, seeded', () => {
    const updates = honest(3, 20_000, 2)
    const out = gaussianAttack({ std: 3, seed: 4 }).poisonUpdates!(updates, [0])
    const v = out[0]!
    const m = v.reduce((s, x) => s + x, 0) / v.length
    const sd = Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / v.length)
    expect(Math.abs(m)).toBeLessThan(0.1)
    expect(sd).toBeGreaterThan(2.9)
    expect(sd).toBeLessThan(3.1)
    expect(Array.from(gaussianAttack({ std: 3, seed: 4 }).poisonUpdates!(updates, [0])[0]!.subarray(0, 5))).toEqual(
      Array.from(v.subarray(0, 5)),
    )
    const added = gaussianAttack({ std: 0, mode: 'add' }).poisonUpdates!(updates, [1])
    expect(Array.from(added[1]!)).toEqual(Array.from(updates[1]!))
  })

  it('"a little is enough" sends mean − z·std of the honest updates', () => {
    const updates = [0, 2, 4, 100].map((x) => Float32Array.from([x, -x]))
    const out = littleIsEnough({ z: 1 }).poisonUpdates!(updates, [3])
    // honest: 0, 2, 4 → mean 2, population std √(8/3)
    expect(out[3]![0]).toBeCloseTo(2 - Math.sqrt(8 / 3), 5)
    expect(out[3]![1]).toBeCloseTo(-2 - Math.sqrt(8 / 3), 5)
    expect(alieZ(50, 12)).toBeCloseTo(0.5828, 3) // s = 14, Φ⁻¹(36/50)
    expect(alieZ(10, 0)).toBe(0)
    // the attack hides inside the honest spread: the median moves, but stays within the honest range
    const many = honest(20, 50, 3)
    const attacked = applyAttack(littleIsEnough(), many, { fraction: 0.2, seed: 1 })
    expect(attacked.attackers).toHaveLength(4)
    const med = median().aggregate(attacked.updates)
    for (const v of med) expect(v).toBeGreaterThan(0.7)
  })

  it('inner-product manipulation sends −ε × the honest mean', () => {
    const updates = [1, 3, 50].map((x) => Float32Array.from([x]))
    const out = innerProductManipulation({ epsilon: 0.5 }).poisonUpdates!(updates, [2])
    expect(out[2]![0]).toBe(-1)
    // a large ε flips the sign of the mean
    const big = applyAttack(innerProductManipulation({ epsilon: 100 }), honest(10, 8, 5), { fraction: 0.3, seed: 2 })
    expect(mean().aggregate(big.updates)[0]).toBeLessThan(0)
  })
})

describe('label flipping', () => {
  it('reverses classes by default, or follows a mapping', () => {
    expect(Array.from(flipLabels(Int32Array.from([0, 1, 9, 5]), 10))).toEqual([9, 8, 0, 4])
    const attack = labelFlip({ mapping: { 7: 1 } })
    expect(attack.poisonUpdates).toBeUndefined()
    expect(Array.from(attack.poisonLabels!(Int32Array.from([7, 3, 7]), 10))).toEqual([1, 3, 1])
    expect(() => flipLabels(Int32Array.from([10]), 10)).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => labelFlip({ mapping: { 1: 12 } }).poisonLabels!(Int32Array.from([1]), 10)).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    // a data-poisoning attack leaves updates alone
    const updates = honest(4, 2, 1)
    expect(applyAttack(labelFlip(), updates, { attackers: [0] }).updates).toEqual(updates)
  })
})

describe('createAttack', () => {
  it('builds every attack from a validated spec', () => {
    for (const name of ['sign-flip', 'gaussian', 'label-flip', 'little-is-enough', 'inner-product']) {
      expect(createAttack({ name }).name).toBe(name)
    }
    const flip = createAttack({ name: 'label-flip', params: { mapping: { '3': 8 } } })
    expect(Array.from(flip.poisonLabels!(Int32Array.from([3, 4]), 10))).toEqual([8, 4])
    expect(() => createAttack({ name: 'backdoor' })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createAttack({ name: 'gaussian', params: { std: -1 } })).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })
})
