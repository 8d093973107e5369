/**
 * Train-step throughput: the ONNX train-step graph run by onnxruntime-node vs the plain
 * TypeScript loop (float32 storage, same maths: `referenceTrainStep(…, Float32Array)`), on the
 * same MNIST batches in the same run. Prints steps/s and the ratio, the workload and the machine.
 *
 * The runners are interleaved in short rounds and each figure is the median over the rounds, so
 * that load from other processes on a shared machine hits every runner alike.
 *
 *   pnpm bench                      # MLP 784-128-10, softmax regression, a small CNN; batches 32–128
 *   pnpm bench -- --seconds 4       # longer measurements (seconds per runner and workload)
 */
import * as os from 'node:os'
import { parseArgs } from 'node:util'
import {
  type Architecture,
  cnn,
  countParameters,
  createModel,
  createTrainStep,
  loadMnist,
  mlp,
  referenceTrainStep,
  softmaxRegression,
} from '../src/index.js'
import { machineLine } from './machine.js'

const { values } = parseArgs({
  // pnpm 12 forwards the `--` of `pnpm bench -- --seconds 1`
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    seconds: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '5' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})
if (values.help) {
  console.log('usage: pnpm bench [-- --seconds N --rounds R]')
  process.exit(0)
}
const seconds = Number(values.seconds)
const rounds = Math.max(1, Math.floor(Number(values.rounds)))
const hyper = { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }

const { train } = await loadMnist()
const batchAt = (b: number, size: number) => {
  const start = (b * size) % (train.size - size)
  const x = train.x.subarray(start * 784, (start + size) * 784)
  const labels = train.labels.subarray(start, start + size)
  const y = new Float32Array(size * 10)
  labels.forEach((l, r) => {
    y[r * 10 + l] = 1
  })
  return { x, y, labels }
}

/** A runner does one train step per call, on batch number `i`. */
interface Runner {
  step(i: number): Promise<void> | void
  close(): Promise<void>
}

async function ortRunner(arch: Architecture, threads: number, momentum: boolean, batch: number): Promise<Runner> {
  const step = await createTrainStep(arch, { threads, momentum })
  let params: Float32Array = createModel(arch, { seed: 1 }).params
  let velocity: Float32Array = new Float32Array(params.length)
  return {
    async step(i) {
      const out = await step.run({ params, velocity }, batchAt(i, batch), hyper)
      params = out.params
      velocity = out.velocity ?? velocity
    },
    close: () => step.release(),
  }
}

function tsRunner(arch: Architecture, batch: number): Runner {
  let state: { params: Float32Array; velocity: Float32Array } = {
    params: createModel(arch, { seed: 1 }).params,
    velocity: new Float32Array(countParameters(arch)),
  }
  return {
    step(i) {
      const out = referenceTrainStep(arch, state, batchAt(i, batch), hyper, Float32Array)
      state = { params: out.params as Float32Array, velocity: out.velocity as Float32Array }
    },
    close: async () => {},
  }
}

/** Steps per second of each runner: median over `rounds` interleaved slices of `seconds / rounds`. */
async function measure(runners: Runner[]): Promise<number[]> {
  const rates: number[][] = runners.map(() => [])
  const counters = runners.map(() => 0)
  for (const [k, r] of runners.entries()) for (let i = 0; i < 3; i++) await r.step(counters[k]!++) // warm-up
  for (let round = 0; round < rounds; round++) {
    for (const [k, r] of runners.entries()) {
      const t0 = performance.now()
      let steps = 0
      while (performance.now() - t0 < (seconds * 1000) / rounds || steps === 0) {
        await r.step(counters[k]!++)
        steps++
      }
      rates[k]!.push(steps / ((performance.now() - t0) / 1000))
    }
  }
  return rates.map((rs) => rs.sort((a, b) => a - b)[Math.floor(rs.length / 2)]!)
}

const cpus = os.cpus()
console.log('vAIn @vain/fl — train-step throughput: ORT graph vs plain TypeScript loop')
console.log(`machine: ${machineLine()} · load average ${os.loadavg()[0]!.toFixed(1)} at start`)
console.log(
  `workload: one SGD step (forward, softmax cross-entropy, backward, momentum 0.9, weight decay 1e-4) on MNIST batches; per workload ${seconds} s per runner, interleaved in ${rounds} rounds, median of the rounds`,
)
console.log(
  'columns: ORT = the train-step graph in onnxruntime-node (intraOpNumThreads 1, or all cores); TypeScript f32 = the same step as plain loops over Float32Arrays; ratio = ORT 1 thread / TypeScript; last column = the ORT graph without a momentum buffer (plain SGD)',
)
console.log('')
const header = [
  'model',
  'params',
  'batch',
  'ORT 1 thread',
  `ORT ${cpus.length} threads`,
  'TypeScript f32',
  'ratio ORT / TS',
  'ORT plain SGD',
]
const rows: string[][] = []
const fmt = (r: number) => `${r.toFixed(0)} steps/s`
const lenet = cnn(
  [1, 28, 28],
  [
    { filters: 8, kernel: 5 },
    { filters: 16, kernel: 5 },
  ],
  [64],
  10,
)
for (const [name, arch, batches] of [
  ['MLP 784-128-10', mlp(784, [128], 10), [32, 64, 128]],
  ['softmax 784-10', softmaxRegression(784, 10), [32, 128]],
  ['CNN c5x8-c5x16-64-10', lenet, [32, 64]],
] as const) {
  for (const batch of batches) {
    const runners = [
      await ortRunner(arch, 1, true, batch),
      await ortRunner(arch, cpus.length, true, batch),
      tsRunner(arch, batch),
      await ortRunner(arch, 1, false, batch),
    ]
    const [one, many, ts, plain] = (await measure(runners)) as [number, number, number, number]
    await Promise.all(runners.map((r) => r.close()))
    const row = [
      name,
      String(countParameters(arch)),
      String(batch),
      fmt(one),
      fmt(many),
      fmt(ts),
      `${(one / ts).toFixed(1)}×`,
      fmt(plain),
    ]
    rows.push(row)
    console.log(row.join(' | '))
  }
}
console.log('')
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')
console.log(line(header))
for (const r of rows) console.log(line(r))
console.log(`load average ${os.loadavg()[0]!.toFixed(1)} at the end`)
