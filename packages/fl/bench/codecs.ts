/**
 * Update compression: bytes per update and ratio to dense fp32 for each codec, on a realistic
 * update — the delta of an MNIST MLP (784-128-10, 101,770 parameters) after one client's local
 * training on 80 examples (onnxruntime; falls back to a synthetic heavy-tailed update when the
 * trainer is unavailable) — and on a synthetic 1M-parameter update. Also the relative L2 error of
 * one decoded update, and of the sum of 20 rounds with and without error feedback.
 *
 *   pnpm exec tsx bench/codecs.ts
 *   pnpm exec tsx bench/codecs.ts --synthetic   # skip onnxruntime
 */
import { parseArgs } from 'node:util'
import { compressionRatio, fp16, fp32, int8, topK, type UpdateCodec } from '../src/codecs/index.js'
import { createRng } from '../src/random.js'
import { machineLine } from './machine.js'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { synthetic: { type: 'boolean', default: false } },
})

interface Row {
  name: string
  make: (errorFeedback: boolean) => UpdateCodec
}
const rows: Row[] = [
  { name: 'dense fp32', make: () => fp32() },
  { name: 'dense fp16', make: (ef) => fp16({ errorFeedback: ef }) },
  { name: 'dense int8', make: (ef) => int8({ seed: 1, errorFeedback: ef }) },
  { name: 'top-k 1% + int8', make: (ef) => topK({ fraction: 0.01, values: 'int8', seed: 1, errorFeedback: ef }) },
  { name: 'top-k 0.1% + int8', make: (ef) => topK({ fraction: 0.001, values: 'int8', seed: 1, errorFeedback: ef }) },
]

function relErr(approx: ArrayLike<number>, exact: ArrayLike<number>): number {
  let e = 0
  let s = 0
  for (let j = 0; j < exact.length; j++) {
    e += (approx[j]! - exact[j]!) ** 2
    s += exact[j]! ** 2
  }
  return Math.sqrt(e / s)
}

/** Heavy-tailed synthetic deltas: Laplace-like values, a few large coordinates, per-"layer" scales. */
function syntheticUpdates(d: number, rounds: number, seed: number): Float32Array[] {
  const rng = createRng(seed)
  return Array.from({ length: rounds }, () => {
    const u = new Float32Array(d)
    for (let j = 0; j < d; j++) {
      const layerScale = j < d * 0.9 ? 1e-3 : 1e-2
      const e = -Math.log(1 - rng.next()) * (rng.next() < 0.5 ? -1 : 1)
      u[j] = layerScale * e * (rng.next() < 0.01 ? 10 : 1)
    }
    return u
  })
}

async function mnistUpdates(rounds: number): Promise<{ updates: Float32Array[]; what: string } | undefined> {
  try {
    const fl = await import('../src/index.js')
    const { train } = await fl.loadMnist()
    const trainer = fl.createLocalTrainer()
    let model = fl.createModel(fl.mlp(784, [128], 10), { seed: 1 })
    const updates: Float32Array[] = []
    // one client (80 examples, as with 100 clients on the 8,000-example split) over `rounds` rounds
    const shard = fl.subset(
      train,
      Array.from({ length: 80 }, (_, i) => i),
    )
    for (let r = 0; r < rounds; r++) {
      const result = await trainer.train(model, shard, { epochs: 1, batchSize: 16, lr: 0.05, seed: r + 1 })
      updates.push(result.model.params.map((p: number, j: number) => p - model.params[j]!))
      model = result.model
    }
    await trainer.close()
    return {
      updates,
      what: 'MNIST MLP 784-128-10 (101,770 params): deltas of one client, 80 examples, 1 local epoch, batch 16, lr 0.05',
    }
  } catch (err) {
    console.log(`(onnxruntime trainer unavailable: ${(err as Error).message.split('\n')[0]}; using a synthetic update)`)
    return undefined
  }
}

function table(updates: Float32Array[], what: string): void {
  const d = updates[0]!.length
  console.log(`\nworkload: ${what}`)
  console.log(
    `${'codec'.padEnd(20)} ${'bytes/update'.padStart(13)} ${'× smaller'.padStart(10)} ${'rel.err 1 update'.padStart(17)} ${'rel.err Σ20 EF'.padStart(15)} ${'Σ20 no EF'.padStart(10)} ${'enc ms'.padStart(7)} ${'dec ms'.padStart(7)}`,
  )
  const total = new Float64Array(d)
  for (const u of updates) for (let j = 0; j < d; j++) total[j] = total[j]! + u[j]!
  for (const row of rows) {
    const first = row.make(false)
    const t0 = performance.now()
    const bytes = first.encode(updates[0]!)
    const t1 = performance.now()
    const decoded = first.decode(bytes, { expectedLength: d })
    const t2 = performance.now()
    const sums = [true, false].map((ef) => {
      const codec = row.make(ef)
      const sent = new Float64Array(d)
      for (const u of updates) {
        const back = codec.decode(codec.encode(u), { expectedLength: d })
        for (let j = 0; j < d; j++) sent[j] = sent[j]! + back[j]!
      }
      return relErr(sent, total)
    })
    console.log(
      `${row.name.padEnd(20)} ${bytes.length.toLocaleString('en-US').padStart(13)} ${compressionRatio(bytes, d).toFixed(1).padStart(10)} ${relErr(decoded, updates[0]!).toFixed(4).padStart(17)} ${sums[0]!.toFixed(4).padStart(15)} ${sums[1]!.toFixed(4).padStart(10)} ${(t1 - t0).toFixed(1).padStart(7)} ${(t2 - t1).toFixed(1).padStart(7)}`,
    )
  }
}

console.log('update compression (format v1)')
console.log(`machine:  ${machineLine()}`)
const rounds = 20
const real = values.synthetic ? undefined : await mnistUpdates(rounds)
if (real) table(real.updates, real.what)
else table(syntheticUpdates(101_770, rounds, 3), 'synthetic heavy-tailed deltas, 101,770 params')
table(syntheticUpdates(1_000_000, rounds, 4), 'synthetic heavy-tailed deltas, 1,000,000 params')
console.log(
  '\n(× smaller: dense fp32 bytes / encoded bytes. rel.err: ‖decoded − true‖₂ / ‖true‖₂ of one update, and of the',
)
console.log(' sum of 20 consecutive updates as the server accumulates them, with and without error feedback)')
