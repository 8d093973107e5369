import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gaussianBlobs, splitDataset } from '../src/data/index.js'
import { mlp, modelHash } from '../src/models/index.js'
import { computeEpsilon } from '../src/privacy/index.js'
import { createModelRegistry, type ModelState } from '../src/registry/index.js'
import {
  createTrainingPool,
  deriveSeed,
  type RoundLog,
  roundsToAccuracy,
  runSimulation,
  type SimulationOptions,
  type TrainingPool,
} from '../src/simulation/index.js'
// internal helpers, not exported by the package
import { createProgressReporter, formatBytes } from '../src/simulation/progress.js'
import { fedAvg } from '../src/strategies/index.js'

// 4 overlapping Gaussian classes in 16 dimensions: learnable, but not in one step
const dataset = splitDataset(
  gaussianBlobs({ samples: 2400, features: 16, numClasses: 4, separation: 1, seed: 1 }),
  2000,
)
const base: SimulationOptions = {
  dataset,
  model: mlp(16, [32], 4),
  clients: 20,
  rounds: 5,
  fraction: 0.25,
  partition: { kind: 'dirichlet', alpha: 0.5 },
  local: { epochs: 2, batchSize: 16, lr: 0.05, momentum: 0.9 },
  seed: 1,
}

const ports = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length

describe('runSimulation on worker threads', () => {
  let first: Awaited<ReturnType<typeof runSimulation>>
  const logs: RoundLog[] = []
  const lines: string[] = []
  const states: ModelState[] = []
  const registry = createModelRegistry()
  let portsBefore = 0

  beforeAll(async () => {
    portsBefore = ports()
    registry.addEventListener('state', (e) => states.push(e.detail.state))
    first = await runSimulation(
      {
        ...base,
        workers: 2,
        onRound: (log) => logs.push(log),
        progress: { write: (s: string) => lines.push(s), isTTY: false },
        registryName: 'blobs',
      },
      { registry },
    )
  })

  it('learns: accuracy well above chance (25 %) after 5 rounds', () => {
    expect(first.initial.accuracy).toBeLessThan(0.5)
    expect(first.finalAccuracy).toBeGreaterThan(0.7)
    expect(first.bestAccuracy).toBeGreaterThanOrEqual(first.finalAccuracy)
    expect(first.history.at(-1)!.trainLoss).toBeLessThan(first.history[0]!.trainLoss + 1)
  })

  it('logs every round: sampled clients, accuracy, loss and bytes; prints plain lines off a TTY', () => {
    expect(logs).toHaveLength(5)
    expect(first.history).toEqual(logs)
    for (const [i, log] of logs.entries()) {
      expect(log.round).toBe(i + 1)
      expect(log.clients).toHaveLength(5)
      expect([...log.clients].sort((a, b) => a - b)).toEqual(log.clients)
      expect(log.accuracy).toBeGreaterThan(0)
      expect(Number.isFinite(log.trainLoss)).toBe(true)
      expect(log.bytesUp).toBe(log.denseBytesUp) // no codec: dense float32
      expect(log.denseBytesUp).toBeGreaterThan(5 * 4 * 676)
      expect(log.epsilon).toBeUndefined()
    }
    expect(first.totals.compressionRatio).toBe(1)
    expect(first.clientSizes.reduce((a, b) => a + b, 0)).toBe(2000)
    expect(lines).toHaveLength(5)
    expect(lines[4]).toMatch(/^round 5\/5 {2}acc +\d+\.\d\d % {2}loss [\d.]+ {2}up /)
    const curve = first.roundsToAccuracy
    expect(curve.map((c) => c.target)).toEqual([0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95])
    expect(curve[0]!.round).toBeGreaterThanOrEqual(1)
  })

  it('registers every round as a version with lineage and shows its state', () => {
    const versions = registry.versions('blobs')
    expect(versions).toHaveLength(6) // round 0 and five rounds
    expect(versions.at(-1)!.hash).toBe(modelHash(first.model))
    expect(registry.lineage({ name: 'blobs' }).map((v) => v.metadata['round'])).toEqual([5, 4, 3, 2, 1, 0])
    expect(states).toContain('training')
    expect(states).toContain('aggregating')
    expect(states).toContain('evaluating')
    expect(registry.state('blobs')).toBe('idle')
  })

  it('leaves no worker thread behind', () => {
    expect(ports()).toBe(portsBefore)
  })

  it('is deterministic by seed, whatever the number of workers', async () => {
    const inProcess = await runSimulation({ ...base, workers: 0 })
    expect(modelHash(inProcess.model)).toBe(modelHash(first.model))
    expect(inProcess.history.map((h) => h.accuracy)).toEqual(first.history.map((h) => h.accuracy))
    const other = await runSimulation({ ...base, workers: 0, seed: 2 })
    expect(modelHash(other.model)).not.toBe(modelHash(first.model))
  })

  it('abort rejects with the signal reason and terminates the workers', async () => {
    const before = ports()
    const controller = new AbortController()
    const run = runSimulation({
      ...base,
      rounds: 50,
      workers: 2,
      signal: controller.signal,
      onRound: (log) => {
        if (log.round === 1) controller.abort()
      },
    })
    await expect(run).rejects.toMatchObject({ name: 'AbortError' })
    expect(ports()).toBe(before)
  })
})

