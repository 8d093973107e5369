/**
 * Benchmark 2 — centralized vs federated on MNIST. The ceiling: the MLP 784-128-10 trained
 * centrally on all 8,000 training digits (batch 32, lr 0.05, momentum 0.9), test accuracy after
 * every epoch. Then the federated run (100 clients, Dirichlet(0.5), 10 per round, see
 * `federated-setup.ts`) with its rounds-to-accuracy curve. Goal: federated reaches ≥ 99 % of the
 * centralized accuracy within 30 rounds.
 *
 * The default federated configuration is the tuned one: FedAvgM with server momentum 0.5 and
 * server lr 1.5, 10 local epochs at lr 0.05·0.97^round. The shared workload of
 * `federated-setup.ts` (FedAvgM 0.7, 5 local epochs at lr 0.05·0.95^round) runs beside it as the
 * baseline, and plain FedAvg (full run only) below that.
 *
 *   pnpm exec tsx bench/federated.ts            # 20 centralized epochs; tuned, baseline, FedAvg; 30 rounds
 *   pnpm exec tsx bench/federated.ts --quick    # 8 epochs; tuned and baseline
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
  `baseline ${describeFederated(federatedOptions(dataset, rounds, args.seed))}; the tuned run differs as its label says; centralized: ${epochs} epochs, batch 32, lr 0.05, momentum 0.9`,
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

  const shared = federatedOptions(dataset, rounds, args.seed)
  const variants: {
    label: string
    strategy: { name: string; params?: Record<string, unknown> }
    local?: typeof shared.local
  }[] = [
    {
      label: 'tuned: FedAvgM (momentum 0.5, server lr 1.5), 10 local epochs, lr 0.05·0.97^round',
      strategy: { name: 'fedavgm', params: { momentum: 0.5, serverLr: 1.5 } },
      local: { ...shared.local, epochs: 10, lr: (round) => 0.05 * 0.97 ** round },
    },
    {
      label: 'baseline: FedAvgM (momentum 0.7), 5 local epochs, lr 0.05·0.95^round',
      strategy: { name: 'fedavgm', params: { momentum: 0.7 } },
    },
  ]
  if (!args.quick) variants.push({ label: 'FedAvg, 5 local epochs, lr 0.05·0.95^round', strategy: { name: 'fedavg' } })
  const goal = 0.99 * ceiling
  const summary: string[][] = []
  const finals: number[] = []
  for (const v of variants) {
    const r = await runSimulation(
      {
        ...shared,
        strategy: v.strategy,
        local: v.local ?? shared.local,
        targets: [0.8, 0.85, 0.9, 0.95 * ceiling, 0.92, 0.94, goal],
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
    finals.push(r.finalAccuracy)
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
  const [tuned, baseline] = finals as [number, number]
  console.log(
    `tuned vs baseline: final ${pct(tuned)} vs ${pct(baseline)} (${(100 * (tuned - baseline)).toFixed(2)} pt, ` +
      `${((100 * tuned) / ceiling).toFixed(1)} % vs ${((100 * baseline) / ceiling).toFixed(1)} % of the ceiling)`,
  )
} finally {
  await pool.stop()
}
