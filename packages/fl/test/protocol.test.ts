import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createLocalNetwork,
  createLocalTrainer,
  createModel,
  createParticipant,
  type Dataset,
  datasetLearner,
  decodeModel,
  encodeModel,
  fieldsOf,
  gaussianBlobs,
  inMemoryJobStateStore,
  type JobSpecInput,
  type LocalTrainer,
  localModelAddress,
  Participant,
  type ParticipantInit,
  partitionDataset,
  type RoundResult,
  runtimeFactory,
  signRoundMessage,
  softmaxRegression,
  splitDataset,
  staticEligibility,
  subset,
} from '../src/index.js'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

const FEATURES = 10
const CLASSES = 4

/** A committee member that signs a result claiming a model it made up. */
class LyingParticipant extends Participant {
  protected override async publishResult(result: RoundResult): Promise<void> {
    const fake = createModel(softmaxRegression(FEATURES, CLASSES), { seed: 999 })
    const bytes = encodeModel(fake)
    const models = (this as unknown as { init: ParticipantInit }).init.models
    const newModel = await models.put(bytes)
    const t = (this as unknown as { init: ParticipantInit }).init.transport
    await super.publishResult(await signRoundMessage('result', { ...fieldsOf(result), newModel }, (d) => t.sign(d)))
  }
}

