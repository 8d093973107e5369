import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Aggregator,
  AggregatorPreconditionError,
  BulyanPreconditionError,
  bulyan,
  centeredClipping,
  createAggregator,
  hashUpdate,
  KrumPreconditionError,
  krum,
  mean,
  median,
  multiKrum,
  NoUpdatesError,
  normBounding,
  trimmedMean,
  workerMomentum,
} from '../src/aggregators/index.js'
import { selectRange, sortRange } from '../src/aggregators/select.js'
import { createRng } from '../src/random.js'

/** n updates of length d with N(0, 1) values (no ties, almost surely). */
function gaussianUpdates(n: number, d: number, seed: number, scale = 1): Float32Array[] {
  const rng = createRng(seed)
  return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => scale * rng.normal()))
}

function permute<T>(xs: readonly T[], seed: number): T[] {
  const p = createRng(seed).permutation(xs.length)
  return Array.from(p, (i) => xs[i]!)
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]! - b[j]!))
  return m
}

/** Every aggregator with parameters valid for n >= 7 updates (f = 1). */
function all(): Aggregator[] {
  return [
    mean(),
    median(),
    trimmedMean({ beta: 0.15 }),
    krum({ f: 1 }),
    multiKrum({ f: 1, m: 3 }),
    bulyan({ f: 1 }),
    normBounding({ maxNorm: 2 }),
    centeredClipping({ tau: 1, iterations: 2 }),
  ]
}

describe('selection kernels', () => {
  it('selectRange and sortRange agree with a full sort (duplicates, adversarial shapes)', () => {
    const values = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
      fc.constantFrom(0, -0, 1, -1, 5),
    )
    fc.assert(
      fc.property(fc.array(values, { minLength: 1, maxLength: 120 }), fc.nat(), (xs, kSeed) => {
        const sorted = [...xs].sort((a, b) => a - b)
        const a = Float64Array.from(xs)
        sortRange(a, 0, a.length)
        expect(Array.from(a, (x) => x + 0)).toEqual(sorted.map((x) => x + 0))
        const b = Float64Array.from(xs)
        const k = kSeed % xs.length
        expect(selectRange(b, 0, b.length, k) + 0).toBe(sorted[k]! + 0)
        for (let i = 0; i < k; i++) expect(b[i]!).toBeLessThanOrEqual(b[k]!)
        for (let i = k + 1; i < b.length; i++) expect(b[i]!).toBeGreaterThanOrEqual(b[k]!)
      }),
      { numRuns: 300 },
    )
    // sorted, reversed, organ-pipe and constant inputs of a size that uses the quickselect path
    const n = 1000
    for (const make of [(i: number) => i, (i: number) => n - i, (i: number) => Math.min(i, n - i), () => 3]) {
      const a = Float64Array.from({ length: n }, (_, i) => make(i))
      const expected = Array.from(a).sort((x, y) => x - y)
      expect(selectRange(a.slice(), 0, n, 500)).toBe(expected[500])
      const s = a.slice()
      sortRange(s, 0, n)
      expect(Array.from(s)).toEqual(expected)
    }
  })
})

