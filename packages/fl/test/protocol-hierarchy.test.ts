import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createLocalTrainer,
  type Dataset,
  decodeModel,
  fieldsOf,
  type JobSpecInput,
  type Learner,
  type LocalTrainer,
  openRoundMessage,
  type Participant,
  type RoundTransport,
  regionOf,
  signRoundMessage,
} from '../src/index.js'
import { blobs, blobsSpec, plainFedAvg, protocolSetup, worstDiff } from './fixtures/protocol.js'

/** A transport whose regional aggregates are tampered with (re-signed by their sender): a lying regional member. */
function tamperRegional(t: RoundTransport, tampered: { n: number }): RoundTransport {
  return {
    ...t,
    sendUpdate: async (to, header, payload, options) => {
      const meta = openRoundMessage('update', header)
      if (meta.region === undefined) return t.sendUpdate(to, header, payload, options)
      tampered.n++
      const bad = new Float32Array(payload.slice().buffer).map((x) => x + 0.5)
      const bytes = new Uint8Array(bad.buffer)
      const payloadHash = createHash('sha256').update(bytes).digest('hex')
      const resigned = await signRoundMessage('update', { ...fieldsOf(meta), payloadHash }, (d) => t.sign(d))
      return t.sendUpdate(to, resigned.envelope, bytes, options)
    },
  }
}

/** A learner that takes 1.5 s in round 0: a straggler. */
function slowFirstRound(inner: Learner): Learner {
  return {
    ...inner,
    train: async (spec, model, round, options) => {
      if (round === 0) await new Promise((r) => setTimeout(r, 1500))
      return inner.train(spec, model, round, options)
    },
  }
}

