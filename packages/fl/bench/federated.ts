/**
 * Benchmark 2 — centralized vs federated on MNIST. The ceiling: the MLP 784-128-10 trained
 * centrally on all 8,000 training digits (batch 32, lr 0.05, momentum 0.9), test accuracy after
 * every epoch. Then the federated run (100 clients, Dirichlet(0.5), 10 per round, see
 * `federated-setup.ts`) with its rounds-to-accuracy curve. Goal: federated reaches ≥ 99 % of the
 * centralized accuracy within 30 rounds.
 *
 *   pnpm exec tsx bench/federated.ts            # 20 centralized epochs; FedAvgM and FedAvg, 30 rounds
 *   pnpm exec tsx bench/federated.ts --quick    # 8 epochs; FedAvgM only
 */
import { createModel, mlp } from '../src/models/index.js'
import { runSimulation } from '../src/simulation/index.js'
import { createLocalTrainer } from '../src/train/index.js'
import { benchArgs, describeFederated, federatedOptions, header, pct, setup, table } from './federated-setup.js'

const args = benchArgs()
const rounds = args.rounds ?? 30
const epochs = args.quick ? 8 : 20
const { dataset, pool } = await setup(args.workers)
header(
  'Benchmark 2: centralized vs federated (MNIST)',
  `${describeFederated(federatedOptions(dataset, rounds, args.seed))}; centralized: ${epochs} epochs, batch 32, lr 0.05, momentum 0.9`,
  args.workers,
  args.quick,
)
try {
  // the ceiling
  const trainer = createLocalTrainer()
  let model = createModel(mlp(784, [128], 10), { seed: args.seed })
  const central: number[] = []
  const t0 = performance.now()
  for (let e = 0; e < epochs; e++) {
    const r = await trainer.train(model, dataset.train, { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, seed: e })
    model = r.model
    central.push((await trainer.evaluate(model, dataset.test)).accuracy)
  }
  await trainer.close()
  const ceiling = Math.max(...central)
  const final = central.at(-1)!
  console.log(`\ncentralized (${((performance.now() - t0) / 1000).toFixed(1)} s), test accuracy per epoch:`)
  console.log(central.map((a, e) => `${e + 1}:${(100 * a).toFixed(2)}`).join(' '))
  console.log(
    `ceiling (best epoch) ${pct(ceiling)}, last epoch ${pct(final)}; goal line 99 % of best = ${pct(0.99 * ceiling)}`,
  )

  const variants: { label: string; strategy: { name: string; params?: Record<string, unknown> } }[] = [
    { label: 'FedAvgM (momentum 0.7)', strategy: { name: 'fedavgm', params: { momentum: 0.7 } } },
  ]
  if (!args.quick) variants.push({ label: 'FedAvg', strategy: { name: 'fedavg' } })
  const goal = 0.99 * ceiling
  const summary: string[][] = []
  for (const v of variants) {
    const r = await runSimulation(
      {
        ...federatedOptions(dataset, rounds, args.seed),
        strategy: v.strategy,
        targets: [0.8, 0.85, 0.9, 0.92, 0.94, goal],
        progress: args.progress,
        label: v.label,
      },
      { pool },
    )
    console.log(`\nfederated, ${v.label}: rounds-to-accuracy curve (test accuracy after each round)`)
    console.log(r.history.map((h) => `${h.round}:${(100 * h.accuracy!).toFixed(2)}`).join(' '))
    console.log(
      `rounds to reach: ${r.roundsToAccuracy
        .map((t) => `${pct(t.target)} → ${t.round === undefined ? 'not reached' : `round ${t.round}`}`)
        .join(', ')}`,
    )
    const reached = r.roundsToAccuracy.at(-1)!.round
    summary.push([
      v.label,
      pct(r.finalAccuracy),
      pct(r.bestAccuracy),
      `${((100 * r.finalAccuracy) / ceiling).toFixed(1)} %`,
      reached === undefined ? `no (not within ${rounds})` : `yes, round ${reached}`,
      `${(r.totals.wallMs / 1000).toFixed(1)} s`,
    ])
  }
  console.log(`\nsummary (centralized ceiling ${pct(ceiling)}):`)
  console.log(
    table(
      ['federated', 'final acc', 'best acc', 'final / ceiling', `≥ 99 % of ceiling in ≤ ${rounds} rounds`, 'wall'],
      summary,
    ),
  )
} finally {
  await pool.stop()
}
