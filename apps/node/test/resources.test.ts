import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLocalTrainer, createModel, gaussianBlobs, type JobSpec, mlp } from '@vain/fl'
import { progressTracker, type ResourceSample, resourceScheduler, type SampleSource } from '@vain/resources'
import { afterAll, describe, expect, it } from 'vitest'
import { loadAppConfig } from '../src/config.js'
import { createLogger, type Logger } from '../src/logger.js'
import {
  NodeResourcesConfigSchema,
  networkAdaptation,
  type ResourcesSnapshot,
  renderResources,
  scheduledLearner,
  startNodeResources,
} from '../src/resources.js'
import { startVainNode } from '../src/runtime.js'

function memoryLog() {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, ...(fields !== undefined ? { fields } : {}) })
  }
  const log: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
  return { log, lines }
}

/** Samples pushed by the test (an EventTarget; the scheduler reads it as a SampleSource). */
class Source extends EventTarget {
  last: ResourceSample | undefined
  constructor(private readonly base: ResourceSample) {
    super()
  }
  latest() {
    return this.last
  }
  /** Pushes the real sample with other processes' CPU share set. */
  others(others: number) {
    this.last = { ...this.base, cpu: { ...this.base.cpu, others, host: others } }
    this.dispatchEvent(new CustomEvent('sample', { detail: this.last }))
  }
}

const trainer = createLocalTrainer()
afterAll(() => trainer.close())
const data = gaussianBlobs({ samples: 600, features: 16, numClasses: 4, seed: 1 })
const model = createModel(mlp(16, [16], 4), { seed: 1 })
const spec = (epochs: number, roundDeadlineMs = 60_000) =>
  ({
    name: 'blobs-job',
    dataset: { name: 'blobs', params: {} },
    roundDeadlineMs,
    local: { epochs, batchSize: 32, lr: 0.1, momentum: 0.9, weightDecay: 0, proxMu: 0 },
  }) as unknown as JobSpec

describe('node config: resources', () => {
  it('maxCpu, maxMemory, onBattery are validated: bad values are an AppConfigError naming them', async () => {
    await expect(loadAppConfig(undefined, { dataDir: '/tmp/x', resources: { maxCpu: 2 } })).rejects.toMatchObject({
      name: 'AppConfigError',
      message: expect.stringMatching(/resources\.maxCpu/),
    })
    await expect(
      loadAppConfig(undefined, { dataDir: '/tmp/x', resources: { maxMemory: 'lots', onBattery: 'explode' } }),
    ).rejects.toMatchObject({
      name: 'AppConfigError',
      message: expect.stringMatching(/maxMemory[\s\S]*onBattery|onBattery[\s\S]*maxMemory/),
    })
    const config = await loadAppConfig(undefined, {
      dataDir: '/tmp/x',
      resources: { maxCpu: 0.5, maxMemory: '2GiB', onBattery: 'pause' },
    })
    expect(config.resources?.limits).toMatchObject({
      maxCpu: 0.5,
      maxMemory: 2 * 2 ** 30,
      onBattery: 'pause',
      busyCpu: 0.5,
    })
    // no limits set: the node does not pause for other processes' CPU (busyCpu 1)
    expect(NodeResourcesConfigSchema.parse({}).limits).toMatchObject({ maxCpu: 1, busyCpu: 1, onBattery: 'low-power' })
  })
})

