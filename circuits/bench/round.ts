/**
 * A federated round's time with proven updates on vs off, at N trainers (default 10):
 *
 *   pnpm --filter @vain/circuits bench:round          (N=10 ROUNDS=2 by default)
 *
 * N `@vain/fl` participants on the in-process network (every one trains and aggregates, committee
 * of 3) train an MLP 784-64-10 on synthetic 784-feature blobs with top-k 512 int8 updates (2 blocks
 * of 256, so 2 Groth16 proofs per update). The same job runs twice in this process: without
 * proofs (the baseline) and with `proofs: { normBound: 5 }` and `@vain/chain/zk`'s
 * `zkUpdateProofSystem` (real proofs, real checks by the 3 members). Prints the machine, the
 * workload, the median round time of each and the ratio. Every proof runs on the same cores as
 * training, so on a 2-core machine N trainers' proofs queue behind each other: the figure is the
 * whole network's proving on one machine, not one node's. No time is asserted anywhere.
 */
import { availableParallelism, cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { zkUpdateProofSystem } from '@vain/chain/zk'
import {
  createLocalNetwork,
  createLocalTrainer,
  createModel,
  createParticipant,
  datasetLearner,
  encodeModel,
  gaussianBlobs,
  inMemoryJobStateStore,
  type JobSpecInput,
  mlp,
  type Participant,
  partitionDataset,
  runtimeFactory,
  staticEligibility,
  subset,
  type UpdateProofSystem,
} from '@vain/fl'

const N = Number(process.env.N ?? 10)
const ROUNDS = Number(process.env.ROUNDS ?? 2)
const K = 512

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2
}

async function runJob(proofs: UpdateProofSystem | undefined): Promise<{ roundMs: number[] }> {
  const trainer = createLocalTrainer()
  const data = gaussianBlobs({ samples: 200 * N, features: 784, numClasses: 10, separation: 2, seed: 11 })
  const shards = partitionDataset(data, { kind: 'dirichlet', clients: N, alpha: 1, seed: 3 })
  const net = createLocalNetwork()
  const ids = Array.from({ length: N }, (_, i) => `node-${i}`)
  const participants: Participant[] = ids.map((id, i) =>
    createParticipant({
      transport: net.join(id).transport,
      models: net.join(id).models,
      state: inMemoryJobStateStore(),
      policy: staticEligibility(ids, ids),
      learner: datasetLearner(trainer, { blobs: subset(data, shards[i] as Int32Array) }, i + 1),
      runtime: runtimeFactory(),
      roles: { trainer: true, aggregator: true },
      ...(proofs !== undefined ? { proofs } : {}),
    }),
  )
  await Promise.all(participants.map((p) => p.start()))
  const arch = mlp(784, [64], 10)
  const initialModel = await net.join('node-0').models.put(encodeModel(createModel(arch, { seed: 1 })))
  const spec: JobSpecInput = {
    name: 'bench-round',
    architecture: arch,
    initialModel,
    dataset: { name: 'blobs' },
    strategy: { name: 'fedavg' },
    aggregator: { name: 'mean' },
    codec: { name: 'top-k', params: { k: K, values: 'int8', errorFeedback: true, seed: 1 } },
    rounds: ROUNDS,
    roundDeadlineMs: 600_000,
    minUpdates: N,
    committeeSize: 3,
    local: { epochs: 1, batchSize: 32, lr: 0.05 },
    maxUpdateBytes: 1 << 20,
    ...(proofs !== undefined ? { proofs: { normBound: 5 } } : {}),
  }
  const started = new Map<number, number>()
  const roundMs: number[] = []
  const watcher = participants[0] as Participant
  watcher.addEventListener('round:started', (e) => {
    if (!started.has(e.detail.round)) started.set(e.detail.round, performance.now())
  })
  watcher.addEventListener('round:completed', (e) => {
    const t = started.get(e.detail.round)
    if (t !== undefined) roundMs.push(performance.now() - t)
    process.stderr.write(
      `  round ${e.detail.round + 1}/${ROUNDS}: ${((performance.now() - (t ?? 0)) / 1000).toFixed(1)} s\n`,
    )
  })
  const job = await watcher.submitJob(spec)
  await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
  await Promise.all(participants.map((p) => p.stop()))
  await trainer.close()
  return { roundMs }
}

const cpu = cpus()[0]?.model ?? 'unknown CPU'
console.log(
  `machine: ${cpu}, ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}, Node ${process.version}`,
)
console.log(
  `workload: ${N} trainers (each also a committee candidate, committee 3), MLP 784-64-10 (50,890 parameters), top-k ${K} int8 updates → ${K / 256} proofs each, ${ROUNDS} rounds, in one process`,
)
process.stderr.write('proofs off (baseline):\n')
const off = await runJob(undefined)
process.stderr.write('proofs on:\n')
const zk = await zkUpdateProofSystem()
const on = await runJob(zk)
await zk.close()
const offMs = median(off.roundMs)
const onMs = median(on.roundMs)
console.log(`round time, proofs off: ${(offMs / 1000).toFixed(2)} s (median of ${off.roundMs.length})`)
const proofsPerRound = N * (K / 256)
console.log(
  `round time, proofs on:  ${(onMs / 1000).toFixed(2)} s (median of ${on.roundMs.length}); ${proofsPerRound} proofs a round through one prover (one proof at a time, as one machine proves them): ${((onMs - offMs) / proofsPerRound / 1000).toFixed(2)} s added per proof`,
)
console.log(`ratio on/off: ${(onMs / offMs).toFixed(1)}×`)
