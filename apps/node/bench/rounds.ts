/**
 * Round protocol at scale: N vAIn nodes as separate processes on this machine (127.0.0.1), MNIST
 * shards, a committee of 3, top-k 5 % + int8 updates. Prints time per round, bytes per round and
 * accuracy for each N, with the workload and the machine.
 *
 *   pnpm --filter @vain/node bench              # N = 10, 25, 50
 *   pnpm --filter @vain/node bench -- --quick   # N = 5, 10
 *   pnpm --filter @vain/node bench -- --full    # N = 10, 50, 100
 */
import * as os from 'node:os'
import { createModel, loadMnist, mlp, partitionDataset, runSimulation } from '@vain/fl'
import { runDemo } from '../src/demo.js'

const args = process.argv.slice(2).filter((a) => a !== '--')
const sizes = args.includes('--quick') ? [5, 10] : args.includes('--full') ? [10, 50, 100] : [10, 25, 50]
const rounds = args.includes('--quick') ? 3 : 5
const cpus = os.cpus()
console.log('# vAIn round protocol benchmark (multi-process, one machine)')
console.log(
  `machine: ${cpus[0]?.model ?? 'cpu'} × ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}`,
)
console.log(
  `workload: MLP 784-64-10 (50,890 params), MNIST 8,000 digits split non-IID (Dirichlet 0.5) across N nodes, 2 local epochs, FedAvg + mean, top-k 5 % + int8 with error feedback, committee 3, ${rounds} rounds, every node a trainer and an aggregator candidate\n`,
)
console.log(
  '| N | processes up + mesh (s) | first round (s) | later rounds (s/round) | upload per round | dense per round | accuracy after rounds | in-process simulation, same job | difference |',
)
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
/** The same job in-process (runSimulation): same shards, initial model, codec and local training. */
async function simulate(n: number): Promise<number> {
  const { train, test } = await loadMnist()
  const partition = partitionDataset(train, { kind: 'dirichlet', clients: n, alpha: 0.5, seed: 1, minSamples: 10 })
  const result = await runSimulation({
    dataset: { train, test },
    model: createModel(mlp(784, [64], 10), { seed: 1 }),
    clients: n,
    rounds,
    fraction: 1,
    partition,
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'top-k', params: { fraction: 0.05, values: 'int8', errorFeedback: true } },
    local: { epochs: 2, batchSize: 32, lr: 0.05, momentum: 0.9 },
    seed: 1,
    progress: false,
  })
  return result.finalAccuracy
}

for (const n of sizes) {
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
    })
    const setup = s.seconds - s.curve.reduce((a, c) => a + c.seconds, 0)
    const perRound = s.curve.length > 0 ? s.uploadedBytes / s.curve.length : 0
    const sim = await simulate(n)
    console.log(
      `| ${n} | ${setup.toFixed(1)} | ${s.secondsToFirstRound.toFixed(1)} | ${s.meanSecondsPerRound.toFixed(1)} | ${(perRound / 1e3).toFixed(0)} KB | ${(s.denseBytesPerRound / 1e6).toFixed(1)} MB | ${(100 * s.accuracy).toFixed(1)} % (${s.rounds}/${rounds}) | ${(100 * sim).toFixed(1)} % | ${(100 * (s.accuracy - sim)).toFixed(1)} pt |`,
    )
  } catch (err) {
    console.log(
      `| ${n} | failed after ${((performance.now() - t0) / 1000).toFixed(0)} s: ${(err as Error).message} | | | | | |`,
    )
  }
}
process.exit(0)
