import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  advertisedCapacity,
  adviseNetwork,
  parseResourceLimits,
  progressTracker,
  renderProgressBar,
  spareCapacity,
  weighByCapacity,
} from '../src/index.js'
import { sampleOf } from './fake-source.js'

describe('progress tracking', () => {
  it('done/total, rate and ETA; renders a bar', () => {
    let now = 0
    const tracker = progressTracker({ now: () => now })
    const seen: number[] = []
    tracker.addEventListener('progress', (e) => seen.push(e.detail.done))
    const p = tracker.start('train round 3', 10)
    now = 1000
    p.advance(2)
    now = 2000
    p.advance(2)
    expect(p.info()).toMatchObject({ done: 4, total: 10, rate: 2, etaMs: 3000, state: 'running' })
    expect(renderProgressBar(p.info(), 10)).toBe('train round 3  ████░░░░░░  4/10  2.0/s  ETA 3 s')
    p.finish()
    expect(tracker.snapshot()).toMatchObject([{ task: 'train round 3', done: 10, state: 'done' }])
    expect(seen).toEqual([0, 2, 4, 10])
    expect(() => tracker.start('x', -1)).toThrow(expect.objectContaining({ name: 'InvalidResourceConfigError' }))
  })
})

describe('spare capacity and the capacity-weighted selection policy', () => {
  const limits = parseResourceLimits({ maxCpu: 0.5 })
  it('free cores within the CPU budget; battery halves the score; unknown figures are absent', () => {
    expect(spareCapacity(sampleOf({ others: 0.25 }), limits)).toMatchObject({
      cpuCores: 2,
      score: 1,
      onBattery: undefined,
    })
    expect(spareCapacity(sampleOf({ others: 0.75 }), limits)).toMatchObject({ cpuCores: 1, score: 0.5 })
    const onBattery = sampleOf({
      others: 0.25,
      power: { onBattery: true, charging: false, externalPower: false, capacityPercent: 50, batteries: [] },
    })
    expect(spareCapacity(onBattery, limits).score).toBe(0.5)
    expect(spareCapacity(sampleOf({}), limits)).toMatchObject({ cpuCores: undefined, score: 0.5 })
  })
  it('weights stay within [floor × weight, weight]; a node advertising nothing counts as half', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.option(fc.double({ noNaN: false })))),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (items, floor) => {
          for (const { item, weight } of weighByCapacity(
            items,
            ([w]) => w,
            ([, s]) => (s === null ? undefined : { score: s }),
            floor,
          )) {
            expect(weight).toBeGreaterThanOrEqual(item[0] * floor - 1e-9)
            expect(weight).toBeLessThanOrEqual(item[0] + 1e-9)
          }
        },
      ),
    )
    expect(
      weighByCapacity(
        ['a'],
        () => 10,
        () => undefined,
      )[0]?.weight,
    ).toBe(7.5)
  })
  it('the advertised form is coarse (quarters, 64 MiB) and leaves unknown figures out', () => {
    expect(
      advertisedCapacity({ cpuCores: 1.6, memoryBytes: 200 * 2 ** 20, onBattery: false, gpus: 0, score: 0.74 }),
    ).toEqual({ score: 0.5, cpuCores: 1.5, memoryBytes: 192 * 2 ** 20, gpus: 0, onBattery: false })
    expect(advertisedCapacity(spareCapacity(sampleOf({}), limits))).toMatchObject({ score: 0.5, gpus: 0 })
    expect(advertisedCapacity(spareCapacity(sampleOf({}), limits))).not.toHaveProperty('cpuCores')
    fc.assert(
      fc.property(
        fc.double({ noNaN: false }),
        fc.option(fc.double({ min: 0, max: 1e4, noNaN: true })),
        (score, cores) => {
          const a = advertisedCapacity({
            score,
            cpuCores: cores ?? undefined,
            memoryBytes: undefined,
            onBattery: undefined,
            gpus: 1,
          })
          expect(a.score).toBeGreaterThanOrEqual(0)
          expect(a.score).toBeLessThanOrEqual(1)
          expect((a.score * 4) % 1).toBe(0)
          expect('memoryBytes' in a).toBe(false)
        },
      ),
    )
  })
})

describe('adaptive network limits', () => {
  const base = { refillPerSecond: 50, capacity: 100 }
  it('full rates with half the host free, down to a quarter when it is saturated; compression by link and CPU', () => {
    expect(adviseNetwork(sampleOf({ host: 0.3 }), { base })).toMatchObject({
      rateScale: 1,
      refillPerSecond: 50,
      compression: 'fast',
    })
    expect(adviseNetwork(sampleOf({ host: 0.75 }), { base })).toMatchObject({
      rateScale: 0.5,
      refillPerSecond: 25,
      capacity: 50,
    })
    expect(adviseNetwork(sampleOf({ host: 1 }), { base, linkBytesPerSec: 1e9 })).toMatchObject({
      rateScale: 0.25,
      compress: false,
      compression: 'off',
    })
    expect(adviseNetwork(sampleOf({ host: 0.2 }), { base, linkBytesPerSec: 500_000 }).compression).toBe('strong')
    expect(adviseNetwork(undefined, { base })).toMatchObject({ rateScale: 1, compression: 'fast' })
  })
})
