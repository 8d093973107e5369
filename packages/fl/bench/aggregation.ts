/**
 * Aggregation throughput: every robust aggregator on the same `n` updates of `d` float32
 * parameters, as a ratio to a plain summation loop (float64 accumulator, same arrays, same run) —
 * machines here are noisy and shared, ratios compare better than milliseconds.
 *
 *   pnpm exec tsx bench/aggregation.ts                    # 100 updates × 1,000,000 parameters
 *   pnpm exec tsx bench/aggregation.ts --params 100000 --only median,krum
 */
import { parseArgs } from 'node:util'
import {
  type Aggregator,
  bulyan,
  centeredClipping,
  hashUpdate,
  krum,
  mean,
  median,
  multiKrum,
  normBounding,
  trimmedMean,
} from '../src/aggregators/index.js'
import { dpFedAvg } from '../src/privacy/index.js'
import { createRng } from '../src/random.js'
import { machineLine } from './machine.js'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    updates: { type: 'string', default: '100' },
    params: { type: 'string', default: '1000000' },
    f: { type: 'string', default: '10' },
    only: { type: 'string' },
  },
})
const n = Number(values.updates)
const d = Number(values.params)
const f = Number(values.f)
if (!(n >= 3 && d >= 1 && f >= 0)) throw new Error('need --updates >= 3, --params >= 1, --f >= 0')

const factories: Record<string, () => Aggregator> = {
  mean: () => mean(),
  median: () => median(),
  'trimmed-mean': () => trimmedMean({ beta: 0.1 }),
  krum: () => krum({ f }),
  'multi-krum': () => multiKrum({ f }),
  bulyan: () => bulyan({ f: Math.min(f, Math.floor((n - 3) / 4)) }),
  'centered-clipping': () => centeredClipping({ tau: 10, iterations: 1 }),
  'norm-bounding': () => normBounding({ maxNorm: 100 }),
  'dp-fedavg': () => dpFedAvg({ clipNorm: 100, noiseMultiplier: 1, seed: 1 }),
}
const only = values.only?.split(',')
const names = Object.keys(factories).filter((k) => only === undefined || only.includes(k))

console.log('aggregation throughput')
console.log(
  `workload: ${n} updates × ${d.toLocaleString('en-US')} float32 parameters (${((n * d * 4) / 2 ** 20).toFixed(0)} MiB), N(0, 1) values, f = ${f}`,
)
console.log(`machine:  ${machineLine()}`)

const rng = createRng(1)
const updates = Array.from({ length: n }, () => {
  const u = new Float32Array(d)
  for (let j = 0; j < d; j++) u[j] = rng.normal()
  return u
})

function plainSum(): Float64Array {
  const acc = new Float64Array(d)
  for (const u of updates) for (let j = 0; j < d; j++) acc[j] = acc[j]! + u[j]!
  return acc
}

/** Best of up to `reps` runs, stopping once `budgetMs` is spent. */
function time(run: () => unknown, reps = 3, budgetMs = 1500): number {
  let best = Number.POSITIVE_INFINITY
  let spent = 0
  for (let r = 0; r < reps && (r === 0 || spent < budgetMs); r++) {
    const t0 = performance.now()
    run()
    const dt = performance.now() - t0
    spent += dt
    best = Math.min(best, dt)
  }
  return best
}

time(plainSum, 2) // warm-up
const baseline = time(plainSum, 5, 5000)
const gbps = (ms: number) => ((n * d * 4) / 2 ** 30 / (ms / 1000)).toFixed(2)
console.log(`baseline: plain summation loop ${baseline.toFixed(1)} ms (${gbps(baseline)} GiB/s of input)\n`)
console.log(
  `${'aggregator'.padEnd(18)} ${'ms'.padStart(9)} ${'GiB/s'.padStart(7)} ${'× sum loop'.padStart(11)}  sha256 of output`,
)
for (const name of names) {
  let out: Float32Array | undefined
  // a fresh instance per run: centered clipping's center and dp-fedavg's noise stream are state
  const ms = time(() => {
    out = factories[name]!().aggregate(updates)
  })
  console.log(
    `${name.padEnd(18)} ${ms.toFixed(0).padStart(9)} ${gbps(ms).padStart(7)} ${(ms / baseline).toFixed(1).padStart(11)}  ${hashUpdate(out!).slice(0, 16)}…`,
  )
}
console.log('\n(× sum loop: aggregator time / plain summation time; 1.0 = as fast as summing the inputs once)')
