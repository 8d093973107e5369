/**
 * Round protocol at scale: N vAIn nodes as separate processes on this machine (127.0.0.1), MNIST
 * shards, a committee of 3, top-k 5 % + int8 updates. Prints time per round, bytes per round and
 * accuracy for each N, what the node processes cost (start CPU, memory, CPU per round), with the
 * workload and the machine, and where it bends and why.
 *
 *   pnpm --filter @vain/node bench              # N = 10, 25, 50
 *   pnpm --filter @vain/node bench -- --quick   # N = 5, 10
 *   pnpm --filter @vain/node bench -- --full    # N = 10, 50, 100
 *   pnpm --filter @vain/node bench -- --sizes 50 --rounds 3 --no-sim --logs /tmp/vain-logs
 */
import { mkdirSync } from 'node:fs'
import * as os from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  createCodec,
  createModel,
  createTrainingPool,
  deriveSeed,
  loadMnist,
  mlp,
  partitionDataset,
  runSimulation,
  type TrainingPool,
} from '@vain/fl'
import { type DemoSummary, runDemo } from '../src/demo.js'
import { logDigest, type ResourceSample, ResourceSampler } from './resources.js'

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    rounds: { type: 'string' },
    'no-sim': { type: 'boolean', default: false },
    logs: { type: 'string' },
    /** Round deadline: `auto` (scales with N, below) or ms. */
    deadline: { type: 'string', default: 'auto' },
    /** V8 old-space limit of each node process (MiB), 0 = Node's default. */
    heap: { type: 'string', default: '0' },
    batch: { type: 'string', default: '6' },
  },
})
const sizes =
  values.sizes !== undefined
    ? values.sizes.split(',').map(Number)
    : values.quick
      ? [5, 10]
      : values.full
        ? [10, 50, 100]
        : [10, 25, 50]
const rounds = values.rounds !== undefined ? Number(values.rounds) : values.quick ? 3 : 5
const cores = os.cpus().length
/**
 * The round deadline: 20 s (the demo's) up to 20 nodes, then 1 s per node. Every node trains,
 * fetches the new model and the committee checks N updates; on one machine the N processes share
 * its cores, so a round's wall time grows with N (measured: see the table's CPU per round).
 */
const deadlineFor = (n: number): number =>
  values.deadline === 'auto' ? Math.max(20_000, 1_000 * n) : Number(values.deadline)
const heapMb = Number(values.heap)
const nodeFlags = heapMb > 0 ? ['--max-semi-space-size=1', `--max-old-space-size=${heapMb}`] : []

const cpus = os.cpus()
console.log('# vAIn round protocol benchmark (multi-process, one machine)')
console.log(
  `machine: ${cpus[0]?.model ?? 'cpu'} × ${cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ${os.platform()} (other work on the machine shows up as noise)`,
)
console.log(
  `workload: MLP 784-64-10 (50,890 params), MNIST 8,000 digits split non-IID (Dirichlet 0.5) across N nodes (8,000/N each), 2 local epochs, batch 32, lr 0.05, momentum 0.9, FedAvg + mean, top-k 5 % + int8 with error feedback, committee 3, minUpdates ⌈N/2⌉, ${rounds} rounds, every node a trainer and an aggregator candidate; what scales with N: the round deadline (${sizes.map((n) => `${n}: ${deadlineFor(n) / 1000} s`).join(', ')}); node processes start ${values.batch} at a time, each bootstraps from up to 3 nodes already up${nodeFlags.length > 0 ? `; node flags ${nodeFlags.join(' ')}` : ''}\n`,
)

const TOP_K = { name: 'top-k', params: { fraction: 0.05, values: 'int8', errorFeedback: true } } as const

/**
 * The same job in-process (runSimulation): same shards, initial model, codec, local training and
 * every update aggregated. With `networkSeeds`, also the same random streams as the network run:
 * node i shuffles its data in round r with seed (i + 1) · 1000 + r (`datasetLearner`, round from
 * 0) and every node's top-k codec rounds with seed 1 (`runtimeFactory` creates it unseeded);
 * otherwise the simulation's own seeds (`deriveSeed(seed, 'train', round, client)`, a codec seed
 * per client).
 */
async function simulate(n: number, opts: { networkSeeds: boolean; seed?: number }): Promise<number> {
  const { train, test } = await loadMnist()
  const partition = partitionDataset(train, { kind: 'dirichlet', clients: n, alpha: 0.5, seed: 1, minSamples: 10 })
  const seed = opts.seed ?? 1
  let pool: TrainingPool | undefined
  if (opts.networkSeeds) {
    const inner = createTrainingPool({ train, test })
    const networkSeed = new Map<number, number>()
    for (let round = 1; round <= rounds; round++) {
      for (let c = 0; c < n; c++) networkSeed.set(deriveSeed(seed, 'train', round, c), (c + 1) * 1000 + (round - 1))
    }
    pool = {
      get workers() {
        return inner.workers
      },
      get liveThreads() {
        return inner.liveThreads
      },
      start: () => inner.start(),
      stop: () => inner.stop(),
      run: ((task, o) =>
        inner.run(
          task.kind === 'train'
            ? { ...task, options: { ...task.options, seed: networkSeed.get(task.options.seed) as number } }
            : task,
          o,
        )) as TrainingPool['run'],
    }
    await pool.start()
  }
  try {
    const result = await runSimulation(
      {
        dataset: { train, test },
        model: createModel(mlp(784, [64], 10), { seed: 1 }),
        clients: n,
        rounds,
        fraction: 1,
        partition,
        strategy: { name: 'fedavg' },
        aggregator: { name: 'mean' },
        codec: opts.networkSeeds ? () => createCodec(TOP_K) : TOP_K,
        local: { epochs: 2, batchSize: 32, lr: 0.05, momentum: 0.9 },
        seed,
        progress: false,
      },
      pool === undefined ? {} : { pool },
    )
    return result.finalAccuracy
  } finally {
    await pool?.stop()
  }
}

