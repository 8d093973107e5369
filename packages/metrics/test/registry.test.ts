import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { createNode } from '@vain/net'
import { describe, expect, it } from 'vitest'
import { createHistory, createVainMetrics, observeParticipant, openStore } from '../src/index.js'

const promtool = (text: string) => spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })

describe('the registry', () => {
  it('counts a participant’s events: rounds, round time, bytes up/down, refusals by reason', async () => {
    const metrics = createVainMetrics({ defaultMetrics: false })
    const participant = new EventTarget()
    const off = observeParticipant(metrics, participant, { denseUpdateBytes: () => 50_000 })
    const emit = (type: string, detail: unknown) => participant.dispatchEvent(new CustomEvent(type, { detail }))
    emit('round:started', { jobId: 'a'.repeat(64), round: 3 })
    emit('update:sent', { jobId: 'a'.repeat(64), round: 3, bytes: 5000, to: [], failed: [] })
    emit('update:accepted', { jobId: 'a'.repeat(64), round: 3, trainer: 'x', bytes: 4000 })
    emit('rejected', { kind: 'update', from: 'p', reason: 'norm too large', errorName: 'InvalidUpdateError' })
    emit('round:completed', { jobId: 'a'.repeat(64), round: 3 })
    emit('round:failed', { jobId: 'a'.repeat(64), round: 4, attempt: 0, reason: 'deadline' })
    off()
    emit('update:sent', { jobId: 'a'.repeat(64), round: 5, bytes: 1, to: [], failed: [] })
    const text = await metrics.text()
    expect(text).toContain('vain_round{job="aaaaaaaaaaaa"} 3')
    expect(text).toContain('vain_update_bytes_total{direction="up"} 5000')
    expect(text).toContain('vain_update_bytes_total{direction="down"} 4000')
    expect(text).toContain('vain_updates_accepted_total 1')
    expect(text).toContain('vain_compression_ratio{job="aaaaaaaaaaaa"} 10')
    expect(text).toContain('vain_updates_refused_total{kind="update",reason="InvalidUpdateError"} 1')
    expect(text).toContain('vain_round_seconds_count{job="aaaaaaaaaaaa"} 1')
    expect(text).toContain('vain_rounds_failed_total{job="aaaaaaaaaaaa"} 1')
    metrics.setChain({ stake: 10_000, tier: 3, reputation: 100, rewards: 2.5 })
    metrics.setResources({ cpuUtilization: 0.25, memoryUsedBytes: 1e9 })
    const again = await metrics.text()
    expect(again).toContain('vain_chain{figure="tier"} 3')
    expect(again).toContain('vain_resource{resource="cpu_utilization"} 0.25')
    expect(promtool(again).status, promtool(again).stdout + promtool(again).stderr).toBe(0)
  })

  it('caps label sets per metric: the rest are dropped and counted', async () => {
    const metrics = createVainMetrics({ defaultMetrics: false, maxSeriesPerMetric: 5 })
    for (let i = 0; i < 50; i++) metrics.refused({ kind: 'update', errorName: `E${i}` })
    const samples = await metrics.samples()
    expect(samples.filter((s) => s.name === 'vain_updates_refused_total')).toHaveLength(5)
    expect(samples.find((s) => s.name === 'vain_metrics_label_overflow_total')?.value).toBe(45)
  })

  it('network health is measured from a real node; libp2p’s own metrics go to the same registry; promtool accepts it', async () => {
    const metrics = createVainMetrics()
    // the DHT on, as in the node: its metrics are among those promtool's lint rejects unless rewritten
    const a = await createNode(
      { profile: 'loopback' },
      { metrics: prometheusMetrics({ registry: metrics.registry, collectDefaultMetrics: false }) },
    )
    const b = await createNode({ profile: 'loopback' })
    await a.start()
    await b.start()
    try {
      metrics.observeNetwork(a)
      expect(await metrics.text()).toContain('vain_peers 0')
      await a.connect(b.multiaddrs[0] as never)
      await expect.poll(() => a.authenticatedPeers().length, { timeout: 20_000 }).toBe(1)
      const text = await metrics.text()
      expect(text).toContain('vain_peers 1')
      expect(text).toContain('vain_authenticated_peers 1')
      expect(text).toMatch(/^libp2p_\w+/m)
      expect(text).toContain('vain_rate_limited_requests 0')
      const check = promtool(text)
      expect(check.status, check.stdout + check.stderr).toBe(0)
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('history: samples go into the store at the interval and come back after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vain-history-'))
    try {
      let now = Date.UTC(2026, 0, 1)
      const metrics = createVainMetrics({ defaultMetrics: false })
      let store = openStore({ dir, now: () => now })
      const history = createHistory({ store, samples: () => metrics.samples(), intervalMs: 10_000, now: () => now })
      for (let r = 1; r <= 5; r++) {
        metrics.roundCompleted({ jobId: 'job', round: r })
        await history.record()
        now += 10_000
      }
      // the clock jumps back: refused and counted, nothing lost
      now -= 60_000
      await history.record()
      expect(history.refused.OutOfOrderError).toBeGreaterThan(0)
      store.close()
      store = openStore({ dir, now: () => now })
      const h = store.series('vain_round', { job: 'job' })
      expect(store.query(h).map((p) => p.v)).toEqual([1, 2, 3, 4, 5])
      store.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
