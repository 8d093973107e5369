import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  allowJobCreators,
  createLocalTrainer,
  createParticipant,
  type Dataset,
  inMemoryJobStateStore,
  type LocalTrainer,
  type Participant,
  runtimeFactory,
  staticEligibility,
} from '../src/index.js'
import { blobs, blobsSpec, protocolSetup } from './fixtures/protocol.js'

/** Which jobs a node takes on: a policy, caps per node and per creator, abandonment, cancellation. */
describe('job admission, caps, abandonment and cancellation (in-process network)', () => {
  let trainer: LocalTrainer
  let train: Dataset
  beforeAll(() => {
    trainer = createLocalTrainer()
    ;({ train } = blobs())
  })
  afterAll(async () => {
    await trainer.close()
  })

  it('a node with an allow-list of creators refuses a stranger’s job with JobNotAdmittedError', async () => {
    const s = await protocolSetup(trainer, train, 3, {
      participant: (_id, init) => createParticipant({ ...init, jobPolicy: allowJobCreators(['node-0']) }),
    })
    const refused: string[] = []
    s.participants[1]?.addEventListener('rejected', (e) => refused.push(`${e.detail.errorName}:${e.detail.jobId}`))
    const mallory = createParticipant({
      transport: s.net.join('mallory').transport,
      models: s.net.join('mallory').models,
      state: inMemoryJobStateStore(),
      policy: staticEligibility(['mallory']),
      runtime: runtimeFactory(),
      roles: { trainer: false, aggregator: true },
    })
    await mallory.start()
    const job = await mallory.submitJob(blobsSpec(s.initialModel, { rounds: 1000 }))
    const allowed = await (s.participants[0] as Participant).submitJob(blobsSpec(s.initialModel, { rounds: 1 }))
    await s.participants[1]?.waitForJob(allowed.jobId)
    expect(refused).toContain(`JobNotAdmittedError:${job.jobId}`)
    expect(s.participants[1]?.jobIds()).not.toContain(job.jobId)
    await Promise.all([mallory.stop(), ...s.participants.map((p) => p.stop())])
  })

  it('one creator gets at most maxJobsPerCreator jobs run on another node', async () => {
    const s = await protocolSetup(trainer, train, 3, {
      participant: (_id, init) => createParticipant({ ...init, jobCaps: { maxJobsPerCreator: 2 } }),
    })
    const refused: string[] = []
    s.participants[1]?.addEventListener('rejected', (e) => refused.push(e.detail.errorName))
    const joined: string[] = []
    s.participants[1]?.addEventListener('job:joined', (e) => joined.push(e.detail.jobId))
    for (let i = 0; i < 5; i++) {
      await (s.participants[0] as Participant).submitJob(blobsSpec(s.initialModel, { name: `j${i}`, rounds: 1000 }))
    }
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (joined.length + refused.filter((r) => r === 'JobNotAdmittedError').length >= 5) resolve()
        else setTimeout(check, 20)
      }
      check()
    })
    expect(joined).toHaveLength(2)
    expect(refused.filter((r) => r === 'JobNotAdmittedError')).toHaveLength(3)
    expect(s.participants[0]?.jobIds()).toHaveLength(5) // its own jobs: always
    await Promise.all(s.participants.map((p) => p.stop()))
  })

  it('a job whose rounds keep failing is abandoned after maxFailedAttempts, persisted as such', async () => {
    const s = await protocolSetup(trainer, train, 3, {
      participant: (_id, init) => createParticipant({ ...init, resultGraceMs: 100, jobCaps: { maxFailedAttempts: 3 } }),
    })
    const ended: string[] = []
    s.participants[0]?.addEventListener('job:ended', (e) => ended.push(e.detail.ended))
    // minUpdates no round can reach
    const job = await (s.participants[0] as Participant).submitJob(
      blobsSpec(s.initialModel, { rounds: 5, minUpdates: 50, roundDeadlineMs: 200 }),
    )
    const state = await s.participants[0]?.waitForJob(job.jobId)
    expect(state?.finished).toBe(true)
    expect(state?.ended).toBe('abandoned')
    expect(state?.attempt).toBe(3)
    expect(ended).toEqual(['abandoned'])
    expect(s.participants[0]?.jobIds()).not.toContain(job.jobId)
    await Promise.all(s.participants.map((p) => p.stop()))
  })

  it('a cancelled job stops here, is not resumed after a restart and not joined again', async () => {
    const s = await protocolSetup(trainer, train, 4)
    const node = s.participants[1] as Participant
    const job = await (s.participants[0] as Participant).submitJob(blobsSpec(s.initialModel, { rounds: 1000 }))
    await new Promise((r) => node.addEventListener('round:completed', r, { once: true }))
    expect(await node.cancelJob(job.jobId)).toBe(true)
    expect(node.jobIds()).not.toContain(job.jobId)
    const state = await node.waitForJob(job.jobId)
    expect(state?.ended).toBe('cancelled')
    await node.stop()
    await node.start() // same state store: the cancelled job is not resumed
    expect(node.jobIds()).not.toContain(job.jobId)
    expect(await node.cancelJob('f'.repeat(64))).toBe(false)
    await Promise.all(s.participants.map((p) => p.stop()))
  })

  it('a paused job stops here, stays paused across a restart, and resumes to complete rounds', async () => {
    const s = await protocolSetup(trainer, train, 4)
    const node = s.participants[1] as Participant
    const job = await (s.participants[0] as Participant).submitJob(blobsSpec(s.initialModel, { rounds: 1000 }))
    await new Promise((r) => node.addEventListener('round:completed', r, { once: true }))
    expect(await node.pauseJob(job.jobId)).toBe(true)
    expect(node.jobIds()).not.toContain(job.jobId)
    const paused = await node.jobState(job.jobId)
    expect(paused?.paused).toBe(true)
    expect(paused?.finished).toBe(false)
    expect(await node.pauseJob(job.jobId)).toBe(true) // already paused
    await node.stop()
    await node.start() // same state store: the paused job is not resumed
    expect(node.jobIds()).not.toContain(job.jobId)
    expect(await node.resumeJob(job.jobId)).toBe(true)
    expect(node.jobIds()).toContain(job.jobId)
    expect((await node.jobState(job.jobId))?.paused).toBeUndefined()
    const before = paused?.round ?? 0
    await new Promise<void>((resolve) => {
      const on = (e: CustomEvent<{ jobId: string; round: number }>): void => {
        if (e.detail.jobId === job.jobId && e.detail.round > before) {
          node.removeEventListener('round:completed', on as never)
          resolve()
        }
      }
      node.addEventListener('round:completed', on as never)
    })
    expect(await node.pauseJob('f'.repeat(64))).toBe(false)
    expect(await node.resumeJob('f'.repeat(64))).toBe(false)
    expect(await node.cancelJob(job.jobId)).toBe(true)
    expect(await node.resumeJob(job.jobId)).toBe(false) // ended
    await Promise.all(s.participants.map((p) => p.stop()))
  })
})
