import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createDataset, labelCounts, subset } from '../src/data/dataset.js'
import { type PartitionOptions, partitionDataset } from '../src/data/partition.js'
import { gaussianBlobs, splitDataset } from '../src/data/synthetic.js'
import { createRng } from '../src/random.js'

/** 2,000 labels over 10 classes, class sizes 100..300 (like MNIST, unequal). */
function labelsDataset(n = 2000, classes = 10, seed = 1) {
  const rng = createRng(seed)
  const labels = new Int32Array(n)
  for (let i = 0; i < n; i++) labels[i] = Math.min(classes - 1, Math.floor(rng.next() ** 1.3 * classes))
  return { labels, numClasses: classes }
}

function expectExactCover(parts: Int32Array[], n: number) {
  const seen = new Uint8Array(n)
  for (const p of parts) for (const i of p) seen[i]!++
  expect(seen.every((c) => c === 1)).toBe(true)
}

/** Mean total-variation distance between each client's label distribution and the global one. */
function labelSkew(ds: { labels: Int32Array; numClasses: number }, parts: Int32Array[]): number {
  const global = labelCounts(ds)
  let sum = 0
  for (const p of parts) {
    const counts = labelCounts(ds, p)
    let tv = 0
    for (let c = 0; c < ds.numClasses; c++) tv += Math.abs(counts[c]! / p.length - global[c]! / ds.labels.length)
    sum += tv / 2
  }
  return sum / parts.length
}