describe('aggregator properties', () => {
  it('identical inputs give back that input, bit for bit (up to the sign of zero)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), {
          minLength: 1,
          maxLength: 16,
        }),
        fc.integer({ min: 7, max: 12 }),
        (values, n) => {
          const u = Float32Array.from(values)
          const updates = Array.from({ length: n }, () => u.slice())
          for (const agg of [
            mean(),
            median(),
            trimmedMean({ beta: 0.2 }),
            krum({ f: 1 }),
            multiKrum({ f: 2 }),
            bulyan({ f: 1 }),
            normBounding({ maxNorm: 1e30 }),
            centeredClipping({ tau: 1e30 }),
          ]) {
            // -0 and +0 are the same number (sums start at +0)
            const plain = (a: Float32Array) => Array.from(a, (x) => (x === 0 ? 0 : x))
            expect(plain(agg.aggregate(updates)), agg.name).toEqual(plain(u))
          }
        },
      ),
      { numRuns: 40 },
    )
  })

  it('are permutation invariant (exactly for order statistics, to float rounding for sums)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 7, max: 15 }), fc.integer({ min: 1, max: 40 }), fc.nat(), (n, d, seed) => {
        const updates = gaussianUpdates(n, d, seed)
        const shuffled = permute(updates, seed + 1)
        for (const make of [() => median(), () => krum({ f: 1 }), () => multiKrum({ f: 1 }), () => bulyan({ f: 1 })]) {
          const a = make()
          expect(hashUpdate(a.aggregate(shuffled)), a.name).toBe(hashUpdate(make().aggregate(updates)))
        }
        for (const make of [() => mean(), () => trimmedMean({ beta: 0.2 }), () => normBounding({ maxNorm: 1 })]) {
          expect(maxAbsDiff(make().aggregate(shuffled), make().aggregate(updates))).toBeLessThan(1e-5)
        }
      }),
      { numRuns: 40 },
    )
  })

  it('are deterministic: same inputs in the same order → the same hash, from fresh instances', () => {
    const updates = gaussianUpdates(20, 5000, 11)
    for (let k = 0; k < all().length; k++) {
      const first = all()[k]!
      const second = all()[k]!
      const a = first.aggregate(updates)
      const b = second.aggregate(updates.map((u) => u.slice()))
      expect(hashUpdate(a), first.name).toBe(hashUpdate(b))
      expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true)
    }
  })

  it('never modify their inputs', () => {
    const updates = gaussianUpdates(9, 300, 3)
    const before = updates.map(hashUpdate)
    for (const agg of all()) agg.aggregate(updates, { weights: updates.map((_, i) => i + 1) })
    expect(updates.map(hashUpdate)).toEqual(before)
  })

  it('hashUpdate is sha2-256 of the little-endian float32 bytes', () => {
    const expected = createHash('sha256')
      .update(Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]))
      .digest('hex')
    expect(hashUpdate(new Float32Array([1, -2]))).toBe(expected)
  })
})

describe('robustness to known outliers', () => {
  it('median, trimmed mean, Krum, Multi-Krum and Bulyan ignore f huge outliers; the mean does not', () => {
    const n = 15
    const f = 3
    const honest = gaussianUpdates(n - f, 50, 5, 0.1)
    const outliers: Float32Array[] = Array.from({ length: f }, (_, i) =>
      new Float32Array(50).fill(i % 2 === 0 ? 1e6 : -1e5),
    )
    const updates = permute([...honest, ...outliers], 9)
    const isOutlier = (u: Float32Array) => outliers.includes(u)
    for (const agg of [median(), trimmedMean({ trim: f }), krum({ f }), multiKrum({ f }), bulyan({ f })]) {
      const out = agg.aggregate(updates)
      for (const v of out) expect(Math.abs(v), agg.name).toBeLessThan(0.5)
    }
    // Krum returns an honest update
    const chosen = krum({ f }).aggregate(updates)
    expect(updates.some((u) => !isOutlier(u) && hashUpdate(u) === hashUpdate(chosen))).toBe(true)
    expect(Math.abs(mean().aggregate(updates)[0]!)).toBeGreaterThan(1e4)
  })

  it('norm bounding and centered clipping bound the influence of one outlier', () => {
    const honest = gaussianUpdates(9, 100, 6, 0.01)
    const outlier = new Float32Array(100).fill(1000)
    const bounded = normBounding({ maxNorm: 1 }).aggregate([...honest, outlier])
    // the outlier contributes at most maxNorm / n in L2 norm
    let norm = 0
    for (const v of bounded) norm += v * v
    expect(Math.sqrt(norm)).toBeLessThan(0.1 + 0.01 * 10)
    const cc = centeredClipping({ tau: 0.5, iterations: 3 }).aggregate([...honest, outlier])
    let ccNorm = 0
    for (const v of cc) ccNorm += v * v
    expect(Math.sqrt(ccNorm)).toBeLessThan(3 * (0.5 / 10) + 0.1)
  })
})

