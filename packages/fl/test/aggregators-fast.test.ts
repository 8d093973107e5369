/**
 * The fast paths of the order-statistic and distance aggregators (branch-free selection, merge
 * sort, tiled distances, the trimmed sum's defined order) against straightforward reference
 * implementations written from the definitions: full sorts, one pair at a time. Random update
 * sets include many ties, odd and even counts, and lengths that cross the block boundaries.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bulyan, hashUpdate, krum, median, multiKrum, trimmedMean } from '../src/aggregators/index.js'
import { pairwiseSquaredDistances } from '../src/aggregators/krum.js'
import { orderStats, sortInto, splitOnce } from '../src/aggregators/select.js'
import { oddEvenMergeNetwork, simdAvailable, simdState } from '../src/aggregators/simd.js'
import { createRng } from '../src/random.js'

// ---------------------------------------------------------------- reference implementations

function column(updates: readonly Float32Array[], j: number, rows?: readonly number[]): number[] {
  return (rows ?? updates.map((_, i) => i)).map((i) => updates[i]![j]!)
}

const ascending = (a: number, b: number) => a - b

function refMedian(updates: readonly Float32Array[]): Float32Array {
  const d = updates[0]!.length
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) {
    const s = column(updates, j).sort(ascending)
    const m = s.length
    const k = (m - 1) >> 1
    out[j] = (m % 2 === 1 ? s[k]! : (s[k]! + s[k + 1]!) / 2) + 0
  }
  return out
}

/**
 * Trimmed mean as documented: lo, hi = the values of ranks k and n−k−1; the values strictly
 * between summed in update order, then the kept copies of lo and hi.
 */
function refTrimmed(updates: readonly Float32Array[], k: number): Float32Array {
  const d = updates[0]!.length
  const n = updates.length
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) {
    const col = column(updates, j)
    const s = [...col].sort(ascending)
    const lo = s[k]!
    const hi = s[n - k - 1]!
    if (lo === hi) {
      out[j] = lo + 0
      continue
    }
    let sum = 0
    for (const v of col) if (v > lo && v < hi) sum += v
    const loCopies = s.slice(k, n - k).filter((v) => v === lo).length
    const hiCopies = s.slice(k, n - k).filter((v) => v === hi).length
    out[j] = (sum + loCopies * lo + hiCopies * hi) / (n - 2 * k) + 0
  }
  return out
}

/** Squared distances pair by pair: block sums of 1,024 coordinates, added in block order. */
function refDistances(updates: readonly Float32Array[]): Float64Array {
  const n = updates.length
  const d = updates[0]!.length
  const D = new Float64Array(n * n)
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let total = 0
      for (let start = 0; start < d; start += 1024) {
        let s = 0
        for (let k = start; k < Math.min(start + 1024, d); k++) {
          const t = updates[i]![k]! - updates[j]![k]!
          s += t * t
        }
        total += s
      }
      D[i * n + j] = total
      D[j * n + i] = total
    }
  }
  return D
}

function compareContent(a: Float32Array, b: Float32Array): number {
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return a[j]! < b[j]! ? -1 : 1
  return 0
}

/** Krum ranking of `set`: score = the `neighbors` smallest distances summed in ascending order. */
function refRank(
  updates: readonly Float32Array[],
  D: Float64Array,
  set: readonly number[],
  neighbors: number,
): number[] {
  const n = updates.length
  const scores = set.map((i) => {
    const ds = set
      .filter((j) => j !== i)
      .map((j) => D[i * n + j]!)
      .sort(ascending)
    let s = 0
    for (const x of ds.slice(0, neighbors)) s += x
    return s
  })
  return set
    .map((_, a) => a)
    .sort((x, y) => scores[x]! - scores[y]! || compareContent(updates[set[x]!]!, updates[set[y]!]!) || x - y)
}

