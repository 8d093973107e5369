/**
 * Benchmark 5 — the Byzantine matrix: final test accuracy of the MNIST workload of
 * `federated-setup.ts` for every (attack × aggregator), with 20 % and 30 % of the clients
 * attacking (client sampling is stratified: exactly 2 or 3 attackers in each round of 10). Each
 * aggregator is told the number of attackers per round `f` (Krum, Multi-Krum, Bulyan) or trims
 * that fraction (trimmed mean). Goal: the default robust aggregator stays within 2 pts of the
 * clean run under every attack.
 *
 *   pnpm exec tsx bench/byzantine.ts           # 30 rounds, every attack and aggregator
 *   pnpm exec tsx bench/byzantine.ts --quick   # 15 rounds, fewer aggregators
 */
import type { AggregatorSpec } from '../src/aggregators/index.js'
import { runSimulation, type SimulationAttack } from '../src/simulation/index.js'
import { benchArgs, describeFederated, federatedOptions, header, pct, setup, table } from './federated-setup.js'

/**
 * The aggregator we recommend by default against Byzantine clients (see the README): Multi-Krum
 * with `f` = the bound on attackers per round, averaging the `n − f` updates with the best
 * Krum scores. It had the best worst case of this matrix at 20 % and 30 % attackers.
 */
const DEFAULT_ROBUST = 'multi-krum'

const args = benchArgs()
const rounds = args.rounds ?? (args.quick ? 15 : 30)
const { dataset, pool } = await setup(args.workers)
const base = federatedOptions(dataset, rounds, args.seed)
const perRound = Math.round(base.fraction * base.clients)

const attacks: { label: string; attack: Omit<SimulationAttack, 'fraction'> }[] = [
  { label: 'sign-flip ×4', attack: { name: 'sign-flip', params: { scale: 4 } } },
  { label: 'gaussian σ=0.1', attack: { name: 'gaussian', params: { std: 0.1, seed: 7 } } },
  { label: 'label-flip', attack: { name: 'label-flip' } },
  { label: 'little-is-enough', attack: { name: 'little-is-enough' } },
  { label: 'inner-product ε=0.1', attack: { name: 'inner-product', params: { epsilon: 0.1 } } },
]
const aggregators = (f: number): { label: string; spec: AggregatorSpec | undefined; skip?: string }[] => [
  { label: 'mean', spec: undefined },
  { label: 'median', spec: { name: 'median' } },
  { label: 'trimmed-mean', spec: { name: 'trimmed-mean', params: { trim: f } } },
  { label: 'krum', spec: { name: 'krum', params: { f } } },
  { label: 'multi-krum', spec: { name: 'multi-krum', params: { f } } },
  {
    label: 'bulyan',
    spec: { name: 'bulyan', params: { f } },
    ...(perRound < 4 * f + 3 ? { skip: `n/a (n=${perRound} < 4f+3=${4 * f + 3})` } : {}),
  },
  { label: 'centered-clipping', spec: { name: 'centered-clipping', params: { tau: 3, iterations: 3 } } },
  { label: 'norm-bounding', spec: { name: 'norm-bounding', params: { maxNorm: 3 } } },
]
const quickSet = new Set(['mean', 'median', 'trimmed-mean', 'multi-krum', 'centered-clipping'])

header(
  'Benchmark 5: Byzantine matrix (final test accuracy)',
  `${describeFederated(base)}; f = attackers per round of ${perRound}; trimmed mean drops f from each end; ` +
    'centered clipping τ=3 (3 iterations), norm bounding 3 (honest update norms are ≈ 1–7, median ≈ 2.5)',
  args.workers,
  args.quick,
)
const run = async (spec: AggregatorSpec | undefined, attack: SimulationAttack | undefined) =>
  (
    await runSimulation(
      { ...base, ...(spec !== undefined ? { aggregator: spec } : {}), ...(attack !== undefined ? { attack } : {}) },
      { pool },
    )
  ).finalAccuracy

try {
  const clean = new Map<string, number>()
  for (const fraction of [0.2, 0.3]) {
    const f = Math.floor(fraction * perRound + 1e-9)
    const aggs = aggregators(f).filter((a) => !args.quick || quickSet.has(a.label))
    const rows: string[][] = []
    const cleanRow: string[] = ['(no attack)']
    for (const a of aggs) {
      if (a.skip !== undefined) {
        cleanRow.push(a.skip)
        continue
      }
      const key = JSON.stringify(a.spec ?? null)
      if (!clean.has(key)) clean.set(key, await run(a.spec, undefined))
      cleanRow.push(pct(clean.get(key)))
    }
    rows.push(cleanRow)
    const worst = new Map<string, { acc: number; attack: string }>()
    for (const at of attacks) {
      const row = [at.label]
      for (const a of aggs) {
        if (a.skip !== undefined) {
          row.push('n/a')
          continue
        }
        const acc = await run(a.spec, { ...at.attack, fraction } as SimulationAttack)
        if (acc < (worst.get(a.label)?.acc ?? Number.POSITIVE_INFINITY)) worst.set(a.label, { acc, attack: at.label })
        row.push(pct(acc))
      }
      rows.push(row)
      console.error(`  ${(100 * fraction).toFixed(0)} % attackers, ${at.label}: done`)
    }
    const cleanMean = clean.get('null')!
    console.log(`\n${(100 * fraction).toFixed(0)} % attackers (f = ${f} of ${perRound} per round):`)
    console.log(table(['attack \\ aggregator', ...aggs.map((a) => a.label)], rows))
    const summary = aggs
      .filter((a) => a.skip === undefined)
      .map((a) => {
        const own = clean.get(JSON.stringify(a.spec ?? null))!
        const w = worst.get(a.label)!
        return [
          a.label === DEFAULT_ROBUST ? `${a.label} (default)` : a.label,
          pct(own),
          `${pct(w.acc)} (${w.attack})`,
          `${(100 * (cleanMean - w.acc)).toFixed(2)} pt`,
          `${(100 * (own - w.acc)).toFixed(2)} pt`,
        ]
      })
    console.log(table(['aggregator', 'clean', 'worst under attack', 'gap to clean mean', 'gap to own clean'], summary))
    const d = worst.get(DEFAULT_ROBUST)!
    console.log(
      `goal (default ${DEFAULT_ROBUST} within 2 pt of the clean run under every attack): ` +
        `${cleanMean - d.acc <= 0.02 ? 'met' : 'not met'} against the clean mean (${(100 * (cleanMean - d.acc)).toFixed(2)} pt), ` +
        `${clean.get(JSON.stringify(aggs.find((a) => a.label === DEFAULT_ROBUST)!.spec))! - d.acc <= 0.02 ? 'met' : 'not met'} against clean ${DEFAULT_ROBUST}`,
    )
  }
} finally {
  await pool.stop()
}