describe('training through the scheduler (the real @vain/fl trainer)', () => {
  it('pauses between epochs under pressure, resumes, shows progress, and trains as many epochs as asked', async () => {
    const { log } = memoryLog()
    const resources = await startNodeResources(NodeResourcesConfigSchema.parse({}), log)
    const source = new Source((await resources.monitor.sampleNow()) as ResourceSample)
    await resources.stop()
    source.others(0.1)
    const scheduler = resourceScheduler(source as unknown as SampleSource, { limits: { busyCpu: 0.7, resumeCpu: 0.4 } })
    scheduler.start()
    const progress = progressTracker()
    const learner = scheduledLearner({
      trainer,
      datasets: { blobs: data },
      seed: 1,
      scheduler,
      progress,
      profile: () => resources.profile(),
      log,
      maxWaitShare: 0.5,
    })
    const epochsAt: number[] = []
    progress.addEventListener('progress', (e) => {
      if (e.detail.done === 2 && e.detail.state === 'running') source.others(0.95) // a load spike after epoch 2
    })
    scheduler.addEventListener('task:paused', () => {
      epochsAt.push(progress.snapshot()[0]?.done ?? -1)
      setTimeout(() => {
        source.others(0.1)
        source.others(0.1)
      }, 100)
    })
    scheduler.addEventListener('task:resumed', () => epochsAt.push(progress.snapshot()[0]?.done ?? -1))
    const result = await learner.train(spec(4), model, 3)
    expect(epochsAt).toEqual([2, 2]) // paused after epoch 2, nothing trained while paused
    expect(result.numSamples).toBe(600)
    expect(result.params).toHaveLength(model.params.length)
    expect(progress.snapshot()[0]).toMatchObject({ task: 'train blobs-job r3', done: 4, total: 4, state: 'done' })
    const acc = await trainer.evaluate({ ...model, params: result.params }, data)
    expect(acc.accuracy).toBeGreaterThan(0.8)
    scheduler.stop()
  })

  it('a busy host makes the trainer wait and say so; after its share of the deadline it warns that the update will be late, and trains once the host is free', async () => {
    const { log, lines } = memoryLog()
    const resources = await startNodeResources(NodeResourcesConfigSchema.parse({}), log)
    const source = new Source((await resources.monitor.sampleNow()) as ResourceSample)
    await resources.stop()
    source.others(0.99)
    const scheduler = resourceScheduler(source as unknown as SampleSource, { limits: { busyCpu: 0.7, resumeCpu: 0.4 } })
    scheduler.start()
    const learner = scheduledLearner({
      trainer,
      datasets: { blobs: data },
      seed: 1,
      scheduler,
      progress: progressTracker(),
      profile: () => resources.profile(),
      log,
      maxWaitShare: 0.5,
    })
    const training = learner.train(spec(1, 200), model, 0)
    // wait for the warning (an event in the log), then free the host
    while (!lines.some((l) => l.msg === "host still busy: this round's update will be late"))
      await new Promise((r) => setTimeout(r, 20))
    expect(lines.find((l) => l.msg === 'host busy: training waits')?.fields).toMatchObject({ maxWaitMs: 100 })
    source.others(0.1)
    source.others(0.1)
    expect((await training).numSamples).toBe(600)
    scheduler.stop()
  })

  it('with giveUp, a busy host makes the trainer give the round up with a typed error', async () => {
    const { log, lines } = memoryLog()
    const resources = await startNodeResources(NodeResourcesConfigSchema.parse({}), log)
    const source = new Source((await resources.monitor.sampleNow()) as ResourceSample)
    await resources.stop()
    source.others(0.99)
    const scheduler = resourceScheduler(source as unknown as SampleSource, { limits: { busyCpu: 0.7, resumeCpu: 0.4 } })
    scheduler.start()
    const learner = scheduledLearner({
      trainer,
      datasets: { blobs: data },
      seed: 1,
      scheduler,
      progress: progressTracker(),
      profile: () => resources.profile(),
      log,
      maxWaitShare: 0.5,
      giveUp: true,
    })
    await expect(learner.train(spec(1, 200), model, 0)).rejects.toMatchObject({ name: 'AdmissionTimeoutError' })
    expect(lines.find((l) => l.msg === 'host busy: training waits')?.fields).toMatchObject({ maxWaitMs: 100 })
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'host stayed busy: this node skips the round')).toBe(true)
    scheduler.stop()
  })

  it('the node samples its host: a snapshot with figures, no invented GPU or battery', async () => {
    const { log, lines } = memoryLog()
    const resources = await startNodeResources(NodeResourcesConfigSchema.parse({ sampleIntervalMs: 200 }), log)
    try {
      const snap = resources.snapshot()
      expect(snap.sample?.cpu.cores).toBeGreaterThan(0)
      expect(snap.sample?.memory.totalBytes).toBeGreaterThan(0)
      expect(snap.sample?.gpu).toBeUndefined()
      expect(snap.profile.name).toBe('normal')
      expect(snap.scheduler).toMatchObject({ pressure: [], queued: [], running: [] })
      expect(snap.capacity.score).toBeGreaterThanOrEqual(0)
      // JSON (the status endpoint): absent figures are left out, not zero
      const json = JSON.parse(JSON.stringify(snap))
      expect('gpu' in json.sample).toBe(false)
      expect(lines.some((l) => l.msg === 'resources')).toBe(true)
    } finally {
      await resources.stop()
    }
  })
})

