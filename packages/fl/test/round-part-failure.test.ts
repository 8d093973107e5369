/**
 * A part that fails (here a learner that throws) costs its node that part of the round, never the
 * process: a `round:failed` event names the part and the reason, no rejection goes unhandled, and
 * the round completes with the other trainers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createLocalNetwork,
  createLocalTrainer,
  createModel,
  createParticipant,
  type Dataset,
  datasetLearner,
  encodeModel,
  gaussianBlobs,
  inMemoryJobStateStore,
  type Learner,
  type LocalTrainer,
  partitionDataset,
  runtimeFactory,
  softmaxRegression,
  staticEligibility,
  subset,
} from '../src/index.js'

describe('a failing part of the round', () => {
  let trainer: LocalTrainer
  let data: Dataset
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason)
  }
  beforeAll(() => {
    trainer = createLocalTrainer()
    data = gaussianBlobs({ samples: 900, features: 6, numClasses: 3, separation: 3, seed: 2 })
    process.on('unhandledRejection', onUnhandled)
  })
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled)
    await trainer.close()
  })

  it('a learner that throws is reported as round:failed; the others finish the job', async () => {
    const net = createLocalNetwork()
    const ids = ['a', 'b', 'c']
    const shards = partitionDataset(data, { kind: 'dirichlet', clients: 3, alpha: 1, seed: 1 })
    const broken: Learner = {
      supports: () => true,
      train: async () => {
        throw new Error('the host is too busy to train')
      },
    }
    const participants = ids.map((id, i) =>
      createParticipant({
        transport: net.join(id).transport,
        models: net.join(id).models,
        state: inMemoryJobStateStore(),
        policy: staticEligibility(ids, undefined),
        learner: i === 2 ? broken : datasetLearner(trainer, { blobs: subset(data, shards[i] as Int32Array) }, i + 1),
        runtime: runtimeFactory(),
        roles: { trainer: true, aggregator: true },
      }),
    )
    const failures: string[] = []
    participants[2]?.addEventListener('round:failed', (e) => failures.push(e.detail.reason))
    await Promise.all(participants.map((p) => p.start()))
    const initialModel = await net.join('a').models.put(encodeModel(createModel(softmaxRegression(6, 3), { seed: 1 })))
    const job = await participants[0]!.submitJob({
      name: 'failing-part',
      architecture: softmaxRegression(6, 3),
      initialModel,
      dataset: { name: 'blobs' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'dense' },
      rounds: 1,
      roundDeadlineMs: 3_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.1 },
      maxUpdateBytes: 1 << 20,
    })
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    for (const s of states) expect(s?.finished).toBe(true)
    expect(failures.some((r) => r === 'trainer: the host is too busy to train')).toBe(true)
    expect(unhandled).toEqual([])
    await Promise.all(participants.map((p) => p.stop()))
  }, 120_000)
})
