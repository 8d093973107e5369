import { describe, expect, it } from 'vitest'
import { softmaxRegression } from '../src/models/index.js'
import { computeJobId, JobSpecSchema, runtimeFactory } from '../src/round/index.js'
import { JobRun } from '../src/round/job.js'
import type { RoundServices, RoundState } from '../src/round/parts/types.js'
import { loadRoundModel } from '../src/round/round-start.js'

const spec = JobSpecSchema.parse({
  name: 'j',
  architecture: softmaxRegression(4, 2),
  initialModel: 'a'.repeat(64),
  dataset: { name: 'blobs' },
  strategy: { name: 'fedavg' },
  aggregator: { name: 'mean' },
  codec: { name: 'dense' },
  rounds: 3,
  roundDeadlineMs: 2000,
  minUpdates: 1,
  committeeSize: 1,
  local: { epochs: 1, batchSize: 8, lr: 0.1 },
  maxUpdateBytes: 4096,
})

function run(): JobRun {
  const jobId = computeJobId(spec, 'c', 1)
  const announcement = {
    v: 1 as const,
    jobId,
    spec,
    creator: 'c',
    createdAt: 1,
    envelope: { body: new Uint8Array(), signature: new Uint8Array() },
  }
  return new JobRun(announcement, runtimeFactory()(spec, 'me'), {
    announcement: announcement.envelope,
    jobId,
    round: 0,
    attempt: 0,
    model: spec.initialModel,
    history: [],
    finished: false,
  })
}

/** Services whose model store fails every get with `error`; counts the gets and the failures reported. */
function failingStore(error: () => Error) {
  const seen = { gets: 0, failed: [] as string[] }
  const services = {
    now: Date.now,
    models: {
      put: async () => 'x',
      get: async () => {
        seen.gets++
        throw error()
      },
    },
    emit: (type: string, detail: { reason: string }) => {
      if (type === 'round:failed') seen.failed.push(detail.reason)
    },
  } as unknown as RoundServices
  return { services, seen }
}

const round = { round: 0, attempt: 0, baseModel: spec.initialModel } as unknown as RoundState

describe("a round's base model", () => {
  it('of another size than the job implies is not asked for again: one get, one failed round', async () => {
    const { services, seen } = failingStore(() =>
      Object.assign(new Error('model x is at least 1677721601 bytes, expected 48'), { name: 'ModelSizeMismatchError' }),
    )
    expect(await loadRoundModel(run(), round, services)).toBeUndefined()
    expect(seen.gets).toBe(1)
    expect(seen.failed).toHaveLength(1)
    expect(seen.failed[0]).toMatch(/at least 1677721601 bytes, expected 48/)
  })

  it('that a busy provider could not give is asked for again, within half the round deadline', async () => {
    const { services, seen } = failingStore(() => Object.assign(new Error('timed out'), { name: 'TimeoutError' }))
    expect(await loadRoundModel(run(), round, services)).toBeUndefined()
    expect(seen.gets).toBeGreaterThan(1)
    expect(seen.failed).toHaveLength(1)
  })
})
