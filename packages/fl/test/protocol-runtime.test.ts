import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createLocalTrainer,
  type Dataset,
  JobSpecSchema,
  type LocalTrainer,
  type Participant,
  runtimeFactory,
} from '../src/index.js'
import { blobs, blobsSpec, protocolSetup } from './fixtures/protocol.js'

describe('round protocol runtime details', () => {
  let trainer: LocalTrainer
  let train: Dataset
  beforeAll(() => {
    trainer = createLocalTrainer()
    ;({ train } = blobs())
  })
  afterAll(async () => {
    await trainer.close()
  })

  it('each node rounds stochastically with its own seed: the same update encodes differently on two nodes, identically on one', () => {
    const spec = JobSpecSchema.parse(
      blobsSpec('0'.repeat(64), { codec: { name: 'top-k', params: { fraction: 0.5, values: 'int8' } } }),
    )
    const delta = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i) * 0.01)
    const make = runtimeFactory()
    const a1 = make(spec, 'node-a').encodeUpdate(delta)
    const a2 = make(spec, 'node-a').encodeUpdate(delta)
    const b = make(spec, 'node-b').encodeUpdate(delta)
    expect(Buffer.from(a1).equals(Buffer.from(a2))).toBe(true)
    expect(Buffer.from(a1).equals(Buffer.from(b))).toBe(false)
    // and every node still decodes every other node's bytes
    expect(make(spec, 'node-c').decodeUpdate(b, delta.length)).toHaveLength(delta.length)
  })

  it('a model fetch that times out is retried with backoff within the round: the round still completes', async () => {
    let failures = 0
    const { participants, initialModel } = await protocolSetup(trainer, train, 4, {
      models: (id, store) =>
        id !== 'node-2'
          ? store
          : {
              put: (bytes) => store.put(bytes),
              get: async (hash, options) => {
                if (failures < 2) {
                  failures++
                  throw new Error('timed out fetching the model')
                }
                return store.get(hash, options)
              },
            },
    })
    const trained: string[] = []
    participants[0]?.addEventListener('round:completed', (e) =>
      trained.push(...e.detail.contributions.map((c) => c.trainer)),
    )
    const job = await (participants[0] as Participant).submitJob(blobsSpec(initialModel, { rounds: 1 }))
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    await Promise.all(participants.map((p) => p.stop()))
    expect(failures).toBe(2)
    expect(states.every((s) => s?.finished === true)).toBe(true)
    expect(trained).toContain('node-2') // it trained after its retries
  })
})