describe('datasets', () => {
  it('createDataset validates shapes, labels and finiteness', () => {
    expect(createDataset({ x: [1, 2, 3, 4], labels: [0, 1], features: 2, numClasses: 2 }).size).toBe(2)
    expect(() => createDataset({ x: [1, 2, 3], labels: [0, 1], features: 2, numClasses: 2 })).toThrow(
      expect.objectContaining({ name: 'ShapeMismatchError' }),
    )
    expect(() => createDataset({ x: [1, 2, 3, 4], labels: [0, 2], features: 2, numClasses: 2 })).toThrow(
      expect.objectContaining({ name: 'InvalidDatasetError' }),
    )
    expect(() => createDataset({ x: [1, Number.NaN, 3, 4], labels: [0, 1], features: 2, numClasses: 2 })).toThrow(
      expect.objectContaining({ name: 'InvalidDatasetError' }),
    )
  })

  it('gaussianBlobs is deterministic, balanced and valid; subset and split copy rows', () => {
    const a = gaussianBlobs({ samples: 1000, features: 8, numClasses: 4, seed: 3 })
    const b = gaussianBlobs({ samples: 1000, features: 8, numClasses: 4, seed: 3 })
    expect(Buffer.from(a.x.buffer).equals(Buffer.from(b.x.buffer))).toBe(true)
    expect([...labelCounts(a)]).toEqual([250, 250, 250, 250])
    expect(() => createDataset(a)).not.toThrow()
    const s = subset(a, [5, 2])
    expect([...s.labels]).toEqual([a.labels[5], a.labels[2]])
    expect([...s.x.subarray(8, 16)]).toEqual([...a.x.subarray(16, 24)])
    const { train, test } = splitDataset(a, 800)
    expect([train.size, test.size]).toEqual([800, 200])
    expect(() => gaussianBlobs({ samples: 0, features: 8, numClasses: 4 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })
})

describe('partitioners', () => {
  const ds = labelsDataset()
  const all: PartitionOptions[] = [
    { kind: 'iid', clients: 20, seed: 1 },
    { kind: 'dirichlet', clients: 20, alpha: 0.5, seed: 1 },
    { kind: 'shards', clients: 20, seed: 1 },
    { kind: 'quantity-skew', clients: 20, seed: 1 },
  ]

  it('property: every row is assigned exactly once, lists sorted, for every scheme and seed', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 5, max: 60 }),
        (spec, seed, clients) => {
          const parts = partitionDataset(ds, { ...spec, clients, seed })
          expect(parts).toHaveLength(clients)
          expectExactCover(parts, ds.labels.length)
          expect(parts.every((p) => p.every((v, k) => k === 0 || v > p[k - 1]!))).toBe(true)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('is reproducible by seed', () => {
    for (const spec of all) {
      const a = partitionDataset(ds, spec)
      expect(partitionDataset(ds, spec)).toEqual(a)
      expect(partitionDataset(ds, { ...spec, seed: 2 })).not.toEqual(a)
    }
  })

  it('iid: equal sizes (±1) and label mix close to the global one', () => {
    const parts = partitionDataset(ds, { kind: 'iid', clients: 7, seed: 3 })
    const sizes = parts.map((p) => p.length)
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    expect(labelSkew(ds, parts)).toBeLessThan(0.12)
  })

  it('dirichlet: label skew grows as alpha shrinks; every client gets minSamples', () => {
    const skew = (alpha: number) =>
      labelSkew(ds, partitionDataset(ds, { kind: 'dirichlet', clients: 20, alpha, seed: 4 }))
    const [s01, s1, s100] = [skew(0.1), skew(1), skew(100)]
    expect(s01).toBeGreaterThan(s1)
    expect(s1).toBeGreaterThan(s100)
    expect(s01).toBeGreaterThan(0.5)
    expect(s100).toBeLessThan(0.15)
    const parts = partitionDataset(ds, { kind: 'dirichlet', clients: 20, alpha: 0.3, minSamples: 20, seed: 4 })
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(20)
    expect(() =>
      partitionDataset(ds, { kind: 'dirichlet', clients: 20, alpha: 0.01, minSamples: 99, seed: 4 }),
    ).toThrow(expect.objectContaining({ name: 'ConfigError' }))
  })

  it('shards: every client holds exactly two classes, each class spread over clients evenly', () => {
    const parts = partitionDataset(ds, { kind: 'shards', clients: 25, seed: 5 })
    const holders = new Array(10).fill(0)
    for (const p of parts) {
      const present = [...labelCounts(ds, p)].map((c, k) => (c > 0 ? k : -1)).filter((k) => k >= 0)
      expect(present).toHaveLength(2)
      for (const k of present) holders[k]++
    }
    expect(Math.max(...holders) - Math.min(...holders)).toBeLessThanOrEqual(1)
    const three = partitionDataset(ds, { kind: 'shards', clients: 10, classesPerClient: 3, seed: 5 })
    for (const p of three) expect([...labelCounts(ds, p)].filter((c) => c > 0)).toHaveLength(3)
    expect(() => partitionDataset(ds, { kind: 'shards', clients: 4, seed: 1 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })

  it('quantity-skew: sizes vary widely (smaller beta → more), labels stay mixed, minSamples respected', () => {
    const cv = (beta: number) => {
      const sizes = partitionDataset(ds, { kind: 'quantity-skew', clients: 20, beta, seed: 6 }).map((p) => p.length)
      const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length
      return Math.sqrt(sizes.reduce((a, s) => a + (s - mean) ** 2, 0) / sizes.length) / mean
    }
    expect(cv(0.3)).toBeGreaterThan(cv(100))
    expect(cv(0.3)).toBeGreaterThan(0.8)
    const parts = partitionDataset(ds, { kind: 'quantity-skew', clients: 20, beta: 0.1, minSamples: 10, seed: 6 })
    expect(Math.min(...parts.map((p) => p.length))).toBeGreaterThanOrEqual(10)
    const big = parts.filter((p) => p.length >= 200)
    expect(labelSkew(ds, big)).toBeLessThan(0.15)
  })

  it('rejects impossible or invalid options with ConfigError', () => {
    expect(() => partitionDataset(ds, { kind: 'iid', clients: 3000 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    expect(() => partitionDataset(ds, { kind: 'dirichlet', clients: 3, alpha: 0 })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    expect(() => partitionDataset(ds, { kind: 'nope', clients: 3 } as never)).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })
})
