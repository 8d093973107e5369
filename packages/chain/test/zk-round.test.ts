/**
 * Proven updates in the federated round: real Groth16 proofs of `update_norm` made by trainers and
 * checked by committee members (`@vain/fl` participants on the in-process network, with
 * `zkUpdateProofSystem` as their proof system).
 */

import { createHash } from 'node:crypto'
import {
  checkProofHeader,
  checkUpdateProofs,
  createLocalNetwork,
  createLocalTrainer,
  createModel,
  createParticipant,
  type Dataset,
  datasetLearner,
  encodeModel,
  gaussianBlobs,
  InvalidUpdateProofError,
  inMemoryJobStateStore,
  type JobSpec,
  type JobSpecInput,
  JobSpecSchema,
  type LocalTrainer,
  MissingUpdateProofError,
  type Participant,
  partitionDataset,
  proveUpdateBlocks,
  type RejectionEvent,
  runtimeFactory,
  softmaxRegression,
  staticEligibility,
  subset,
  type UpdateProofSystem,
} from '@vain/fl'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  decodeProofWire,
  proofChunkLeaf,
  updateProofDigest,
  type ZkUpdateProofSystem,
  zkUpdateProofSystem,
} from '../src/zk/index.js'

const FEATURES = 10
const CLASSES = 4
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('proven updates in the round (real Groth16 proofs)', () => {
  let zk: ZkUpdateProofSystem
  let trainer: LocalTrainer
  let train: Dataset
  beforeAll(async () => {
    zk = await zkUpdateProofSystem()
    trainer = createLocalTrainer()
    train = gaussianBlobs({ samples: 1200, features: FEATURES, numClasses: CLASSES, separation: 3, seed: 7 })
  }, 120_000)
  afterAll(async () => {
    await trainer.close()
    await zk.close()
  })

  function spec(initialModel: string, overrides: Partial<JobSpecInput> = {}): JobSpecInput {
    return {
      name: 'proven-blobs',
      architecture: softmaxRegression(FEATURES, CLASSES),
      initialModel,
      dataset: { name: 'blobs' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'int8', params: { seed: 1 } },
      rounds: 2,
      // proving takes seconds on a busy machine: members close once every expected update is in
      roundDeadlineMs: 120_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.1 },
      maxUpdateBytes: 1 << 20,
      proofs: { normBound: 5 },
      ...overrides,
    }
  }

  async function setup(systems: Array<UpdateProofSystem | undefined>) {
    const net = createLocalNetwork()
    const ids = systems.map((_, i) => `node-${i}`)
    const shards = partitionDataset(train, { kind: 'dirichlet', clients: ids.length, alpha: 1, seed: 3 })
    const participants = ids.map((id, i) =>
      createParticipant({
        transport: net.join(id).transport,
        models: net.join(id).models,
        state: inMemoryJobStateStore(),
        policy: staticEligibility(ids, ids),
        learner: datasetLearner(trainer, { blobs: subset(train, shards[i] as Int32Array) }, i + 1),
        runtime: runtimeFactory(),
        roles: { trainer: true, aggregator: true },
        ...(systems[i] !== undefined ? { proofs: systems[i] } : {}),
      }),
    )
    await Promise.all(participants.map((p) => p.start()))
    const initialModel = await net
      .join('node-0')
      .models.put(encodeModel(createModel(softmaxRegression(FEATURES, CLASSES), { seed: 1 })))
    return { ids, participants, initialModel }
  }

  it('trainers prove their updates, members check them, contributions carry the proofs digest', async () => {
    const { participants, initialModel } = await setup([zk, zk, zk])
    const proven: number[] = []
    const rejected: RejectionEvent[] = []
    const digests: string[] = []
    for (const p of participants) {
      p.addEventListener('update:proven', (e) => proven.push(e.detail.proofs))
      p.addEventListener('rejected', (e) => rejected.push(e.detail))
    }
    participants[1]?.addEventListener('round:completed', (e) => {
      for (const c of e.detail.contributions) digests.push(c.proofDigest ?? 'none')
    })
    const job = await (participants[0] as Participant).submitJob(spec(initialModel))
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    for (const s of states) expect(s?.finished).toBe(true)
    // 44 parameters: one block of 256 (zero-padded) per update, 3 trainers × 2 rounds
    expect(proven).toEqual([1, 1, 1, 1, 1, 1])
    expect(rejected.filter((r) => r.kind === 'update')).toEqual([])
    expect(digests).toHaveLength(6)
    for (const d of digests) expect(d).toMatch(/^0x[0-9a-f]{64}$/)
    await Promise.all(participants.map((p) => p.stop()))
  }, 400_000)

  it('a trainer whose proof is about other values is refused with a typed reason; the round goes on', async () => {
    // the cheat proves a block it did not send (one value changed), so the proof verifies for nothing sent
    const cheat: UpdateProofSystem = {
      proofBytes: zk.proofBytes,
      prove: (s, bound) => {
        const values = Int8Array.from(s.values)
        values[0] = values[0] === 0 ? 1 : 0
        let n = 0n
        for (const v of values) n += BigInt(v * v)
        return zk.prove({ ...s, values }, n > bound ? n : bound)
      },
      verify: (s, p) => zk.verify(s, p),
      digest: (h, p) => zk.digest(h, p),
    }
    const { ids, participants, initialModel } = await setup([zk, zk, zk, cheat])
    const rejected: RejectionEvent[] = []
    const contributors = new Set<string>()
    for (const p of participants) p.addEventListener('rejected', (e) => rejected.push(e.detail))
    participants[0]?.addEventListener('round:completed', (e) => {
      for (const c of e.detail.contributions) contributors.add(c.trainer)
    })
    // the cheat's update never counts: members wait out the deadline for it, so keep it modest
    const job = await (participants[0] as Participant).submitJob(
      spec(initialModel, { rounds: 1, roundDeadlineMs: 45_000, minUpdates: 3 }),
    )
    const states = await Promise.all(participants.slice(0, 3).map((p) => p.waitForJob(job.jobId)))
    for (const s of states) expect(s?.finished).toBe(true)
    const refused = rejected.filter((r) => r.kind === 'update' && r.from === ids[3])
    expect(refused.length).toBeGreaterThan(0)
    for (const r of refused) {
      expect(r.errorName).toBe('InvalidUpdateProofError')
      expect(r.reason).toMatch(/proof 0 of 1/)
    }
    expect([...contributors].sort()).toEqual(ids.slice(0, 3))
    await Promise.all(participants.map((p) => p.stop()))
  }, 400_000)

  it('member checks: missing, foreign, tampered and over-bound proofs get typed errors; the digest matches the chain', async () => {
    const job = JobSpecSchema.parse(spec('a'.repeat(46))) as JobSpec
    const numParams = FEATURES * CLASSES + CLASSES
    const delta = Float32Array.from({ length: numParams }, (_, i) => Math.sin(i) * 0.1)
    const runtime = runtimeFactory()(job, 'node-0')
    const encoded = runtime.encodeUpdate(delta)
    const at = { jobId: 'ab'.repeat(32), round: 3, trainer: 'node-0', numParams }
    const { section, count } = await proveUpdateBlocks(zk, job, at, encoded)
    expect(count).toBe(1)
    const payload = new Uint8Array([...encoded, ...section])
    const header = {
      jobId: at.jobId,
      round: at.round,
      trainer: at.trainer,
      payloadHash: sha256(payload),
      payloadBytes: payload.byteLength,
      proofs: { count, bytes: section.byteLength },
    }
    // the header: proofs required, of the system's size
    expect(checkProofHeader(job, { ...header, proofs: undefined }, zk.proofBytes)).toBeInstanceOf(
      MissingUpdateProofError,
    )
    expect(checkProofHeader(job, { ...header, proofs: { count: 1, bytes: 100 } }, zk.proofBytes)).toBeInstanceOf(
      InvalidUpdateProofError,
    )
    expect(checkProofHeader(job, header, undefined)).toBeInstanceOf(MissingUpdateProofError)
    expect(checkProofHeader(job, header, zk.proofBytes)).toBeUndefined()

    // valid: the digest is the chain's (ProofChallenges recomputes it from the chunk leaves)
    const ok = await checkUpdateProofs(zk, job, header, payload, numParams)
    expect(ok.update).toEqual(encoded)
    const leaf = proofChunkLeaf(0, decodeProofWire(section).calldata)
    expect(ok.digest).toBe(updateProofDigest(`0x${header.payloadHash}`, [leaf]))

    // for another trainer or round (the binding differs)
    await expect(checkUpdateProofs(zk, job, { ...header, trainer: 'node-1' }, payload, numParams)).rejects.toThrow(
      InvalidUpdateProofError,
    )
    await expect(checkUpdateProofs(zk, job, { ...header, round: 4 }, payload, numParams)).rejects.toThrow(/is bound to/)
    // a tampered proof (a byte of pi_c flipped)
    const tampered = payload.slice()
    tampered[encoded.byteLength + 6 * 32 + 31] ^= 1
    await expect(checkUpdateProofs(zk, job, header, tampered, numParams)).rejects.toThrow(InvalidUpdateProofError)
    // other values than the proof's (a value changed in the update)
    const other = payload.slice()
    other[encoded.byteLength - 1] = (other[encoded.byteLength - 1] as number) ^ 1
    await expect(checkUpdateProofs(zk, job, header, other, numParams)).rejects.toThrow(/commit/)
    // no proofs declared
    await expect(checkUpdateProofs(zk, job, { ...header, proofs: undefined }, payload, numParams)).rejects.toThrow(
      MissingUpdateProofError,
    )
    // a job with a tighter bound than the proofs show
    const tight = { ...job, proofs: { normBound: 1e-6 } }
    await expect(checkUpdateProofs(zk, tight, header, payload, numParams)).rejects.toThrow(/over the job/)
    await expect(proveUpdateBlocks(zk, tight, at, encoded)).rejects.toThrow(InvalidUpdateProofError)
  }, 300_000)

  it('a job with proofs needs int8 blocks of 256 and no secure aggregation', () => {
    const base = spec('a'.repeat(46))
    expect(JobSpecSchema.safeParse({ ...base, codec: { name: 'fp16' } }).success).toBe(false)
    expect(JobSpecSchema.safeParse({ ...base, codec: { name: 'int8', params: { blockSize: 64 } } }).success).toBe(false)
    expect(JobSpecSchema.safeParse({ ...base, codec: { name: 'top-k', params: { values: 'int4' } } }).success).toBe(
      false,
    )
    expect(JobSpecSchema.safeParse({ ...base, secureAggregation: true }).success).toBe(false)
    expect(JobSpecSchema.safeParse({ ...base, codec: { name: 'top-k', params: { k: 256 } } }).success).toBe(true)
    expect(JobSpecSchema.safeParse(base).success).toBe(true)
  })
})
