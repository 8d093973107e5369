/**
 * Benchmark 3 — update compression in a federated run: the MNIST workload of
 * `federated-setup.ts` with each client's update encoded by a codec (one per client, error
 * feedback kept per client for the top-k rows) and decoded on the server. Upload bytes per round,
 * ratio to dense fp32, final test accuracy and its loss against the dense run, same seed.
 * Goal: ≥ 250× smaller uploads at ≤ 0.5 pt accuracy loss.
 *
 *   pnpm exec tsx bench/compression.ts           # 30 rounds, every codec
 *   pnpm exec tsx bench/compression.ts --quick   # 15 rounds, fewer codecs
 */
import type { CodecSpec } from '../src/codecs/index.js'
import { runSimulation } from '../src/simulation/index.js'
import { formatBytes } from '../src/simulation/progress.js'
import { benchArgs, describeFederated, federatedOptions, header, pct, setup, table } from './federated-setup.js'

const args = benchArgs()
const rounds = args.rounds ?? (args.quick ? 15 : 30)
const { dataset, pool } = await setup(args.workers)
const base = federatedOptions(dataset, rounds, args.seed)
header('Benchmark 3: update compression in federated training', describeFederated(base), args.workers, args.quick)

const codecs: { label: string; codec: CodecSpec | undefined }[] = [
  { label: 'dense fp32', codec: undefined },
  { label: 'fp16', codec: { name: 'fp16' } },
  { label: 'int8 (stochastic rounding)', codec: { name: 'int8' } },
  { label: 'top-k 1% + int8, error feedback', codec: { name: 'top-k', params: { fraction: 0.01, values: 'int8' } } },
  { label: 'top-k 0.3% + int8, error feedback', codec: { name: 'top-k', params: { fraction: 0.003, values: 'int8' } } },
  { label: 'top-k 0.1% + int8, error feedback', codec: { name: 'top-k', params: { fraction: 0.001, values: 'int8' } } },
  {
    label: 'top-k 0.1% + int8, no error feedback',
    codec: { name: 'top-k', params: { fraction: 0.001, values: 'int8', errorFeedback: false } },
  },
]
const chosen = args.quick ? codecs.filter((c) => !c.label.includes('0.3%') && !c.label.includes('no error')) : codecs
const rows: string[][] = []
let dense: number | undefined
let denseLast5: number | undefined
const last5 = (accs: number[]) => accs.slice(-5).reduce((a, b) => a + b, 0) / Math.min(5, accs.length)
try {
  for (const c of chosen) {
    const r = await runSimulation(
      { ...base, ...(c.codec !== undefined ? { codec: c.codec } : {}), progress: args.progress, label: c.label },
      { pool },
    )
    dense ??= r.finalAccuracy
    const tail = last5(r.history.map((h) => h.accuracy!))
    denseLast5 ??= tail
    const perRound = r.totals.bytesUp / rounds
    const loss = 100 * (dense - r.finalAccuracy)
    rows.push([
      c.label,
      formatBytes(Math.round(perRound)),
      `${r.totals.compressionRatio.toFixed(r.totals.compressionRatio < 10 ? 2 : 0)}×`,
      pct(r.finalAccuracy),
      `${loss >= 0 ? '' : '+'}${(-loss).toFixed(2)} pt`,
      `${pct(tail)} (${tail >= denseLast5 ? '+' : ''}${(100 * (tail - denseLast5)).toFixed(2)} pt)`,
      r.totals.compressionRatio >= 250 && loss <= 0.5 ? 'yes' : 'no',
    ])
    console.log(`${c.label}: ${r.history.map((h) => (100 * h.accuracy!).toFixed(1)).join(' ')}`)
  }
} finally {
  await pool.stop()
}
console.log(
  `\nupload per round = 10 clients' encoded updates; dense = 10 × fp32 (${formatBytes(4 * 101_770 + 8)} each)`,
)
console.log(
  table(
    ['codec', 'upload / round', 'ratio', 'final acc', 'vs dense', 'mean of last 5 rounds', '≥ 250× at ≤ 0.5 pt'],
    rows,
  ),
)
