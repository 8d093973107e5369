/**
 * The federated MNIST workload the simulation benchmarks share (bench 2, 3, 5, 6): the fixed
 * 8,000 / 2,000 split, an MLP 784-128-10, 100 clients with Dirichlet(0.5) label skew, 10 clients
 * per round, 5 local epochs of SGD (batch 10, momentum 0.9, lr 0.05 decayed by 0.95 per round), FedAvgM
 * (server momentum 0.7) on the server.
 * `--quick` shrinks the workloads (fewer rounds and configurations) for a fast look.
 * @module
 */
import { parseArgs } from 'node:util'
import { loadMnist, type MnistSplit } from '../src/data/index.js'
import { mlp } from '../src/models/index.js'
import {
  createTrainingPool,
  defaultWorkerCount,
  type SimulationOptions,
  type TrainingPool,
} from '../src/simulation/index.js'
import { machineLine } from './machine.js'

/** `--quick`, `--rounds N`, `--workers N`, `--seed N`, `--progress` from the command line. */
export function benchArgs(): {
  quick: boolean
  rounds: number | undefined
  workers: number
  seed: number
  progress: boolean
} {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      workers: { type: 'string' },
      seed: { type: 'string', default: '1' },
      progress: { type: 'boolean', default: false },
    },
  })
  return {
    quick: values.quick,
    rounds: values.rounds === undefined ? undefined : Number(values.rounds),
    workers: values.workers === undefined ? defaultWorkerCount() : Number(values.workers),
    seed: Number(values.seed),
    progress: values.progress,
  }
}

/** The shared federated configuration (everything but the dataset). */
export function federatedOptions(
  dataset: MnistSplit,
  rounds: number,
  seed: number,
): SimulationOptions & { clients: number; fraction: number } {
  return {
    dataset,
    model: mlp(784, [128], 10),
    clients: 100,
    fraction: 0.1,
    rounds,
    partition: { kind: 'dirichlet', alpha: 0.5 },
    strategy: { name: 'fedavgm', params: { momentum: 0.7 } },
    local: { epochs: 5, batchSize: 10, lr: (round) => 0.05 * 0.95 ** round, momentum: 0.9 },
    seed,
  }
}

/** One line describing the federated workload. */
export function describeFederated(o: ReturnType<typeof federatedOptions>): string {
  const l = o.local
  return (
    `MNIST 8,000 train / 2,000 test, MLP 784-128-10 (101,770 params); ${o.clients} clients, ` +
    `Dirichlet(0.5), ${Math.round(o.fraction * o.clients)} per round, ${o.rounds} rounds; local ${l.epochs} epochs, ` +
    `batch ${l.batchSize}, lr 0.05·0.95^round, momentum ${l.momentum}; server ${JSON.stringify(o.strategy)}; seed ${o.seed}`
  )
}

/** Loads MNIST and starts a pool shared by every run of a benchmark. */
export async function setup(workers: number): Promise<{ dataset: MnistSplit; pool: TrainingPool }> {
  const dataset = await loadMnist()
  const pool = createTrainingPool({ train: dataset.train, test: dataset.test, workers })
  await pool.start()
  return { dataset, pool }
}

/** Prints the benchmark's title, workload and machine. */
export function header(title: string, workload: string, workers: number, quick: boolean): void {
  console.log(`# ${title}${quick ? ' (--quick)' : ''}`)
  console.log(`workload: ${workload}`)
  console.log(`machine:  ${machineLine()}; ${workers} worker thread(s)`)
}

/** Percent with two decimals. */
export const pct = (x: number | undefined) => (x === undefined ? 'n/a' : `${(100 * x).toFixed(2)} %`)

/** A plain-text table. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (r: readonly string[]) => `| ${r.map((x, c) => x.padEnd(widths[c]!)).join(' | ')} |`
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}
