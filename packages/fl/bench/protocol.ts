/**
 * Benchmark 8 — the round protocol's own cost (no training): N participants on the in-process
 * network (`createLocalNetwork`: real Ed25519 signatures, real encoding, real secure-aggregation
 * crypto; no sockets), each returning a fixed pseudo-random update at once, so what is timed is
 * signing, verifying, encoding, secure aggregation and aggregation — the part that grows with N.
 * Compares, in the same run: plain dense updates (the baseline), top-k 5 % + int8, secure
 * aggregation, and two-level aggregation (N/10 regions).
 *
 *   pnpm exec tsx bench/protocol.ts            # N = 10, 25, 50, 100
 *   pnpm exec tsx bench/protocol.ts --quick    # N = 10, 25
 */
import {
  createLocalNetwork,
  createModel,
  createParticipant,
  encodeModel,
  inMemoryJobStateStore,
  type JobSpecInput,
  type Learner,
  mlp,
  type Participant,
  runtimeFactory,
  staticEligibility,
} from '../src/index.js'
import { machineLine } from './machine.js'

const quick = process.argv.includes('--quick')
const sizes = quick ? [10, 25] : [10, 25, 50, 100]
const ROUNDS = 3
const arch = mlp(784, [64], 10)

/** A learner that "trains" instantly: the global model plus a fixed pseudo-random step. */
function instantLearner(seed: number): Learner {
  return {
    supports: () => true,
    numSamples: () => 80,
    train: async (_spec, model) => {
      let s = seed * 2654435761
      const params = Float32Array.from(model.params, (p) => {
        s = (s * 1103515245 + 12345) >>> 0
        return p + (s / 2 ** 32 - 0.5) * 0.01
      })
      return { params, numSamples: 80 }
    },
  }
}

type Mode = { label: string; spec: Partial<JobSpecInput> }
const modes = (n: number): Mode[] => [
  { label: 'dense (baseline)', spec: { codec: { name: 'dense' } } },
  {
    label: 'top-k 5 % + int8',
    spec: { codec: { name: 'top-k', params: { fraction: 0.05, values: 'int8', errorFeedback: true } } },
  },
  { label: 'secure aggregation', spec: { codec: { name: 'dense' }, secureAggregation: true } },
  {
    label: `regions (${Math.max(2, Math.round(n / 10))})`,
    spec: { codec: { name: 'dense' }, hierarchy: { regions: Math.max(2, Math.round(n / 10)) } },
  },
]

async function run(n: number, mode: Mode): Promise<{ seconds: number; bytes: number; ok: boolean }> {
  const net = createLocalNetwork()
  const ids = Array.from({ length: n }, (_, i) => `node-${String(i).padStart(3, '0')}`)
  const participants: Participant[] = ids.map((id, i) => {
    const local = net.join(id)
    return createParticipant({
      transport: local.transport,
      models: local.models,
      state: inMemoryJobStateStore(),
      policy: staticEligibility(ids, ids),
      learner: instantLearner(i + 1),
      runtime: runtimeFactory(),
      roles: { trainer: true, aggregator: true },
    })
  })
  await Promise.all(participants.map((p) => p.start()))
  const initialModel = await net.join(ids[0] as string).models.put(encodeModel(createModel(arch, { seed: 1 })))
  const times: number[] = []
  let last = 0
  participants[0]?.addEventListener('round:started', (e) => {
    if (e.detail.attempt === 0) last = performance.now()
  })
  participants[0]?.addEventListener('round:completed', () => times.push((performance.now() - last) / 1000))
  const job = await (participants[0] as Participant).submitJob({
    name: 'bench',
    architecture: arch,
    initialModel,
    dataset: { name: 'none' },
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'dense' },
    rounds: ROUNDS,
    roundDeadlineMs: 120_000,
    minUpdates: Math.ceil(n / 2),
    committeeSize: 3,
    local: { epochs: 1, batchSize: 32, lr: 0.1 },
    maxUpdateBytes: 16 << 20,
    ...mode.spec,
  })
  const state = await participants[0]?.waitForJob(job.jobId)
  await Promise.all(participants.map((p) => p.stop()))
  return {
    seconds: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length),
    bytes: (net.updateBytes + net.secAggBytes) / ROUNDS,
    ok: state?.round === ROUNDS,
  }
}

const mb = (b: number): string => (b >= 1e6 ? `${(b / 1e6).toFixed(2)} MB` : `${(b / 1e3).toFixed(1)} KB`)
console.log('# Benchmark 8: the round protocol without training (in-process network)')
console.log(`machine: ${machineLine()}`)
console.log(
  `workload: MLP 784-64-10 (50,890 parameters), N participants all trainers and aggregator candidates, committee 3, ${ROUNDS} rounds, updates returned instantly; times are per round (start → majority result at node 0), bytes are updates + secure-aggregation frames sent per round (job, result and model traffic not counted)\n`,
)
console.log('| N | mode | s / round | × dense | bytes / round | × dense |')
console.log('| ---: | --- | ---: | ---: | ---: | ---: |')
for (const n of sizes) {
  let base: { seconds: number; bytes: number } | undefined
  for (const mode of modes(n)) {
    const r = await run(n, mode)
    base ??= r
    console.log(
      `| ${n} | ${mode.label}${r.ok ? '' : ' (did not finish)'} | ${r.seconds.toFixed(3)} | ${(r.seconds / base.seconds).toFixed(2)} | ${mb(r.bytes)} | ${(r.bytes / base.bytes).toFixed(2)} |`,
    )
  }
}
