/**
 * Writes the example files, the same bytes every time (fixed seeds):
 *
 * - `csv/node-a.csv`, `csv/node-b.csv`, `csv/test.csv`: a synthetic but learnable tabular set
 *   (machine sensor readings → idle / normal / fault), split non-IID between the two nodes;
 * - `csv/model.onnx`, `csv/job.json`: an MLP 4-16-3 and the job training it on the CSV files
 *   (z-score normalization with the statistics of the whole set, so both nodes scale alike);
 * - `mnist/model.onnx`, `mnist/job.json`: an MLP 784-32-10 and a job on the nodes' MNIST shards.
 *
 * Each job names its initial model by content id: the id `vain model import` answers for that
 * `.onnx` file (the CID of the model's bytes, the same on every node).
 *
 *   node --import tsx examples/generate.mts [OUT_DIR]     (from the repo root; default: examples/)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createModel, encodeModel, exportOnnx, importOnnx, mlp } from '../packages/fl/src/index.ts'
import { createMemory } from '../packages/memory/src/index.ts'

const out = process.argv[2] ?? dirname(fileURLToPath(import.meta.url))

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FEATURES = ['temperature_c', 'humidity_pct', 'vibration_g', 'current_a'] as const
const CLASSES = ['idle', 'normal', 'fault'] as const
/** Per class: mean and standard deviation of each feature. */
const PROFILE: Record<(typeof CLASSES)[number], Array<[number, number]>> = {
  idle: [
    [22, 3],
    [41, 8],
    [0.12, 0.06],
    [0.6, 0.4],
  ],
  normal: [
    [34, 4],
    [45, 8],
    [0.55, 0.18],
    [3.8, 1.1],
  ],
  fault: [
    [44, 6],
    [49, 10],
    [1.05, 0.35],
    [5.6, 1.6],
  ],
}

const random = rng(20_261_202)
const normal = (): number => {
  const u = 1 - random()
  const v = random()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
type Row = { values: number[]; label: (typeof CLASSES)[number] }
const rows = (counts: [number, number, number]): Row[] => {
  const list: Row[] = []
  CLASSES.forEach((label, c) => {
    for (let i = 0; i < counts[c]!; i++)
      list.push({ values: PROFILE[label].map(([m, s]) => Number((m + normal() * s).toFixed(3))), label })
  })
  // shuffle (Fisher–Yates)
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[list[i], list[j]] = [list[j]!, list[i]!]
  }
  return list
}
// non-IID: node A sees mostly idle machines, node B mostly faulty ones
const shards = { 'node-a': rows([150, 105, 45]), 'node-b': rows([45, 105, 150]), test: rows([50, 50, 50]) }
const csv = (list: Row[]) =>
  `${[...FEATURES, 'state'].join(',')}\n${list.map((r) => [...r.values, r.label].join(',')).join('\n')}\n`

// z-score statistics of the whole set (what a job's author would compute once and publish)
const all = [...shards['node-a'], ...shards['node-b'], ...shards.test]
const mean = FEATURES.map((_, f) => all.reduce((s, r) => s + r.values[f]!, 0) / all.length)
const std = FEATURES.map((_, f) => Math.sqrt(all.reduce((s, r) => s + (r.values[f]! - mean[f]!) ** 2, 0) / all.length))
const round4 = (v: number) => Number(v.toFixed(4))

/** The content id a node answers for this ONNX file (POST /api/models stores the imported model's bytes). */
async function cidOf(onnx: Uint8Array): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vain-example-'))
  const memory = createMemory({ path: dir })
  await memory.start()
  try {
    return (await memory.blobs.put(encodeModel(importOnnx(onnx)))).cid.toString()
  } finally {
    await memory.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const write = (path: string, data: string | Uint8Array) => {
  mkdirSync(dirname(join(out, path)), { recursive: true })
  writeFileSync(join(out, path), data)
}
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`

for (const [name, list] of Object.entries(shards)) write(`csv/${name}.csv`, csv(list))

const csvArch = mlp(FEATURES.length, [16], CLASSES.length)
const csvOnnx = exportOnnx(createModel(csvArch, { seed: 7 }))
write('csv/model.onnx', csvOnnx)
write(
  'csv/job.json',
  json({
    name: 'machine states from sensor readings (examples/csv)',
    architecture: csvArch,
    initialModel: await cidOf(csvOnnx),
    dataset: {
      // each node reads its own file for this name: `data: { "example-sensors": "PATH" }` in its config
      name: 'example-sensors',
      params: {
        format: 'csv',
        header: true,
        features: FEATURES,
        label: 'state',
        classes: CLASSES,
        normalization: { kind: 'z-score', mean: mean.map(round4), std: std.map(round4) },
      },
    },
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'dense' },
    rounds: 5,
    roundDeadlineMs: 20_000,
    minUpdates: 2,
    committeeSize: 2,
    local: { epochs: 3, batchSize: 16, lr: 0.1, momentum: 0.5 },
    maxUpdateBytes: 1_048_576,
  }),
)

const mnistArch = mlp(784, [32], 10)
const mnistOnnx = exportOnnx(createModel(mnistArch, { seed: 7 }))
write('mnist/model.onnx', mnistOnnx)
write(
  'mnist/job.json',
  json({
    name: 'MNIST digits (examples/mnist)',
    architecture: mnistArch,
    initialModel: await cidOf(mnistOnnx),
    dataset: { name: 'mnist' },
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'int8' },
    rounds: 5,
    roundDeadlineMs: 30_000,
    minUpdates: 2,
    committeeSize: 2,
    local: { epochs: 1, batchSize: 32, lr: 0.1 },
    maxUpdateBytes: 1_048_576,
  }),
)
process.stdout.write(`wrote the examples to ${out}\n`)