function refMultiKrum(updates: readonly Float32Array[], f: number, m: number): Float32Array {
  const n = updates.length
  const all = updates.map((_, i) => i)
  const selected = refRank(updates, refDistances(updates), all, n - f - 2).slice(0, m)
  const d = updates[0]!.length
  const acc = new Float64Array(d)
  for (const i of selected) for (let j = 0; j < d; j++) acc[j] = acc[j]! + updates[i]![j]!
  return Float32Array.from(acc, (x) => x / m)
}

function refBulyan(updates: readonly Float32Array[], f: number): Float32Array {
  const n = updates.length
  const theta = n - 2 * f
  const beta = theta - 2 * f
  const D = refDistances(updates)
  let remaining = updates.map((_, i) => i)
  const selected: number[] = []
  while (selected.length < theta) {
    const best = refRank(updates, D, remaining, Math.max(1, remaining.length - f - 2))[0]!
    selected.push(remaining[best]!)
    remaining = remaining.filter((_, k) => k !== best)
  }
  selected.sort(ascending)
  const d = updates[0]!.length
  const out = new Float32Array(d)
  for (let j = 0; j < d; j++) {
    const s = column(updates, j, selected).sort(ascending)
    const m = s.length
    const mid = (m - 1) >> 1
    const med = m % 2 === 1 ? s[mid]! : (s[mid]! + s[mid + 1]!) / 2
    let lo = mid
    let hi = mid + 1
    let sum = 0
    for (let taken = 0; taken < beta; taken++) {
      if (hi >= m || (lo >= 0 && med - s[lo]! <= s[hi]! - med)) sum += s[lo--]!
      else sum += s[hi++]!
    }
    out[j] = sum / beta + 0
  }
  return out
}

// ---------------------------------------------------------------- generators

/**
 * n updates of length d: Gaussian, or drawn from a few values (many ties, duplicates), or
 * mixed magnitudes (sums that round), with some updates repeated outright.
 */
const updateSets = (minN: number, maxN: number, maxD: number) =>
  fc
    .record({
      n: fc.integer({ min: minN, max: maxN }),
      d: fc.integer({ min: 1, max: maxD }),
      kind: fc.constantFrom('gauss', 'ties', 'magnitudes', 'constant'),
      seed: fc.nat(),
      dupes: fc.nat({ max: 3 }),
    })
    .map(({ n, d, kind, seed, dupes }) => {
      const rng = createRng(seed)
      const value = () => {
        if (kind === 'gauss') return rng.normal()
        if (kind === 'ties') return Math.floor(rng.next() * 4) - 1.5
        if (kind === 'constant') return 0.25
        return (rng.next() - 0.5) * 10 ** Math.floor(rng.next() * 16 - 8)
      }
      const updates = Array.from({ length: n }, () => Float32Array.from({ length: d }, value))
      for (let c = 0; c < Math.min(dupes, n - 1); c++) updates[c + 1] = updates[0]!.slice()
      return updates
    })

function same(a: Float32Array, b: Float32Array): void {
  expect(hashUpdate(a)).toBe(hashUpdate(b))
}

// ---------------------------------------------------------------- tests

