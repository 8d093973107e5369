import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type ResourceSample, resourceMonitor, type SamplerErrorDetail } from '../src/index.js'
import { nextEvent } from './helpers.js'

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'vain-resources-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('resourceMonitor on this machine', () => {
  it('samples CPU, memory, disk and network; absent GPU and battery are undefined, not zero', async () => {
    const monitor = resourceMonitor({ intervalMs: 100, powerSupplyDir: join(tmp(), 'none') })
    await monitor.start()
    try {
      const sample = await nextEvent<ResourceSample>(monitor, 'sample')
      expect(sample.failed).toEqual([])
      expect(sample.cpu.cores).toBe(cpus().length)
      expect(sample.cpu.host).toBeGreaterThanOrEqual(0)
      expect(sample.cpu.host).toBeLessThanOrEqual(1)
      expect(sample.cpu.perCore).toHaveLength(cpus().length)
      expect(sample.cpu.processCores).toBeGreaterThanOrEqual(0)
      expect(sample.memory.totalBytes).toBeGreaterThan(0)
      expect(sample.memory.availableBytes).toBeGreaterThan(0)
      expect(sample.memory.process.rssBytes).toBeGreaterThan(0)
      expect(sample.disk.totalBytes).toBeGreaterThan(0)
      expect(sample.disk.freeBytes).toBeGreaterThan(0)
      expect(sample.network.interfaces.lo).toBeDefined()
      expect(sample.spanMs).toBeGreaterThan(0)
      // this machine has no power supply listed (we pointed at a missing dir) and no nvidia-smi
      expect(sample.power).toBeUndefined()
      expect('power' in sample).toBe(true)
      expect(sample.gpu).toBeUndefined()
      expect(sample.network.libp2p).toBeUndefined()
      expect(monitor.latest()).toBe(sample)
    } finally {
      await monitor.stop()
    }
  })

  it('reports the libp2p traffic the app hands in, as rates', async () => {
    let bytes = 0
    const monitor = resourceMonitor({
      intervalMs: 100,
      libp2pTraffic: () => {
        bytes += 1000
        return { rxBytes: bytes, txBytes: bytes * 2 }
      },
    })
    await monitor.start()
    try {
      const sample = await nextEvent<ResourceSample>(monitor, 'sample')
      expect(sample.network.libp2p?.rxBytesPerSec).toBeGreaterThan(0)
      expect(sample.network.libp2p?.txBytesPerSec).toBeGreaterThan(0)
    } finally {
      await monitor.stop()
    }
  })

  it('a reader that fails is reported, its figures absent, retried at the next sample, and the monitor keeps going', async () => {
    // a fake /proc whose stat is garbage for a while
    const proc = tmp()
    await mkdir(join(proc, 'net'))
    writeFileSync(join(proc, 'stat'), readFileSync('/proc/stat'))
    writeFileSync(join(proc, 'meminfo'), readFileSync('/proc/meminfo'))
    writeFileSync(join(proc, 'net', 'dev'), readFileSync('/proc/net/dev'))
    writeFileSync(join(proc, 'diskstats'), readFileSync('/proc/diskstats'))
    const monitor = resourceMonitor({ intervalMs: 50, procDir: proc, gpu: false })
    const errors: SamplerErrorDetail[] = []
    monitor.addEventListener('error', (e) => errors.push(e.detail))
    await monitor.start()
    try {
      writeFileSync(join(proc, 'stat'), 'not a proc stat\n')
      rmSync(join(proc, 'meminfo'))
      const bad = await nextEvent<ResourceSample>(monitor, 'sample', (s) => s.failed.includes('cpu'))
      expect(bad.failed).toContain('memory')
      expect(bad.cpu.host).toBeUndefined()
      expect(bad.memory.availableBytes).toBeUndefined()
      expect(errors.some((e) => e.source === 'cpu' && e.error.name === 'ParseError')).toBe(true)
      // fixed: the next samples have the figures again
      writeFileSync(join(proc, 'stat'), readFileSync('/proc/stat'))
      writeFileSync(join(proc, 'meminfo'), readFileSync('/proc/meminfo'))
      // (the fake /proc/stat does not change: CPU shares stay undefined, its parse succeeds)
      const good = await nextEvent<ResourceSample>(monitor, 'sample', (s) => s.failed.length === 0)
      expect(good.memory.availableBytes).toBeGreaterThan(0)
    } finally {
      await monitor.stop()
    }
  })

  it('invalid options are a typed error', () => {
    expect(() => resourceMonitor({ intervalMs: 1 })).toThrow(
      expect.objectContaining({ name: 'InvalidResourceConfigError' }),
    )
    expect(() => resourceMonitor({ gpu: 'yes' as never })).toThrow(
      expect.objectContaining({ name: 'InvalidResourceConfigError' }),
    )
  })

  it('stop() leaves no timer behind', async () => {
    const monitor = resourceMonitor({ intervalMs: 50 })
    await monitor.start()
    await nextEvent(monitor, 'sample')
    await monitor.stop()
    const count = monitor.samples
    await new Promise((r) => setTimeout(r, 200))
    expect(monitor.samples).toBe(count)
  })
})