describe("the node's network limits and roles from its resources", () => {
  it('network advice applies to a running node only once a changed advice is seen twice in a row', () => {
    const { log, lines } = memoryLog()
    const calls: unknown[] = []
    const net = {
      setInboundRate: (r: { capacity: number; refillPerSecond: number }) => calls.push(['rate', r]),
      setCompression: (on: boolean) => calls.push(['compress', on]),
    }
    const advice = (refillPerSecond: number, compress = true) => ({
      rateScale: refillPerSecond / 50,
      refillPerSecond,
      capacity: refillPerSecond * 2,
      compress,
      compression: compress ? ('fast' as const) : ('off' as const),
      reason: 'test',
    })
    const a = networkAdaptation(advice(50), net, log)
    expect(a.observe(advice(48))).toBe(false) // within 20 %: the same advice
    expect(a.observe(advice(13))).toBe(false) // changed once: pending
    expect(a.observe(advice(50))).toBe(false) // back to normal: the blip is forgotten
    expect(a.observe(advice(13))).toBe(false)
    expect(calls).toEqual([])
    expect(a.observe(advice(14))).toBe(true) // seen twice: applied
    expect(calls).toEqual([
      ['rate', { capacity: 28, refillPerSecond: 14 }],
      ['compress', true],
    ])
    expect(a.applied.refillPerSecond).toBe(14)
    expect(lines.some((l) => l.msg === 'network limits adapted to the host')).toBe(true)
    // a compression flip alone is a change too
    a.observe(advice(14, false))
    expect(a.observe(advice(14, false))).toBe(true)
    expect(calls.at(-1)).toEqual(['compress', false])
    // a node that refuses the figures: logged, not thrown, nothing recorded as applied
    const failing = networkAdaptation(
      advice(50),
      {
        setInboundRate: () => {
          throw new Error('bad figures')
        },
        setCompression: () => {},
      },
      log,
    )
    failing.observe(advice(20))
    expect(failing.observe(advice(20))).toBe(false)
    expect(failing.applied.refillPerSecond).toBe(50)
    expect(lines.some((l) => l.msg === 'network limits not adapted')).toBe(true)
  })

  it('adaptNetwork: rate limits and compression for @vain/net from the host (off by default)', async () => {
    const { log } = memoryLog()
    const off = await startNodeResources(NodeResourcesConfigSchema.parse({}), log)
    expect(off.netConfig()).toEqual({})
    await off.stop()
    const on = await startNodeResources(NodeResourcesConfigSchema.parse({ adaptNetwork: true }), log)
    const net = on.netConfig()
    expect(net.limits?.rateLimitRefillPerSecond).toBeGreaterThanOrEqual(12)
    expect(net.limits?.rateLimitRefillPerSecond).toBeLessThanOrEqual(50)
    expect(typeof net.compression?.enabled).toBe('boolean')
    await on.stop()
  })

  it('on battery (a fake power-supply dir) the node is low-power and also advertises the light role', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vain-power-'))
    await mkdir(join(dir, 'BAT0'))
    await writeFile(
      join(dir, 'BAT0', 'uevent'),
      'POWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_STATUS=Discharging\nPOWER_SUPPLY_CAPACITY=55\n',
    )
    const { log, lines } = memoryLog()
    const resources = await startNodeResources(NodeResourcesConfigSchema.parse({ powerSupplyDir: dir }), log)
    try {
      expect(resources.profile()).toMatchObject({ name: 'low-power', reason: 'on battery (55 %)' })
      expect(resources.roles(['trainer', 'aggregator'])).toEqual(['trainer', 'aggregator', 'light'])
      expect(lines.some((l) => l.msg === 'low-power profile: this node also advertises the light role')).toBe(true)
      // overridden by config: normal
      const normal = await startNodeResources(
        NodeResourcesConfigSchema.parse({ powerSupplyDir: dir, profile: 'normal' }),
        log,
      )
      expect(normal.roles(['trainer'])).toEqual(['trainer'])
      await normal.stop()
    } finally {
      await resources.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('vain start', () => {
  it('shows its resources in GET /status (limits from its config)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vain-resources-'))
    const node = await startVainNode(
      {
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: 0,
        logLevel: 'error',
        json: false,
        resources: NodeResourcesConfigSchema.parse({ maxCpu: 0.5, maxMemory: '4GiB' }),
      },
      createLogger({ level: 'error', json: false }),
    )
    try {
      const res = await fetch(`${node.api?.url}/status`)
      expect(res.status).toBe(200)
      const { resources } = (await res.json()) as { resources: Record<string, any> }
      expect(resources.sample.cpu.cores).toBeGreaterThan(0)
      expect(resources.sample.memory.totalBytes).toBeGreaterThan(0)
      expect(resources.sample.disk.path).toBe(dir)
      expect(resources.profile.name).toBe('normal')
      expect(resources.scheduler.pressure).toBeInstanceOf(Array)
      expect(resources.capacity.score).toBeGreaterThanOrEqual(0)
      expect(node.resources.limits).toMatchObject({ maxCpu: 0.5, busyCpu: 0.5, maxMemory: 4 * 2 ** 30 })
      // what `vain resources --api URL` prints
      const text = renderResources(resources as ResourcesSnapshot)
      expect(text).toMatch(/^cpu {6}(\d+ %|n\/a) of \d+ cores/)
      expect(text).toContain('gpu      none')
      expect(text).toContain('profile normal')
      // the spare capacity it advertises in its signed descriptor (coarse: quarters, 64 MiB)
      const advert = node.resources.capacityAdvert()
      expect(advert?.score).toBeGreaterThanOrEqual(0)
      expect(((advert?.score ?? 0) * 4) % 1).toBe(0)
      // its limits change while it runs (POST /api/node/resources): a new maxCpu brings its pause
      // threshold along; invalid limits change nothing
      const token = (await readFile(join(dir, 'api-token'), 'utf8')).trim()
      const post = (body: unknown) =>
        fetch(`${node.api?.url}/api/node/resources`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        })
      const ok = await post({ maxCpu: 0.25 })
      expect(ok.status, await ok.clone().text()).toBe(200)
      expect(node.resources.limits).toMatchObject({ maxCpu: 0.25, busyCpu: 0.75, maxMemory: 4 * 2 ** 30 })
      expect(node.resources.scheduler.limits.maxCpu).toBe(0.25)
      const bad = await post({ resumeCpu: 0.9 })
      expect(bad.status).toBe(400)
      expect(((await bad.json()) as { error: { name: string } }).error.name).toBe('InvalidResourceLimits')
      expect(node.resources.limits.maxCpu).toBe(0.25)
    } finally {
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
