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
   * 5 trainers, committee of 3, one round. In round 0, `reach(committee, x)` picks the members
   * that trainer `x` (a non-member) can reach; the rest lose its update.
   */
  async function run(reach: (committee: string[]) => number) {
    const s = await protocolSetup(trainer, train, 5)
    const published: Array<{ member: string; model: string; trainers: string[] }> = []
    const disagreements: string[] = []
    const agreedEvents: Array<{ held: number; agreed: number; fetched: number }> = []
    let straggler = ''
    let reached: string[] = []
    s.participants[0]?.addEventListener(
      'round:started',
      (e) => {
        const committee = e.detail.committee
        straggler = s.ids.find((id) => !committee.includes(id)) as string
        reached = committee.slice(0, reach(committee))
        s.net.updateFilter = (from, to) => from !== straggler || reached.includes(to)
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
    return { states, published, disagreements, agreedEvents, straggler, reached }
  }

  it('an update that reaches only one member is left out by every member: one result, nobody to slash', async () => {
    const { states, published, disagreements, agreedEvents, straggler } = await run(() => 1)
    expect(states.every((st) => st?.finished === true)).toBe(true)
    expect(new Set(states.map((st) => st?.model)).size).toBe(1)
    // all three members published, and they published the same model without the straggler
    expect(published).toHaveLength(3)
    expect(new Set(published.map((p) => p.model)).size).toBe(1)
    for (const p of published) expect(p.trainers).not.toContain(straggler)
    expect(published[0]?.trainers).toHaveLength(4)
    expect(disagreements).toEqual([])
    // the member the straggler reached held 5 and agreed on 4
    expect(agreedEvents.some((a) => a.held === 5 && a.agreed === 4)).toBe(true)
  })

  it('an update that reaches a majority of members is passed on to the member it missed', async () => {
    const { states, published, disagreements, agreedEvents, straggler } = await run(() => 2)
    expect(states.every((st) => st?.finished === true)).toBe(true)
    expect(published).toHaveLength(3)
    expect(new Set(published.map((p) => p.model)).size).toBe(1)
    for (const p of published) expect(p.trainers).toContain(straggler)
    expect(disagreements).toEqual([])
    // the third member got it from another member
    expect(agreedEvents.some((a) => a.held === 4 && a.agreed === 5 && a.fetched === 1)).toBe(true)
  })
})