describe('fast aggregators agree bit for bit with reference implementations', () => {
  /** Runs `check` with the SIMD kernels on, or with them disabled (the JavaScript fallbacks). */
  function withSimd(js: boolean, check: () => void): void {
    simdState.disabled = js
    try {
      check()
    } finally {
      simdState.disabled = false
    }
  }

  it('median (odd and even counts, ties; SIMD selection network and JavaScript selection)', () => {
    fc.assert(
      fc.property(updateSets(1, 60, 1100), fc.boolean(), (updates, js) => {
        withSimd(js, () => same(median().aggregate(updates), refMedian(updates)))
      }),
      { numRuns: 150 },
    )
  })

  it('trimmed mean (sum order as documented; SIMD and JavaScript)', () => {
    fc.assert(
      fc.property(updateSets(3, 60, 1100), fc.nat(), fc.boolean(), (updates, t, js) => {
        const n = updates.length
        const k = 1 + (t % Math.floor((n - 1) / 2))
        withSimd(js, () => same(trimmedMean({ trim: k }).aggregate(updates), refTrimmed(updates, k)))
        // trimming nothing: the plain float64 sum in update order
        const plain = Float32Array.from(updates[0]!, (_, j) => {
          let s = 0
          for (const v of column(updates, j)) s += v
          return s / n + 0
        })
        same(trimmedMean({ trim: 0 }).aggregate(updates), plain)
      }),
      { numRuns: 150 },
    )
  })

  it('median and trimmed mean around the largest column the SIMD networks take (256 updates)', () => {
    for (const n of [255, 256, 257, 300]) {
      const rng = createRng(n)
      const updates = Array.from({ length: n }, () =>
        Float32Array.from({ length: 40 }, () => Math.floor(rng.next() * 9)),
      )
      same(median().aggregate(updates), refMedian(updates))
      same(trimmedMean({ trim: 7 }).aggregate(updates), refTrimmed(updates, 7))
    }
  })

  it('trimmed mean stays within rounding of the sorted-order sum', () => {
    fc.assert(
      fc.property(updateSets(5, 40, 30), (updates) => {
        const n = updates.length
        const k = Math.floor(n / 5)
        const out = trimmedMean({ trim: k }).aggregate(updates)
        for (let j = 0; j < out.length; j++) {
          const s = column(updates, j)
            .sort(ascending)
            .slice(k, n - k)
          let sum = 0
          let abs = 0
          for (const v of s) {
            sum += v
            abs += Math.abs(v)
          }
          expect(Math.abs(out[j]! - sum / s.length)).toBeLessThanOrEqual((abs / s.length) * 2 ** -22 + 1e-45)
        }
      }),
      { numRuns: 100 },
    )
  })

  it('pairwise squared distances (tiled) equal the pair-by-pair sums, across block edges', () => {
    fc.assert(
      fc.property(updateSets(2, 13, 2200), (updates) => {
        expect(Array.from(pairwiseSquaredDistances(updates))).toEqual(Array.from(refDistances(updates)))
      }),
      { numRuns: 40 },
    )
  })

  it('the WebAssembly SIMD distances and the JavaScript loop give the same bits', () => {
    expect(simdAvailable()).toBe(true)
    fc.assert(
      fc.property(updateSets(2, 27, 2200), (updates) => {
        const simd = pairwiseSquaredDistances(updates)
        simdState.disabled = true
        try {
          expect(Array.from(simd)).toEqual(Array.from(pairwiseSquaredDistances(updates)))
        } finally {
          simdState.disabled = false
        }
      }),
      { numRuns: 40 },
    )
    // a non-finite value is named as before
    const bad = [new Float32Array([1, 2]), new Float32Array([3, Number.POSITIVE_INFINITY]), new Float32Array(2)]
    expect(() => pairwiseSquaredDistances(bad)).toThrow(/update 1 has a non-finite value \(Infinity\) at index 1/)
  })

  it('Krum and Multi-Krum (ties in scores, duplicates)', () => {
    fc.assert(
      fc.property(updateSets(3, 20, 40), fc.nat({ max: 8 }), fc.nat(), (updates, f0, m0) => {
        const n = updates.length
        const f = Math.min(f0, Math.floor((n - 3) / 2))
        const m = 1 + (m0 % (n - f))
        same(krum({ f }).aggregate(updates), refMultiKrum(updates, f, 1))
        same(multiKrum({ f }).aggregate(updates), refMultiKrum(updates, f, n - f))
        same(multiKrum({ f, m }).aggregate(updates), refMultiKrum(updates, f, m))
      }),
      { numRuns: 150 },
    )
  })

  it('Bulyan (SIMD sorting network or branch-free merge sort, branch-free window)', () => {
    fc.assert(
      fc.property(updateSets(3, 40, 1100), fc.nat({ max: 9 }), fc.boolean(), (updates, f0, js) => {
        const f = Math.min(f0, Math.floor((updates.length - 3) / 4))
        simdState.disabled = js
        try {
          same(bulyan({ f }).aggregate(updates), refBulyan(updates, f))
        } finally {
          simdState.disabled = false
        }
      }),
      { numRuns: 150 },
    )
  })

  it('the odd–even merge network sorts every 0/1 input (so every input) for m ≤ 14, and random inputs up to 300', () => {
    const apply = (xs: number[], net: Array<[number, number]>) => {
      for (const [i, j] of net) {
        if (xs[j]! < xs[i]!) [xs[i], xs[j]] = [xs[j]!, xs[i]!]
      }
      return xs
    }
    for (let m = 1; m <= 14; m++) {
      const net = oddEvenMergeNetwork(m)
      for (const [i, j] of net) expect(i < j && j < m).toBe(true)
      for (let bits = 0; bits < 1 << m; bits++) {
        const xs = Array.from({ length: m }, (_, i) => (bits >> i) & 1)
        expect(apply([...xs], net)).toEqual([...xs].sort(ascending))
      }
    }
    const rng = createRng(8)
    for (const m of [15, 16, 17, 31, 33, 63, 80, 81, 100, 127, 128, 129, 300]) {
      const net = oddEvenMergeNetwork(m)
      for (let r = 0; r < 20; r++) {
        const xs = Array.from({ length: m }, () => Math.floor(rng.next() * 50))
        expect(apply([...xs], net)).toEqual([...xs].sort(ascending))
      }
    }
  })

  it('the previous implementation’s outputs, bit for bit (hashes recorded before the rewrite)', () => {
    const gaussian = (n: number, d: number, seed: number) => {
      const rng = createRng(seed)
      return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => rng.normal()))
    }
    const tied = (n: number, d: number, seed: number) => {
      const rng = createRng(seed)
      return Array.from({ length: n }, () => Float32Array.from({ length: d }, () => Math.floor(rng.next() * 5) - 2))
    }
    const expected: Record<string, string[]> = {
      'gauss 24x3000': [
        'eb996c6436c7622e8568d8f88895d198ca4c34860bf27afa44ee94fd450b8dcb',
        '2ab3fcad166198687d1c198db334b51b333b5466e90e6c4961d28d85b58d2594',
        'eca2a721f41511cdda3e6f72c365002201bad1b325ceb07e23a4e6d7d14823f9',
        'da9f871c2fdcffe13716cb958c6525fb7d8b524338d9041a21463db6f093555d',
        '0e19b13d8a565b91a1617f2870c9cf04bc29bcd0296f2bc93e7b57180af02e51',
      ],
      'gauss 23x3000': [
        '5765059130f727cc73403504a5802718041c4c5b791df13592cffa0c7827ab16',
        'bfce45aea6f4421ab9bc3335651bde0e67a651b08c00f0b558bd0421ad802668',
        'cecd410b703694ebe3bd499bbb8bf626721e8da814117b82a9eb0bfb2f712635',
        'd8d27f39ea88bc1a3e9e81ac38156471537a05cd90a9af8fe1c7685162b90783',
        '779062406aee2fbcd6983db083cebbaa33b25496ff4a1ca26624909efd9010c6',
      ],
      'ties 19x2500': [
        '07371a7497ac839a2e8706fc8c23a3d2e55a3f4260b15156ff89d8d583e3219e',
        '2de653a2acfc53e0de7499e5ee61fbddb3192f3369b32ee242a6e9b0bda3a3b4',
        '43535273137cebce4613058c909e3ace37c7048f700d5520fbe0adfa344a82b5',
        '45e2c98366a83ca22c4baa9de5488895e52607cc072f719f274bfbeef6cda689',
        '062dcb79615fa1027f2f9e982fb715b45f685aa4e73ac83b18791d1271b15565',
      ],
    }
    const sets: Record<string, Float32Array[]> = {
      'gauss 24x3000': gaussian(24, 3000, 1),
      'gauss 23x3000': gaussian(23, 3000, 2),
      'ties 19x2500': tied(19, 2500, 3),
    }
    for (const [label, updates] of Object.entries(sets)) {
      const got = [median(), trimmedMean({ beta: 0.2 }), krum({ f: 4 }), multiKrum({ f: 4 }), bulyan({ f: 4 })].map(
        (agg) => hashUpdate(agg.aggregate(updates)),
      )
      expect(got, label).toEqual(expected[label])
    }
  })
})