describe('hierarchical aggregation, asynchronous rounds and privacy (in-process network)', () => {
  let trainer: LocalTrainer
  let train: Dataset
  beforeAll(() => {
    trainer = createLocalTrainer()
    ;({ train } = blobs())
  })
  afterAll(async () => {
    await trainer.close()
  })

  const spec = (initialModel: string, overrides: Partial<JobSpecInput> = {}): JobSpecInput =>
    blobsSpec(initialModel, {
      name: 'blobs-regions',
      hierarchy: { regions: 3, regionalCommitteeSize: 3 },
      rounds: 2,
      ...overrides,
    })

  async function setup(n: number, liar?: string, aggregators?: number, straggler?: string) {
    const tampered = { n: 0 }
    const s = await protocolSetup(trainer, train, n, {
      ...(aggregators !== undefined ? { aggregators } : {}),
      transport: (id, t) => (id === liar ? tamperRegional(t, tampered) : t),
      learner: (id, l) => (id === straggler ? slowFirstRound(l) : l),
    })
    return { ...s, tampered }
  }

  /** Plain FedAvg of every node's round-0 update (clipped to `clip` if given). */
  const plainRound0 = (initial: Parameters<typeof plainFedAvg>[3], data: Dataset[], clip?: number) =>
    plainFedAvg(
      trainer,
      data,
      data.map((_, node) => ({ node, from: initial, round: 0 })),
      initial,
      clip,
    )

  it('9 trainers in 3 regions: each sends only to its regional committee, the root aggregates the regions, and the model is FedAvg of all 9', async () => {
    const { net, ids, participants, initialModel, initial, data } = await setup(9)
    const sent = new Map<string, string[]>()
    participants.forEach((p, i) => {
      p.addEventListener('update:sent', (e) => {
        if (e.detail.round === 0) sent.set(ids[i] as string, e.detail.to)
      })
    })
    const completed: Array<{ model: string; trainers: string[]; committee: string[] }> = []
    participants[4]?.addEventListener('round:completed', (e) =>
      completed.push({
        model: e.detail.model,
        trainers: e.detail.contributions.map((c) => c.trainer),
        committee: e.detail.committee,
      }),
    )
    let regionalSeen = 0
    for (const p of participants)
      p.addEventListener('round:started', (e) => {
        if (e.detail.round === 0) regionalSeen++
      })
    const job = await (participants[0] as Participant).submitJob(spec(initialModel))
    const states = await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    for (const s of states) expect(s?.round).toBe(2)
    expect(new Set(states.map((s) => s?.model)).size).toBe(1)
    expect(regionalSeen).toBe(9)
    expect(completed).toHaveLength(2)
    expect(completed[0]?.trainers).toEqual([...ids].sort())
    // every trainer sent to a committee of 3, and trainers of one region to the same one
    const byRegion = new Map<number, Set<string>>()
    for (const id of ids) {
      const to = sent.get(id) as string[]
      expect(to).toHaveLength(3)
      const r = regionOf(job.jobId, id, 3)
      byRegion.set(r, new Set([...(byRegion.get(r) ?? []), to.join(',')]))
    }
    for (const committees of byRegion.values()) expect(committees.size).toBe(1)
    const model = decodeModel(await net.join('observer').models.get(completed[0]?.model as string))
    expect(worstDiff(model.params, await plainRound0(initial, data))).toBeLessThan(1e-5)
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('a regional member that lies about its region’s aggregate is outvoted inside its region', async () => {
    // three aggregators: each sits on every regional committee (and the root), the liar among them
    const { net, participants, initialModel, initial, data, tampered } = await setup(9, 'node-2', 3)
    const models: string[] = []
    participants[5]?.addEventListener('round:completed', (e) => models.push(e.detail.model))
    const job = await (participants[0] as Participant).submitJob(spec(initialModel, { rounds: 1 }))
    await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    expect(models).toHaveLength(1)
    expect(tampered.n).toBeGreaterThan(0) // it did lie, to the other root members
    const model = decodeModel(await net.join('observer').models.get(models[0] as string))
    expect(worstDiff(model.params, await plainRound0(initial, data))).toBeLessThan(1e-5)
    await Promise.all(participants.map((p) => p.stop()))
  })

  it('asynchronous mode: a straggler’s late update joins the next round, weighted by (1 + τ)^-a; without it, the late update is refused as stale', async () => {
    for (const asyncMode of [true, false]) {
      const { net, ids, participants, initialModel, initial, data } = await setup(4, undefined, undefined, 'node-3')
      const completed: Array<{ round: number; model: string; trainers: string[] }> = []
      participants[0]?.addEventListener('round:completed', (e) =>
        completed.push({
          round: e.detail.round,
          model: e.detail.model,
          trainers: e.detail.contributions.map((c) => c.trainer),
        }),
      )
      const stale: string[] = []
      for (const p of participants)
        p.addEventListener('rejected', (e) => {
          if (e.detail.errorName === 'StaleUpdateError') stale.push(e.detail.from)
        })
      const job = await (participants[0] as Participant).submitJob(
        spec(initialModel, {
          rounds: 2,
          hierarchy: undefined,
          roundDeadlineMs: 800,
          ...(asyncMode ? { staleness: { maxRounds: 2, exponent: 0.5 } } : {}),
        }),
      )
      await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
      await Promise.all(participants.map((p) => p.stop()))
      expect(completed.map((c) => c.round)).toEqual([0, 1])
      expect(completed[0]?.trainers).toEqual(['node-0', 'node-1', 'node-2'])
      if (!asyncMode) {
        expect(stale).toContain('node-3') // its round-0 update came too late
        continue
      }
      expect(completed[1]?.trainers).toEqual(ids) // node-3's late round-0 update is in round 1
      // round 1 = round-0 model + weighted mean of three fresh updates and node-3's stale one (τ = 1)
      const global0 = decodeModel(await net.join('observer').models.get(completed[0]?.model as string))
      const expected = await plainFedAvg(
        trainer,
        data,
        [0, 1, 2, 3].map((node) =>
          node === 3 ? { node, from: initial, round: 0, weight: 2 ** -0.5 } : { node, from: global0, round: 1 },
        ),
        global0,
      )
      const model1 = decodeModel(await net.join('observer').models.get(completed[1]?.model as string))
      expect(worstDiff(model1.params, expected)).toBeLessThan(1e-5)
    }
  })

  it('a job with privacy clips every update before it leaves its trainer', async () => {
    const { net, participants, initialModel, initial, data } = await setup(4)
    const models: string[] = []
    participants[1]?.addEventListener('round:completed', (e) => models.push(e.detail.model))
    const clip = 0.05
    const job = await (participants[0] as Participant).submitJob(
      spec(initialModel, { rounds: 1, hierarchy: undefined, privacy: { clip, noiseMultiplier: 0 } }),
    )
    await Promise.all(participants.map((p) => p.waitForJob(job.jobId)))
    const model = decodeModel(await net.join('observer').models.get(models[0] as string))
    const step = Math.hypot(...model.params.map((p, k) => p - (initial.params[k] as number)))
    expect(step).toBeLessThanOrEqual(clip * 1.0001) // a weighted mean of clipped updates
    expect(worstDiff(model.params, await plainRound0(initial, data, clip))).toBeLessThan(1e-5)
    await Promise.all(participants.map((p) => p.stop()))
  })
})