describe('round protocol: participants on an in-process network', () => {
  let trainer: LocalTrainer
  let train: Dataset
  let test: Dataset
  beforeAll(() => {
    trainer = createLocalTrainer()
    const all = gaussianBlobs({ samples: 3000, features: FEATURES, numClasses: CLASSES, separation: 3, seed: 7 })
    ;({ train, test } = splitDataset(all, 2500))
  })
  afterAll(async () => {
    await trainer.close()
  })

  function spec(initialModel: string, overrides: Partial<JobSpecInput> = {}): JobSpecInput {
    return {
      name: 'blobs',
      architecture: softmaxRegression(FEATURES, CLASSES),
      initialModel,
      dataset: { name: 'blobs' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'dense' },
      rounds: 4,
      roundDeadlineMs: 3_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.1 },
      maxUpdateBytes: 1 << 20,
      ...overrides,
    }
  }

  async function setup(n: number, options: { liar?: string; expected?: boolean } = {}) {
    const net = createLocalNetwork()
    const ids = Array.from({ length: n }, (_, i) => `node-${i}`)
    const shards = partitionDataset(train, { kind: 'dirichlet', clients: n, alpha: 1, seed: 3 })
    const participants = ids.map((id, i) => {
      const local = net.join(id)
      const init: ParticipantInit = {
        transport: local.transport,
        models: local.models,
        state: inMemoryJobStateStore(),
        policy: staticEligibility(ids, options.expected === false ? undefined : ids),
        learner: datasetLearner(trainer, { blobs: subset(train, shards[i] as Int32Array) }, i + 1),
        runtime: runtimeFactory(),
        roles: { trainer: true, aggregator: true },
      }
      return id === options.liar ? new LyingParticipant(init) : createParticipant(init)
    })
    await Promise.all(participants.map((p) => p.start()))
    const initial = createModel(softmaxRegression(FEATURES, CLASSES), { seed: 1 })
    const creatorModels = net.join('node-0').models
    const initialModel = await creatorModels.put(encodeModel(initial))
    return { net, ids, participants, initialModel }
  }

  async function accuracyOf(net: ReturnType<typeof createLocalNetwork>, model: string): Promise<number> {
    const bytes = await net.join('observer').models.get(model)
    expect(localModelAddress(bytes)).toBe(model) // the in-process store's content address
    return (await trainer.evaluate(decodeModel(bytes), test)).accuracy
  }

  it('5 nodes with no server train one model to accuracy far above chance', async () => {
    const { net, participants, initialModel } = await setup(5)
    const completed: number[] = []
    participants[3]?.addEventListener('round:completed', (e) => completed.push(e.detail.round))
    const job = await (participants[0] as Participant).submitJob(spec(initialModel))
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    for (const s of states) {
      expect(s?.finished).toBe(true)
      expect(s?.round).toBe(4)
    }
    // every node ends with the same model
    expect(new Set(states.map((s) => s?.model)).size).toBe(1)
    expect(completed).toEqual([0, 1, 2, 3])
    const acc = await accuracyOf(net, states[0]?.model as string)
    expect(acc).toBeGreaterThan(0.8) // chance is 0.25
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('rejects a forged update (wrong signer) and a replayed one (other round), and the round goes on', async () => {
    const { participants, initialModel, net } = await setup(4)
    const rejections: string[] = []
    for (const p of participants) p.addEventListener('rejected', (e) => rejections.push(e.detail.errorName))
    const mallory = net.join('mallory')
    const job = await (participants[0] as Participant).submitJob(spec(initialModel, { rounds: 2 }))
    // wait until round 0 has a committee, then attack every node
    await new Promise((r) => participants[0]?.addEventListener('round:started', r, { once: true }))
    const payload = new Uint8Array(4 * (FEATURES * CLASSES + CLASSES))
    const meta = {
      v: 1 as const,
      jobId: job.jobId,
      round: 0,
      baseModel: initialModel,
      trainer: 'node-1', // claims to be node-1
      numSamples: 1_000_000,
      payloadHash: sha256(payload),
      payloadBytes: payload.byteLength,
    }
    const sign = (d: Uint8Array) => mallory.transport.sign(d)
    const forged = await signRoundMessage('update', meta, sign)
    for (const id of ['node-0', 'node-1', 'node-2', 'node-3']) {
      await mallory.transport.sendUpdate(id, forged.envelope, payload).catch(() => {})
    }
    // a signed header for round 0 whose body is swapped for round 7's: the signature covers the exact bytes
    const signed0 = await signRoundMessage('update', { ...meta, trainer: 'mallory' }, sign)
    const round7 = await signRoundMessage('update', { ...meta, trainer: 'mallory', round: 7 }, sign)
    const replayed = { body: round7.envelope.body, signature: signed0.envelope.signature }
    for (const id of ['node-0', 'node-1']) await mallory.transport.sendUpdate(id, replayed, payload).catch(() => {})
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    expect(states.every((s) => s?.finished === true)).toBe(true)
    expect(rejections).toContain('ForgedMessageError')
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('a committee member that lies about the aggregate is out-voted and reported', async () => {
    const { participants, initialModel } = await setup(5, { liar: 'node-2' })
    const disagreements: string[] = []
    participants[0]?.addEventListener('committee:disagreement', (e) => disagreements.push(e.detail.member))
    const job = await (participants[0] as Participant).submitJob(spec(initialModel, { rounds: 3, committeeSize: 5 }))
    const states = await Promise.all(participants.filter((_, i) => i !== 2).map((p) => p.waitForJob(job.jobId)))
    expect(states.every((s) => s?.finished === true)).toBe(true)
    expect(new Set(states.map((s) => s?.model)).size).toBe(1)
    // the liar's last result may arrive just after the honest majority closed the round
    for (let i = 0; i < 50 && disagreements.length < 3; i++) await new Promise((r) => setTimeout(r, 20))
    expect(disagreements.length).toBeGreaterThan(0)
    expect(new Set(disagreements)).toEqual(new Set(['node-2']))
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('an aggregator that vanishes mid-job does not stop the rounds (committee majority, then replacement)', async () => {
    const { participants, initialModel, net } = await setup(5, { expected: false })
    const job = await (participants[0] as Participant).submitJob(
      spec(initialModel, { rounds: 3, roundDeadlineMs: 800, committeeSize: 3 }),
    )
    // after round 0, take down a member of round 1's committee
    await new Promise<void>((resolve) =>
      participants[0]?.addEventListener('round:started', (e) => {
        if (e.detail.round === 1) {
          const victim = e.detail.committee.find((id) => id !== 'node-0') as string
          net.join(victim).setOnline(false)
          void participants.find((p) => p.self === victim)?.stop()
          resolve()
        }
      }),
    )
    const s = await participants[0]?.waitForJob(job.jobId)
    expect(s?.finished).toBe(true)
    expect(s?.round).toBe(3)
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('a trainer that restarts resumes the job from persisted state and catches up', async () => {
    const { participants, initialModel, net } = await setup(4, { expected: false })
    const job = await (participants[0] as Participant).submitJob(
      spec(initialModel, { rounds: 4, roundDeadlineMs: 800 }),
    )
    const victim = participants[3] as Participant
    await new Promise((r) => victim.addEventListener('round:completed', r, { once: true }))
    await victim.stop()
    net.join('node-3').setOnline(false)
    await new Promise((r) => setTimeout(r, 1200))
    net.join('node-3').setOnline(true)
    await victim.start() // same state store: resumes the job
    expect(victim.jobIds()).toContain(job.jobId)
    const [s0, s3] = await Promise.all([participants[0]?.waitForJob(job.jobId), victim.waitForJob(job.jobId)])
    expect(s0?.finished).toBe(true)
    expect(s3?.finished).toBe(true)
    expect(s3?.model).toBe(s0?.model)
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('rejects an invalid job and a job with a forged creator signature', async () => {
    const { participants, initialModel, net } = await setup(2)
    const rejections: string[] = []
    participants[1]?.addEventListener('rejected', (e) => rejections.push(e.detail.errorName))
    await expect(
      (participants[0] as Participant).submitJob({ ...spec(initialModel), rounds: -1 }),
    ).rejects.toMatchObject({
      name: 'InvalidJobError',
    })
    const a = await (participants[0] as Participant).submitJob(spec(initialModel, { rounds: 1 }))
    const mallory = net.join('mallory')
    // the creator's signature over another body
    const tampered = await signRoundMessage('job', { ...fieldsOf(a), spec: { ...a.spec, name: 'other' } }, (d) =>
      mallory.transport.sign(d),
    )
    await mallory.transport.publish('jobs', { body: tampered.envelope.body, signature: a.envelope.signature })
    await mallory.transport.publish('jobs', { hello: 'world' } as never)
    await new Promise((r) => setTimeout(r, 100))
    expect(rejections).toContain('ForgedMessageError')
    expect(rejections).toContain('InvalidMessageError')
    await Promise.all(participants.map((p) => p.stop()))
  })
})