interface Row {
  n: number
  summary?: DemoSummary
  error?: string
  wallS: number
  /** Seconds from the start to every process up, to the network ready. */
  upS?: number
  meshS?: number
  /** Observer's view when the network was declared ready. */
  authenticated?: number
  topicPeers?: number
  /** Child CPU seconds per started node (start), per second idle (mesh..job), per completed round. */
  startCpuPerNode?: number
  idleCpuPerS?: number
  roundCpuS?: number
  /** Machine busy share (0..1 of all cores) while the rounds ran. */
  roundBusy?: number
  pssPerNode?: number
  peakPss?: number
  memAvailableMin?: number
  /** Simulation with the network's seeds, and with its own seeds 1..3. */
  sim?: number
  simOwnSeeds?: number[]
  digest: Array<{ what: string; count: number }>
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`
const rows: Row[] = []

for (const n of sizes) {
  const logDir = join(values.logs ?? join(os.tmpdir(), 'vain-bench-logs'), `n${n}`)
  mkdirSync(logDir, { recursive: true })
  const sampler = new ResourceSampler(1000)
  const marks: Partial<Record<'nodes' | 'mesh' | 'job', ResourceSample & { a: number; p: number }>> = {}
  const row: Row = { n, wallS: 0, digest: [] }
  const t0 = performance.now()
  try {
    const s = await runDemo({
      nodes: n,
      rounds,
      target: 1,
      codec: 'top-k',
      json: false,
      keep: false,
      verbose: false,
      quiet: true,
      roundDeadlineMs: deadlineFor(n),
      nodeFlags,
      startBatch: Number(values.batch),
      logDir,
      onPhase: (phase, d) => {
        marks[phase] = { ...sampler.sample(), a: d.authenticated, p: d.topicPeers }
      },
    })
    row.summary = s
  } catch (err) {
    row.error = (err as Error).message
  }
  const end = sampler.sample()
  sampler.stop()
  row.wallS = (performance.now() - t0) / 1000
  const first = sampler.samples[0] as ResourceSample
  const { nodes, mesh, job } = marks
  if (nodes !== undefined) {
    row.upS = nodes.t / 1000
    row.startCpuPerNode = (nodes.childCpuS - first.childCpuS) / n
    // PSS right after start, before the network traffic
    row.pssPerNode = nodes.childPss / Math.max(1, nodes.children)
  }
  if (mesh !== undefined) {
    row.meshS = mesh.t / 1000
    row.authenticated = mesh.a
    row.topicPeers = mesh.p
  }
  if (mesh !== undefined && job !== undefined && job.t - mesh.t > 1000) {
    row.idleCpuPerS = (job.childCpuS - mesh.childCpuS) / ((job.t - mesh.t) / 1000)
  }
  const done = row.summary?.rounds ?? 0
  if (job !== undefined) {
    // the rounds end at the last completed round; the samples after it (shutdown) are left out
    const roundsEnd =
      row.summary !== undefined && done > 0
        ? job.t + 1000 * row.summary.curve.reduce((a, c) => a + c.seconds, 0)
        : end.t
    const last = [...sampler.samples].reverse().find((x) => x.t <= roundsEnd) ?? end
    if (done > 0) row.roundCpuS = (last.childCpuS - job.childCpuS) / done
    row.roundBusy = (last.machineBusyS - job.machineBusyS) / (((last.t - job.t) / 1000) * cores)
  }
  const peaks = sampler.peaks()
  row.peakPss = peaks.pss
  row.memAvailableMin = peaks.memAvailableMin
  row.digest = logDigest(logDir)
  if (row.summary !== undefined && done > 0 && !values['no-sim']) {
    row.sim = await simulate(n, { networkSeeds: true })
    row.simOwnSeeds = []
    for (const seed of [1, 2, 3]) row.simOwnSeeds.push(await simulate(n, { networkSeeds: false, seed }))
  }
  rows.push(row)
  // one line per N as it finishes (the table follows at the end)
  console.error(
    `N=${n}: ${row.error ?? `${done}/${rounds} rounds`} in ${row.wallS.toFixed(0)} s; up ${row.upS?.toFixed(1)} s, ready ${row.meshS?.toFixed(1)} s (observer: ${row.authenticated} authenticated, ${row.topicPeers} on the jobs topic); start ${row.startCpuPerNode?.toFixed(2)} CPU-s/node, ${row.pssPerNode !== undefined ? mb(row.pssPerNode) : '?'}/node, peak ${gib(row.peakPss)}, min available ${gib(row.memAvailableMin)}; idle ${row.idleCpuPerS?.toFixed(2)} CPU-s/s; rounds ${row.roundCpuS?.toFixed(1)} CPU-s/round, machine ${row.roundBusy !== undefined ? (100 * row.roundBusy).toFixed(0) : '?'} % busy`,
  )
  for (const d of row.digest) console.error(`    ${d.count} × ${d.what}`)
}

console.log(
  '| N | processes up (s) | network ready (s) | start CPU per node | memory per node (PSS) | peak memory, all nodes | idle network CPU | first round (s) | later rounds (s/round) | node CPU per round | machine busy in rounds | upload per round | accuracy after rounds | in-process simulation, same job and seeds | difference | simulation, its own seeds 1/2/3 |',
)
console.log(
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
)
const f = (v: number | undefined, d = 1, unit = '') => (v === undefined ? '–' : `${v.toFixed(d)}${unit}`)
for (const r of rows) {
  const s = r.summary
  const done = s?.rounds ?? 0
  const perRound = s !== undefined && done > 0 ? s.uploadedBytes / done : undefined
  console.log(
    `| ${r.n} | ${f(r.upS)} | ${f(r.meshS)}${r.authenticated !== undefined && r.authenticated < r.n ? ` (${r.authenticated}/${r.n} peers)` : ''} | ${f(r.startCpuPerNode, 2, ' CPU-s')} | ${r.pssPerNode !== undefined ? mb(r.pssPerNode) : '–'} | ${r.peakPss !== undefined ? gib(r.peakPss) : '–'} | ${f(r.idleCpuPerS, 2, ' CPU-s/s')} | ${done > 0 ? f(s?.secondsToFirstRound) : '–'} | ${done > 1 ? f(s?.meanSecondsPerRound) : '–'} | ${f(r.roundCpuS, 1, ' CPU-s')} | ${r.roundBusy !== undefined ? `${(100 * r.roundBusy).toFixed(0)} %` : '–'} | ${perRound !== undefined ? `${(perRound / 1e3).toFixed(0)} KB` : '–'} | ${r.error !== undefined ? `failed: ${r.error}` : `${(100 * (s?.accuracy ?? 0)).toFixed(1)} % (${done}/${rounds})`} | ${r.sim !== undefined ? `${(100 * r.sim).toFixed(1)} %` : '–'} | ${r.sim !== undefined && s !== undefined && done === rounds ? `${(100 * (s.accuracy - r.sim)).toFixed(1)} pt` : '–'} | ${r.simOwnSeeds !== undefined ? r.simOwnSeeds.map((a) => (100 * a).toFixed(1)).join(' / ') : '–'} |`,
  )
}

// where it bends and why, from the figures above
const total = os.totalmem()
console.log('\n### Where it bends and why (computed from the figures above)\n')
for (const r of rows) {
  const parts: string[] = []
  if (r.pssPerNode !== undefined) {
    parts.push(
      `memory: ${mb(r.pssPerNode)} per node process × ${r.n} = ${gib(r.pssPerNode * r.n)} of ${gib(total)} (at most ~${Math.floor((0.9 * total) / r.pssPerNode)} node processes fit)`,
    )
  }
  if (r.startCpuPerNode !== undefined && r.upS !== undefined) {
    parts.push(
      `start: ${r.startCpuPerNode.toFixed(1)} CPU-s per node × ${r.n} / ${cores} cores ≥ ${((r.startCpuPerNode * r.n) / cores).toFixed(0)} s (measured ${r.upS.toFixed(0)} s)`,
    )
  }
  if (r.idleCpuPerS !== undefined) {
    parts.push(
      `an idle network of ${r.n} keeps ${((100 * r.idleCpuPerS) / cores).toFixed(0)} % of the machine busy (${((1000 * r.idleCpuPerS) / r.n).toFixed(0)} CPU-ms/s per node)`,
    )
  }
  const done = r.summary?.rounds ?? 0
  if (r.roundCpuS !== undefined && done > 0) {
    parts.push(
      `a round costs the nodes ${r.roundCpuS.toFixed(1)} CPU-s (${((1000 * r.roundCpuS) / r.n).toFixed(0)} CPU-ms per node) → ≥ ${(r.roundCpuS / cores).toFixed(1)} s on ${cores} cores, deadline ${(deadlineFor(r.n) / 1000).toFixed(0)} s`,
    )
  } else {
    parts.push(
      `no round completed within the ${(deadlineFor(r.n) / 1000).toFixed(0)} s deadline (machine ${r.roundBusy !== undefined ? (100 * r.roundBusy).toFixed(0) : '?'} % busy); most frequent node warnings: ${r.digest
        .slice(0, 3)
        .map((d) => `${d.count} × "${d.what}"`)
        .join(', ')}`,
    )
  }
  console.log(`- N=${r.n}: ${parts.join('; ')}.`)
}
process.exit(0)
