/**
 * Benchmark 6 — differential privacy: DP-FedAvg (client-level clipping to C, Gaussian noise
 * z·C on the sum, fixed denominator) on the MNIST workload of `federated-setup.ts`, for a few
 * noise multipliers z, with ε at δ = 1e-5 from the RDP accountant (sampled Gaussian mechanism,
 * q = clients per round / clients, one step per round). Also the same 8,000 digits spread over
 * 1,000 clients (8 on average) with 100 per round — same q, same ε, but the noise on the mean
 * shrinks with the cohort.
 * Goal: ε ≤ 8 with ≤ 3 pts accuracy loss.
 *
 *   pnpm exec tsx bench/dp.ts           # 30 rounds, both populations
 *   pnpm exec tsx bench/dp.ts --quick   # 15 rounds, fewer noise levels
 */
import { runSimulation, type SimulationDp } from '../src/simulation/index.js'
import { benchArgs, describeFederated, federatedOptions, header, pct, setup, table } from './federated-setup.js'

const args = benchArgs()
const rounds = args.rounds ?? (args.quick ? 15 : 30)
const { dataset, pool } = await setup(args.workers)
const base = federatedOptions(dataset, rounds, args.seed)
const clipNorm = 1
const noiseLevels = args.quick ? [0, 0.8, 1.0] : [0, 0.5, 0.8, 1.0, 1.5]
header(
  'Benchmark 6: DP-FedAvg accuracy and ε (δ = 1e-5)',
  `${describeFederated(base)}; DP: clip C=${clipNorm} (honest update norms ≈ 1–7), noise z·C on the sum, ` +
    'divided by the expected cohort; noise seeded (experiments only)',
  args.workers,
  args.quick,
)
const populations = [
  { label: '100 clients, 10 per round', clients: 100, fraction: 0.1 },
  ...(args.quick
    ? []
    : [{ label: '1,000 clients (8 digits on average), 100 per round', clients: 1000, fraction: 0.1 }]),
]
try {
  for (const p of populations) {
    const o = { ...base, clients: p.clients, fraction: p.fraction }
    const reference = await runSimulation(o, { pool })
    const rows: string[][] = [['no DP', '—', pct(reference.finalAccuracy), '—', '∞', '—']]
    for (const z of noiseLevels) {
      const dp: SimulationDp = { clipNorm, noiseMultiplier: z, delta: 1e-5 }
      const r = await runSimulation({ ...o, dp }, { pool })
      const loss = 100 * (reference.finalAccuracy - r.finalAccuracy)
      const eps = r.privacy!.epsilon
      rows.push([
        z === 0 ? 'clip only' : `z = ${z}`,
        `${((z * clipNorm) / (p.clients * p.fraction)).toExponential(1)}`,
        pct(r.finalAccuracy),
        `${loss.toFixed(2)} pt`,
        Number.isFinite(eps) ? eps.toFixed(2) : '∞',
        Number.isFinite(eps) && eps <= 8 && loss <= 3 ? 'yes' : 'no',
      ])
    }
    console.log(`\n${p.label} (q = ${p.fraction}, ${rounds} rounds):`)
    console.log(
      table(['DP', 'noise σ / coord. of mean', 'final acc', 'loss vs no DP', 'ε (δ=1e-5)', 'ε ≤ 8, ≤ 3 pt'], rows),
    )
  }
} finally {
  await pool.stop()
}
