import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalTrainer, type Dataset, type LocalTrainer, type Participant } from '../src/index.js'
import { blobs, blobsSpec, protocolSetup } from './fixtures/protocol.js'

/**
 * Contributor-set agreement: when a deadline cuts an update off at some members, every member
 * aggregates the updates a majority of the committee holds, so honest members sign one result.
 */
describe('contributor-set agreement (in-process network)', () => {
  let trainer: LocalTrainer
  let train: Dataset
  beforeAll(() => {
    trainer = createLocalTrainer()
    ;({ train } = blobs())
  })
  afterAll(async () => {
    await trainer.close()
  })

  /**
   * 5 trainers, committee of 3, one round. In round 0, `reach[i]` is how many members (taken in
   * committee order, from member `i`) the i-th trainer outside the committee can reach; the rest
   * lose its update.
   */
  async function run(reach: number[]) {
    const s = await protocolSetup(trainer, train, 5)
    const published: Array<{ member: string; model: string; trainers: string[] }> = []
    const disagreements: string[] = []
    const agreedEvents: Array<{ held: number; agreed: number; fetched: number }> = []
    const stragglers: string[] = []
    const reached = new Map<string, string[]>()
    s.participants[0]?.addEventListener(
      'round:started',
      (e) => {
        const committee = e.detail.committee
        const outside = s.ids.filter((id) => !committee.includes(id))
        reach.forEach((n, i) => {
          const id = outside[i] as string
          stragglers.push(id)
          reached.set(id, [...committee, ...committee].slice(i, i + n))
        })
        s.net.updateFilter = (from, to) => reached.get(from)?.includes(to) ?? true
      },
      { once: true },
    )
    for (const p of s.participants) {
      p.addEventListener('result:published', (e) =>
        published.push({
          member: e.detail.aggregator,
          model: e.detail.newModel,
          trainers: e.detail.contributions.map((c) => c.trainer),
        }),
      )
      p.addEventListener('committee:disagreement', (e) => disagreements.push(e.detail.member))
      p.addEventListener('contributors:agreed', (e) => agreedEvents.push(e.detail))
    }
    const job = await (s.participants[0] as Participant).submitJob(
      blobsSpec(s.initialModel, { rounds: 1, roundDeadlineMs: 3_000, minUpdates: 2 }),
    )
    const states = await Promise.all(s.participants.map((p) => p.waitForJob(job.jobId)))
    await Promise.all(s.participants.map((p) => p.stop()))
    return { states, published, disagreements, agreedEvents, stragglers }
  }

  it('an update that reaches only one member is left out by every member: one result, nobody to slash', async () => {
    const { states, published, disagreements, agreedEvents, stragglers } = await run([1])
    const straggler = stragglers[0] as string
    expect(states.every((st) => st?.finished === true)).toBe(true)
    expect(new Set(states.map((st) => st?.model)).size).toBe(1)
    // the members published one model, without the straggler (a member the majority outran may
    // not publish at all: the round completed without it)
    expect(published.length).toBeGreaterThanOrEqual(2)
    expect(new Set(published.map((p) => p.model)).size).toBe(1)
    for (const p of published) expect(p.trainers).not.toContain(straggler)
    expect(published[0]?.trainers).toHaveLength(4)
    expect(disagreements).toEqual([])
    // whoever held the straggler's update agreed on 4 all the same
    expect(agreedEvents.length).toBeGreaterThanOrEqual(2)
    for (const a of agreedEvents) expect(a.agreed).toBe(4)
  })

  it('updates that each reach a majority of members are passed on to the members they missed', async () => {
    // straggler 0 reaches members 0 and 1, straggler 1 members 1 and 2: no two members hold the
    // same set, so all three agree on both and each of members 0 and 2 gets one passed on
    const { states, published, disagreements, agreedEvents, stragglers } = await run([2, 2])
    expect(states.every((st) => st?.finished === true)).toBe(true)
    expect(new Set(states.map((st) => st?.model)).size).toBe(1)
    expect(published.length).toBeGreaterThanOrEqual(2)
    expect(new Set(published.map((p) => p.model)).size).toBe(1)
    for (const p of published) expect(p.trainers).toEqual(expect.arrayContaining(stragglers))
    expect(published[0]?.trainers).toHaveLength(5)
    expect(disagreements).toEqual([])
    expect(agreedEvents.filter((a) => a.held === 4 && a.agreed === 5 && a.fetched === 1).length).toBeGreaterThanOrEqual(
      1,
    )
  })
})