describe('runSimulation: attacks, codecs, DP (one shared pool)', () => {
  const iid: SimulationOptions = {
    ...base,
    clients: 20,
    fraction: 0.5,
    rounds: 6,
    partition: { kind: 'iid' },
    local: { epochs: 1, batchSize: 16, lr: 0.05, momentum: 0.9 },
  }
  let pool: TrainingPool
  beforeAll(async () => {
    pool = createTrainingPool({ train: dataset.train, test: dataset.test, workers: 2 })
    await pool.start()
  })
  afterAll(async () => {
    await pool.stop()
    expect(pool.liveThreads).toBe(0)
  })

  it('sign-flip by 30 % of clients: the mean collapses, trimmed mean, median and multi-Krum keep learning', async () => {
    const attack = { name: 'sign-flip', params: { scale: 4 }, fraction: 0.3 }
    const clean = await runSimulation(iid, { pool })
    const mean = await runSimulation({ ...iid, attack }, { pool })
    const trimmed = await runSimulation(
      { ...iid, attack, aggregator: { name: 'trimmed-mean', params: { beta: 0.3 } } },
      { pool },
    )
    const median = await runSimulation({ ...iid, attack, aggregator: { name: 'median' } }, { pool })
    const multiKrum = await runSimulation(
      { ...iid, attack, aggregator: { name: 'multi-krum', params: { f: 3 } } },
      { pool },
    )
    expect(mean.attackers).toHaveLength(6)
    expect(mean.history.every((h) => h.attackers === 3)).toBe(true)
    expect(clean.finalAccuracy).toBeGreaterThan(0.75)
    expect(mean.finalAccuracy).toBeLessThan(0.5)
    expect(trimmed.finalAccuracy).toBeGreaterThan(clean.finalAccuracy - 0.1)
    expect(median.finalAccuracy).toBeGreaterThan(clean.finalAccuracy - 0.1)
    expect(multiKrum.finalAccuracy).toBeGreaterThan(clean.finalAccuracy - 0.05)
  })

  it('label flipping poisons the attackers’ data (runs on the workers)', async () => {
    const r = await runSimulation(
      { ...iid, attack: { name: 'label-flip', fraction: 0.2 }, aggregator: { name: 'median' } },
      { pool },
    )
    expect(r.history.every((h) => h.attackers === 2)).toBe(true)
    expect(r.finalAccuracy).toBeGreaterThan(0.6)
  })

  it('top-k + int8 with error feedback: far fewer bytes up, still learns', async () => {
    const r = await runSimulation(
      { ...iid, codec: { name: 'top-k', params: { fraction: 0.05, values: 'int8' } } },
      { pool },
    )
    expect(r.totals.compressionRatio).toBeGreaterThan(20)
    expect(r.history.every((h) => h.bytesUp < h.denseBytesUp / 20)).toBe(true)
    expect(r.finalAccuracy).toBeGreaterThan(0.6)
  })

  it('DP-FedAvg: reports the RDP ε of the run, noise is seeded', async () => {
    const dp = { clipNorm: 1, noiseMultiplier: 0.8, delta: 1e-5 }
    const a = await runSimulation({ ...iid, dp }, { pool })
    const b = await runSimulation({ ...iid, dp }, { pool })
    const expected = computeEpsilon({ samplingRate: 10 / 20, noiseMultiplier: 0.8, steps: 6 }, 1e-5).epsilon
    expect(a.privacy!.epsilon).toBeCloseTo(expected, 10)
    expect(a.history.map((h) => h.epsilon!)).toEqual(
      [1, 2, 3, 4, 5, 6].map(
        (steps) => computeEpsilon({ samplingRate: 0.5, noiseMultiplier: 0.8, steps }, 1e-5).epsilon,
      ),
    )
    expect(modelHash(a.model)).toBe(modelHash(b.model))
  })

  it('a task that fails in a worker rejects with TaskFailedError; the pool keeps working', async () => {
    const params = new Float32Array(16 * 32 + 32 + 32 * 4 + 4)
    const options = { epochs: 1, batchSize: 8, lr: 0.1, momentum: 0, weightDecay: 0, proxMu: 0, seed: 1 }
    const architecture = mlp(16, [32], 4)
    await expect(
      pool.run({ kind: 'train', architecture, params, indices: Int32Array.of(1e6), options }),
    ).rejects.toMatchObject({ name: 'TaskFailedError', remoteName: 'RangeError' })
    const ok = await pool.run({ kind: 'train', architecture, params, indices: Int32Array.of(0, 1, 2), options })
    expect(ok.samples).toBe(3)
    expect(ok.delta).toHaveLength(params.length)
  })

  it('rejects contradictory options with ConfigError', async () => {
    await expect(
      runSimulation({ ...iid, dp: { clipNorm: 1, noiseMultiplier: 1 }, aggregator: { name: 'median' } }, { pool }),
    ).rejects.toMatchObject({ name: 'ConfigError' })
    await expect(
      runSimulation({ ...iid, strategy: fedAvg(), aggregator: { name: 'median' } }, { pool }),
    ).rejects.toMatchObject({ name: 'ConfigError' })
    await expect(runSimulation({ ...iid, strategy: { name: 'fedsgd' } }, { pool })).rejects.toMatchObject({
      name: 'ConfigError',
    })
    await expect(runSimulation({ ...iid, rounds: 0 }, { pool })).rejects.toMatchObject({ name: 'ConfigError' })
  })
})

