import { afterEach, describe, expect, it } from 'vitest'
import {
  type Anomaly,
  type AnomalyCleared,
  anomalyDetector,
  type ResourceSample,
  resourceMonitor,
} from '../src/index.js'
import { killLoads, memoryBalloon, nextEvent } from './helpers.js'

afterEach(killLoads)

/** A sample whose only figure is `cpu.host`. */
const fake = (time: number, host: number) => ({ time, cpu: { host } }) as unknown as ResourceSample
const cpuOnly = { cpu: { read: (s: ResourceSample) => s.cpu.host, minSpread: 0.05 } }

describe('anomalyDetector', () => {
  it('raises one anomaly for a sustained spike, none for a single outlier, and clears it once (hysteresis)', () => {
    const d = anomalyDetector({ metrics: cpuOnly, warmup: 10, enterAfter: 3, exitAfter: 3 })
    const events: Array<Anomaly | AnomalyCleared> = []
    d.addEventListener('anomaly', (e) => events.push(e.detail))
    d.addEventListener('anomaly:cleared', (e) => events.push(e.detail))
    let t = 0
    const feed = (v: number) => {
      t += 1000
      d.observe(fake(t, v))
    }
    for (let i = 0; i < 30; i++) feed(0.2 + (i % 3) * 0.01)
    feed(0.95) // one outlier: no alarm
    feed(0.2)
    expect(events).toEqual([])
    // a sustained load that hovers around the exit line: one anomaly, not a storm
    for (let i = 0; i < 5; i++) feed(0.9)
    for (let i = 0; i < 20; i++) feed(i % 2 === 0 ? 0.9 : 0.35)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ metric: 'cpu', since: 33_000 })
    expect((events[0] as Anomaly).score).toBeGreaterThan(4)
    expect((events[0] as Anomaly).baseline).toBeCloseTo(0.21, 1)
    for (let i = 0; i < 3; i++) feed(0.2)
    expect(events).toHaveLength(2)
    expect(events[1]).toMatchObject({ metric: 'cpu', since: 33_000, until: t })
    expect(d.active()).toEqual([])
  })

  it('absent values are skipped, not read as zero', () => {
    const d = anomalyDetector({ metrics: cpuOnly, warmup: 2 })
    for (let i = 0; i < 10; i++) d.observe(fake(i, 0.5))
    for (let i = 0; i < 10; i++)
      expect(d.observe({ time: 99, cpu: { host: undefined } } as unknown as ResourceSample)).toEqual([])
    expect(d.baselines().cpu?.baseline).toBeCloseTo(0.5)
  })

  it('invalid options are a typed error', () => {
    expect(() => anomalyDetector({ enterScore: 2, exitScore: 3 })).toThrow(
      expect.objectContaining({ name: 'InvalidResourceConfigError' }),
    )
  })

  it('a real memory balloon raises a memory anomaly, and it clears after the balloon goes', async () => {
    // a busy machine fills the balloon slowly (~70 MB/s seen on 2 shared cores): a slow EWMA
    // (alpha 0.02 at 4 samples/s) so the ramp is not absorbed into the baseline as it grows
    const monitor = resourceMonitor({ intervalMs: 250, gpu: false })
    const detector = anomalyDetector({
      metrics: { 'memory.used': { read: (s) => s.memory.usedShare, minSpread: 0.01 } },
      warmup: 10,
      alpha: 0.02,
    })
    monitor.addEventListener('sample', (e) => detector.observe(e.detail))
    await monitor.start()
    try {
      // a baseline first
      await nextEvent<ResourceSample>(
        monitor,
        'sample',
        () => detector.baselines()['memory.used']?.baseline !== undefined && monitor.samples > 12,
      )
      const total = monitor.latest()?.memory.totalBytes as number
      // 8 % of the host (at most 2 GiB): far beyond 4 spreads of 1 %
      const inflatedAt = Date.now()
      const raised = nextEvent<Anomaly>(detector, 'anomaly', (a) => a.metric === 'memory.used' && a.since >= inflatedAt)
      const balloon = await memoryBalloon(Math.min(2 * 2 ** 30, Math.round(total * 0.08)))
      let anomaly: Anomaly
      try {
        anomaly = await raised
      } finally {
        await balloon.stop()
      }
      expect(anomaly.score).toBeGreaterThan(4)
      expect(anomaly.value).toBeGreaterThan(anomaly.baseline)
      const cleared = await nextEvent<AnomalyCleared>(detector, 'anomaly:cleared', (c) => c.metric === 'memory.used')
      expect(cleared.since).toBe(anomaly.since)
      expect(cleared.until).toBeGreaterThan(cleared.since)
    } finally {
      await monitor.stop()
    }
  }, 300_000)
})
