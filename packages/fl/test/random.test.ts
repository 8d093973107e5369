import { describe, expect, it } from 'vitest'
import { createRng } from '../src/random.js'

describe('seeded random generator', () => {
  it('same seed → same sequence; different seeds differ', () => {
    const a = createRng(42)
    const b = createRng(42)
    const c = createRng(43)
    const sa = Array.from({ length: 5 }, () => a.uint32())
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(sa)
    expect(Array.from({ length: 5 }, () => c.uint32())).not.toEqual(sa)
  })

  it('distributions have the right moments', () => {
    const rng = createRng(1)
    const n = 40_000
    let s = 0
    let s2 = 0
    for (let i = 0; i < n; i++) {
      const x = rng.normal()
      s += x
      s2 += x * x
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03)
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03)
    for (const shape of [0.3, 1, 4]) {
      let m = 0
      for (let i = 0; i < 20_000; i++) m += rng.gamma(shape)
      expect(m / 20_000).toBeCloseTo(shape, 1)
    }
    const counts = new Array(6).fill(0)
    for (let i = 0; i < 60_000; i++) counts[rng.int(6)]++
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400)
  })

  it('dirichlet draws sum to 1; permutations are permutations', () => {
    const rng = createRng(2)
    for (const alpha of [0.01, 0.5, 10]) {
      const p = rng.dirichlet(alpha, 7)
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10)
      expect(p.every((v) => v >= 0)).toBe(true)
    }
    expect([...rng.permutation(50)].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })
})