describe('individual aggregators', () => {
  it('mean is the (weighted) mean', () => {
    const a = new Float32Array([1, 2, 3])
    const b = new Float32Array([3, 6, 9])
    expect(Array.from(mean().aggregate([a, b]))).toEqual([2, 4, 6])
    expect(Array.from(mean().aggregate([a, b], { weights: [3, 1] }))).toEqual([1.5, 3, 4.5])
    expect(Array.from(mean().aggregate([a, b], { weights: [0, 5] }))).toEqual([3, 6, 9])
  })

  it('median and trimmed mean compute the textbook values', () => {
    const cols = [
      [5, 1, 3],
      [4, 2, 8, 6],
    ]
    expect(Array.from(median().aggregate(cols[0]!.map((x) => new Float32Array([x]))))).toEqual([3])
    expect(Array.from(median().aggregate(cols[1]!.map((x) => new Float32Array([x]))))).toEqual([5])
    const tm = trimmedMean({ trim: 1 }).aggregate([1, 100, 2, 3, -50].map((x) => new Float32Array([x])))
    expect(tm[0]).toBe(2)
    // trimming nothing is the mean
    expect(trimmedMean({ beta: 0 }).aggregate([1, 2, 6].map((x) => new Float32Array([x])))[0]).toBe(3)
  })

  it('Bulyan averages the selected values closest to the median', () => {
    // n = 7, f = 1: θ = 5 selected, β = 3 averaged per coordinate
    const updates = [0, 1, 2, 3, 4, 100, -100].map((x) => new Float32Array([x, -x]))
    const out = bulyan({ f: 1 }).aggregate(updates)
    expect(out[0]).toBe(2)
    expect(out[1]).toBe(-2)
  })

  it('centered clipping keeps its center between calls until reset()', () => {
    const agg = centeredClipping({ tau: 1 })
    const u = [new Float32Array([10]), new Float32Array([10])]
    expect(agg.aggregate(u)[0]).toBe(1)
    expect(agg.aggregate(u)[0]).toBe(2)
    agg.reset()
    expect(agg.aggregate(u)[0]).toBe(1)
    const m = workerMomentum({ beta: 0.5 })
    expect(Array.from(m.push(new Float32Array([2])))).toEqual([1])
    expect(Array.from(m.push(new Float32Array([2])))).toEqual([1.5])
  })

  it('throws typed errors on bad input', () => {
    expect(() => mean().aggregate([])).toThrow(NoUpdatesError)
    expect(() => median().aggregate([new Float32Array(2), new Float32Array(3)])).toThrowError(
      expect.objectContaining({ name: 'ShapeMismatchError' }),
    )
    for (const agg of all()) {
      const bad = gaussianUpdates(7, 4, 1)
      bad[3]![2] = Number.NaN
      expect(() => agg.aggregate(bad), agg.name).toThrowError(expect.objectContaining({ name: 'InvalidUpdateError' }))
    }
    expect(() => mean().aggregate([new Float32Array(1)], { weights: [-1] })).toThrowError(
      expect.objectContaining({ name: 'InvalidUpdateError' }),
    )
    expect(() => mean().aggregate([new Float32Array(1)], { weights: [0] })).toThrowError(
      expect.objectContaining({ name: 'InvalidUpdateError' }),
    )
  })

  it('check their Byzantine preconditions with typed errors', () => {
    const six = gaussianUpdates(6, 3, 2)
    let err: unknown
    try {
      bulyan({ f: 1 }).aggregate(six)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BulyanPreconditionError)
    expect(err).toBeInstanceOf(AggregatorPreconditionError)
    expect(err).toMatchObject({ name: 'BulyanPreconditionError', n: 6, f: 1, required: 7 })
    expect(BulyanPreconditionError.name).toBe('BulyanPreconditionError')
    expect(() => krum({ f: 2 }).aggregate(six)).toThrow(KrumPreconditionError)
    expect(() => multiKrum({ f: 1 }).aggregate(six.slice(0, 4))).toThrowError(
      expect.objectContaining({ name: 'KrumPreconditionError' }),
    )
    expect(() => trimmedMean({ trim: 3 }).aggregate(six)).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
  })

  it('createAggregator validates specs', () => {
    expect(createAggregator({ name: 'bulyan', params: { f: 2 } }).name).toBe('bulyan')
    expect(createAggregator({ name: 'trimmed-mean' }).name).toBe('trimmed-mean')
    expect(() => createAggregator({ name: 'nope' })).toThrowError(expect.objectContaining({ name: 'ConfigError' }))
    expect(() => createAggregator({ name: 'krum', params: { f: -1 } })).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
    expect(() => createAggregator({ name: 'median', params: { extra: 1 } })).toThrowError(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })
})