describe('training pool lifecycle', () => {
  it('in-process pool: run after stop() is a ClosedError; start() twice too', async () => {
    const pool = createTrainingPool({ train: dataset.train, test: dataset.test, workers: 0 })
    await pool.start()
    await expect(pool.start()).rejects.toMatchObject({ name: 'ClosedError' })
    const r = await pool.run({ kind: 'evaluate', architecture: mlp(16, [32], 4), params: new Float32Array(676) })
    expect(r.samples).toBe(400)
    await pool.stop()
    await pool.stop() // idempotent
    await expect(
      pool.run({ kind: 'evaluate', architecture: mlp(16, [32], 4), params: new Float32Array(676) }),
    ).rejects.toMatchObject({ name: 'ClosedError' })
  })
})

describe('helpers', () => {
  it('roundsToAccuracy finds the first round reaching each target', () => {
    const curve = [
      { round: 0, accuracy: 0.1 },
      { round: 1, accuracy: 0.6 },
      { round: 2, accuracy: undefined },
      { round: 3, accuracy: 0.9 },
    ]
    expect(roundsToAccuracy(curve, [0.05, 0.5, 0.8, 0.95])).toEqual([
      { target: 0.05, round: 0 },
      { target: 0.5, round: 1 },
      { target: 0.8, round: 3 },
      { target: 0.95, round: undefined },
    ])
  })

  it('on a TTY the progress reporter redraws a bar under the round lines, and clears it at the end', () => {
    let out = ''
    const reporter = createProgressReporter({ write: (s: string) => (out += s), isTTY: true, columns: 80 }, 2, 'test')
    const log: RoundLog = {
      round: 1,
      clients: [0, 3],
      attackers: 1,
      accuracy: 0.5,
      testLoss: 1,
      trainLoss: 0.25,
      bytesUp: 100,
      denseBytesUp: 10_000,
      bytesDown: 10_000,
      epsilon: 1.5,
      localSteps: 4,
      elapsedMs: 1500,
    }
    reporter.round(log)
    expect(out).toContain('\r\x1b[2Kround 1/2  acc  50.00 %  loss 0.2500  up 100 B (dense 9.77 KiB, 100×)')
    expect(out).toContain('attackers 1/2  ε 1.500  1.5 s\ntest [')
    expect(out.trimEnd().endsWith('1/2 acc 50.0 %')).toBe(true)
    reporter.done()
    expect(out.endsWith('\r\x1b[2K')).toBe(true)
    expect(formatBytes(407_080)).toBe('397.5 KiB')
  })

  it('deriveSeed is stable and separates paths', () => {
    expect(deriveSeed(1, 'train', 2, 3)).toBe(deriveSeed(1, 'train', 2, 3))
    expect(deriveSeed(1, 'train', 2, 3)).not.toBe(deriveSeed(1, 'train', 3, 2))
    expect(deriveSeed(1, 'a', 'bc')).not.toBe(deriveSeed(1, 'ab', 'c'))
    expect(deriveSeed(1, 'x')).not.toBe(deriveSeed(2, 'x'))
  })
})