describe('selection and sorting kernels', () => {
  const shapes = (m: number, rng: ReturnType<typeof createRng>): number[][] => [
    Array.from({ length: m }, (_, i) => i),
    Array.from({ length: m }, (_, i) => m - i),
    Array.from({ length: m }, (_, i) => Math.min(i, m - i)),
    Array.from({ length: m }, () => 3),
    Array.from({ length: m }, (_, i) => (i % 2 === 0 ? 0 : -0)),
    Array.from({ length: m }, () => Math.floor(rng.next() * 3)),
    Array.from({ length: m }, (_, i) => (i * 7919) % 13),
  ]

  it('orderStats gives the sorted values of ranks k and k + 1 and leaves its input alone', () => {
    const values = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
      fc.constantFrom(0, -0, 1, -1, 5),
    )
    fc.assert(
      fc.property(
        fc.array(values, { minLength: 2, maxLength: 300 }),
        fc.nat(),
        fc.nat({ max: 5 }),
        (xs, kSeed, pad) => {
          const m = xs.length
          const sorted = [...xs].sort(ascending)
          const src = Float64Array.from([...Array(pad).fill(99), ...xs, 7])
          const before = Array.from(src)
          const out = new Float64Array(2)
          const k = kSeed % (m - 1)
          orderStats(src, pad, m, k, true, new Float64Array(m), new Float64Array(m), out)
          expect([out[0]! + 0, out[1]! + 0]).toEqual([sorted[k]! + 0, sorted[k + 1]! + 0])
          orderStats(src, pad, m, m - 1, false, new Float64Array(m), new Float64Array(m), out)
          expect(out[0]! + 0).toBe(sorted[m - 1]! + 0)
          expect(Array.from(src)).toEqual(before)
        },
      ),
      { numRuns: 400 },
    )
    const rng = createRng(5)
    for (const m of [17, 64, 65, 100, 1000, 4001]) {
      for (const xs of shapes(m, rng)) {
        const sorted = [...xs].sort(ascending)
        const out = new Float64Array(2)
        for (const k of [0, 1, (m - 1) >> 1, m - 2]) {
          orderStats(Float64Array.from(xs), 0, m, k, true, new Float64Array(m), new Float64Array(m), out)
          expect([out[0]! + 0, out[1]! + 0]).toEqual([sorted[k]! + 0, sorted[k + 1]! + 0])
        }
      }
    }
  })

  it('splitOnce partitions around a pivot that is one of the values', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 1, maxLength: 200 }), (xs) => {
        const to = new Float64Array(xs.length)
        const cl = splitOnce(Float64Array.from(xs), 0, xs.length, to)
        const left = Array.from(to.subarray(0, cl))
        const right = Array.from(to.subarray(cl))
        expect([...left, ...right].sort(ascending)).toEqual([...xs].sort(ascending))
        if (cl > 0) expect(Math.max(...left)).toBeLessThan(Math.min(...right))
      }),
      { numRuns: 200 },
    )
  })

  it('sortInto sorts (any length, duplicates, signed zeros) without touching its input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 2)), {
          minLength: 1,
          maxLength: 300,
        }),
        (xs) => {
          const src = Float64Array.from(xs)
          const m = xs.length
          const s = sortInto(src, 0, m, new Float64Array(m), new Float64Array(m))
          expect(Array.from(s.subarray(0, m), (x) => x + 0)).toEqual([...xs].sort(ascending).map((x) => x + 0))
          expect(Array.from(src)).toEqual(xs)
        },
      ),
      { numRuns: 300 },
    )
    const rng = createRng(6)
    for (const m of [1, 2, 3, 4, 5, 8, 9, 80, 81, 1000]) {
      for (const xs of shapes(m, rng)) {
        const s = sortInto(Float64Array.from(xs), 0, m, new Float64Array(m), new Float64Array(m))
        expect(Array.from(s.subarray(0, m), (x) => x + 0)).toEqual([...xs].sort(ascending).map((x) => x + 0))
      }
    }
  })
})
