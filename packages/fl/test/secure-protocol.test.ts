import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createLocalTrainer,
  type Dataset,
  decodeModel,
  decodeSecAggFrame,
  encodeSecAggFrame,
  type JobSpecInput,
  JobSpecSchema,
  type LocalTrainer,
  type Participant,
  type RoundTransport,
  runtimeFactory,
  SecAggRequestSchema,
  SecAggResponseSchema,
  secAggSigningBytes,
} from '../src/index.js'
import { blobs, blobsSpec, plainFedAvg, protocolSetup, worstDiff } from './fixtures/protocol.js'

/** A transport that stops sending one kind of secure-aggregation message: a trainer that vanishes at that stage. */
function dropAt(transport: RoundTransport, kind: 'masked' | 'unmask'): RoundTransport {
  const inner = transport.requestSecAgg?.bind(transport)
  return {
    ...transport,
    requestSecAgg: async (to, frame, options) => {
      const { header } = decodeSecAggFrame(frame, SecAggRequestSchema)
      if (header.kind === kind) throw new Error(`dropped before sending ${kind}`)
      return (inner as NonNullable<typeof inner>)(to, frame, options)
    },
  }
}

describe('secure aggregation over the round protocol (in-process network)', () => {
  let trainer: LocalTrainer
  let train: Dataset
  let test: Dataset
  beforeAll(() => {
    trainer = createLocalTrainer()
    ;({ train, test } = blobs())
  })
  afterAll(async () => {
    await trainer.close()
  })

  const spec = (initialModel: string, overrides: Partial<JobSpecInput> = {}): JobSpecInput =>
    blobsSpec(initialModel, { name: 'blobs-secure', secureAggregation: true, ...overrides })

  function setup(n: number, options: { aggregators?: number; drop?: Record<string, 'masked' | 'unmask'> } = {}) {
    return protocolSetup(trainer, train, n, {
      ...(options.aggregators !== undefined ? { aggregators: options.aggregators } : {}),
      transport: (id, t) => (options.drop?.[id] === undefined ? t : dropAt(t, options.drop[id])),
    })
  }

  /** Plain FedAvg of the given nodes' round-0 updates, computed here from their own data. */
  const plainRound0 = (initial: Parameters<typeof plainFedAvg>[3], data: Dataset[], who: number[]) =>
    plainFedAvg(
      trainer,
      data,
      who.map((node) => ({ node, from: initial, round: 0 })),
      initial,
    )

  it('5 nodes train with secure aggregation: no plain update ever travels, the model is the FedAvg of the updates, accuracy far above chance', async () => {
    const { net, participants, initialModel, initial, data } = await setup(5)
    const models: string[] = []
    participants[2]?.addEventListener('round:completed', (e) => models.push(e.detail.model))
    const job = await (participants[0] as Participant).submitJob(spec(initialModel))
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    for (const s of states) expect(s?.round).toBe(3)
    expect(new Set(states.map((s) => s?.model)).size).toBe(1)
    expect(net.updates).toBe(0) // no plain update was ever sent
    expect(net.secAggBytes).toBeGreaterThan(0)
    // round 0's model is plain FedAvg of the 5 updates, up to the fixed-point resolution
    const round0 = decodeModel(await net.join('observer').models.get(models[0] as string))
    const expected = await plainRound0(initial, data, [0, 1, 2, 3, 4])
    expect(worstDiff(round0.params, expected)).toBeLessThan(1e-4)
    const final = decodeModel(await net.join('observer').models.get(states[0]?.model as string))
    expect((await trainer.evaluate(final, test)).accuracy).toBeGreaterThan(0.8) // chance is 0.25
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('dropouts: a trainer gone after uploading is still in the sum (its self mask rebuilt from shares), one gone before uploading is left out', async () => {
    const { net, participants, initialModel, initial, data } = await setup(7, {
      aggregators: 3,
      drop: { 'node-5': 'unmask', 'node-6': 'masked' },
    })
    const completed: Array<{ model: string; trainers: string[] }> = []
    participants[1]?.addEventListener('round:completed', (e) =>
      completed.push({ model: e.detail.model, trainers: e.detail.contributions.map((c) => c.trainer) }),
    )
    const job = await (participants[0] as Participant).submitJob(spec(initialModel, { rounds: 1 }))
    await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    expect(completed).toHaveLength(1)
    expect(completed[0]?.trainers).toEqual(['node-0', 'node-1', 'node-2', 'node-3', 'node-4', 'node-5'])
    const model = decodeModel(await net.join('observer').models.get(completed[0]?.model as string))
    const expected = await plainRound0(initial, data, [0, 1, 2, 3, 4, 5])
    expect(worstDiff(model.params, expected)).toBeLessThan(1e-4)
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('forged and malformed secure-aggregation messages get typed errors; the round goes on', async () => {
    const { net, participants, initialModel } = await setup(4)
    const rejections: string[] = []
    for (const p of participants) p.addEventListener('rejected', (e) => rejections.push(e.detail.errorName))
    const job = await (participants[0] as Participant).submitJob(spec(initialModel, { rounds: 2 }))
    const started = await new Promise<{ committee: string[]; baseModel: string }>((r) =>
      participants[0]?.addEventListener('round:started', (e) => r(e.detail), { once: true }),
    )
    const mallory = net.join('mallory').transport
    const keys = {
      v: 1 as const,
      jobId: job.jobId,
      round: 0,
      attempt: 0,
      baseModel: started.baseModel,
      kind: 'keys' as const,
      trainer: 'node-1', // claims to be node-1
      encryptionKey: '11'.repeat(32),
      maskingKey: '22'.repeat(32),
      numSamples: 10,
    }
    const coordinator = started.committee[0] as string
    const forged = encodeSecAggFrame({
      ...keys,
      signature: Buffer.from(await mallory.sign(secAggSigningBytes(keys))).toString('hex'),
    })
    await expect(mallory.requestSecAgg?.(coordinator, forged)).rejects.toMatchObject({ name: 'ForgedMessageError' })
    await expect(mallory.requestSecAgg?.(coordinator, new Uint8Array([0, 0, 0, 9, 1, 2]))).rejects.toMatchObject({
      name: 'InvalidSecAggMessageError',
    })
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    for (const s of states) expect(s?.round).toBe(2)
    expect(rejections).toContain('ForgedMessageError')
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('a job asking for secure aggregation with a per-update aggregator, a lossy codec or regions is refused with the reason (DP is fine)', async () => {
    const make = runtimeFactory()
    const base = { ...spec('0'.repeat(64)) }
    expect(() => make(JobSpecSchema.parse({ ...base, aggregator: { name: 'krum', params: { f: 1 } } }), 'me')).toThrow(
      /aggregator must be 'mean'/,
    )
    expect(() =>
      make(JobSpecSchema.parse({ ...base, codec: { name: 'top-k', params: { fraction: 0.1 } } }), 'me'),
    ).toThrow(/codec must be 'dense'/)
    expect(() => make(JobSpecSchema.parse({ ...base, hierarchy: { regions: 2 } }), 'me')).toThrow(/hierarchical/)
    expect(() => make(JobSpecSchema.parse({ ...base, privacy: { clip: 1, noiseMultiplier: 1 } }), 'me')).not.toThrow()
  })

  it('property: any bytes decode to a valid message or give InvalidSecAggMessageError, never another throw', () => {
    const header = fc.oneof(
      fc.constant({ kind: 'ack' }),
      fc.record({ kind: fc.constantFrom('roster', 'inbox', 'survivors', 'keys', 'ack'), x: fc.jsonValue() }),
      fc.jsonValue(),
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          header.map((h) => encodeSecAggFrame(h ?? null)),
        ),
        (bytes) => {
          for (const schema of [SecAggRequestSchema, SecAggResponseSchema]) {
            try {
              decodeSecAggFrame(bytes, schema)
            } catch (err) {
              expect((err as Error).name).toBe('InvalidSecAggMessageError')
            }
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})
