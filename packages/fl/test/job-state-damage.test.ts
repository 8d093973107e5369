/**
 * One damaged job state does not keep a node from starting: with job states in a real
 * @vain/memory store on disk, a state whose bytes are garbage and one of the wrong shape are each
 * set aside (moved to `quarantine.<jobId>`) and reported by job id through `rejected`; one whose
 * announcement no longer decodes is reported by id; the node resumes its good job, and after a
 * restart it does not report the set-aside ones again.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createMemory, encodeStateRecord, type Memory } from '@vain/memory'
import { encode } from 'cborg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DamagedJobStateError, memoryJobStateStore } from '../src/adapters/vain-memory/index.js'
import {
  createLocalNetwork,
  createParticipant,
  type Participant,
  runtimeFactory,
  staticEligibility,
} from '../src/index.js'
import { createModel, encodeModel, softmaxRegression } from '../src/models/index.js'
import type { RejectionEvent } from '../src/round/events.js'
import { computeJobId, signRoundMessage } from '../src/round/messages.js'
import type { PersistedJobState } from '../src/round/ports.js'
import { JobSpecSchema, ROUND_PROTOCOL_VERSION } from '../src/round/spec.js'
import { blobsSpec, CLASSES, FEATURES } from './fixtures/protocol.js'

const STORE = 'vain-fl-jobs'
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vain-job-damage-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** The LMDB `state` database under a started memory (what a torn disk write or a bad tool leaves). */
function rawStates(memory: Memory): { putSync(key: [string, string, number], value: Buffer): void } {
  return (memory as unknown as { environment: { state: { putSync(k: [string, string, number], v: Buffer): void } } })
    .environment.state
}

async function openMemory(): Promise<Memory> {
  const memory = createMemory({ path: join(dir, 'memory') })
  await memory.start()
  return memory
}

describe('damaged job states (real @vain/memory store on disk)', () => {
  it('are set aside and reported by id; the node resumes its good job, and does not report them again', async () => {
    const net = createLocalNetwork()
    const self = 'solo'
    const local = net.join(self)
    const initialModel = await local.models.put(
      encodeModel(createModel(softmaxRegression(FEATURES, CLASSES), { seed: 1 })),
    )
    const announce = async (name: string) => {
      // a round nobody trains in, with a deadline the test never reaches: the job stays unfinished
      const spec = JobSpecSchema.parse(blobsSpec(initialModel, { name, rounds: 10, roundDeadlineMs: 3_600_000 }))
      return signRoundMessage(
        'job',
        { v: ROUND_PROTOCOL_VERSION, jobId: computeJobId(spec, self, 1), spec, creator: self, createdAt: 1 },
        (d) => local.transport.sign(d),
      )
    }
    const stateOf = (a: Awaited<ReturnType<typeof announce>>): PersistedJobState => ({
      announcement: a.envelope,
      jobId: a.jobId,
      round: 2,
      attempt: 0,
      model: initialModel,
      history: [],
      finished: false,
    })
    const good = await announce('good')
    const garbage = await announce('garbage')
    const wrongShape = await announce('wrong-shape')
    const undecodable = await announce('undecodable')

    let memory = await openMemory()
    let state = memoryJobStateStore(memory)
    for (const a of [good, garbage, wrongShape, undecodable]) await state.save(stateOf(a))
    // garbage over the latest revision, through the store's low-level database
    rawStates(memory).putSync([STORE, garbage.jobId, 2], Buffer.from([0xff, 0x13, 0x37, 0x00, 0x9f]))
    // a well-formed record of the wrong shape
    const shape = encodeStateRecord(1, Date.now(), { jobId: wrongShape.jobId, round: 'three' })
    rawStates(memory).putSync([STORE, wrongShape.jobId, 2], Buffer.from(shape))
    // a valid state whose announcement no longer decodes (a spec nested past today's limits)
    await state.save({
      ...stateOf(undecodable),
      announcement: {
        body: encode({ v: 1, jobId: undecodable.jobId, spec: deep(1_468) }),
        signature: new Uint8Array(64),
      },
    })
    await memory.stop()

    const run = async (): Promise<{ joined: string[]; rejected: RejectionEvent[]; node: Participant }> => {
      const node = createParticipant({
        transport: local.transport,
        models: local.models,
        state,
        policy: staticEligibility([self]),
        runtime: runtimeFactory(),
        roles: { trainer: false, aggregator: true },
      })
      const joined: string[] = []
      const rejected: RejectionEvent[] = []
      node.addEventListener('job:joined', (e) => joined.push(e.detail.jobId))
      node.addEventListener('rejected', (e) => rejected.push(e.detail))
      await node.start()
      return { joined, rejected, node }
    }

    memory = await openMemory()
    state = memoryJobStateStore(memory)
    const first = await run()
    expect(first.joined).toEqual([good.jobId])
    expect(first.node.jobIds()).toEqual([good.jobId])
    expect(first.node.status(good.jobId)?.round).toBe(2) // resumed where it was
    const bad = [garbage.jobId, wrongShape.jobId]
    expect(first.rejected.map((r) => r.jobId).sort()).toEqual([...bad, undecodable.jobId].sort())
    for (const r of first.rejected.filter((r) => r.jobId !== undecodable.jobId)) {
      expect(r).toMatchObject({ kind: 'job', from: self, errorName: DamagedJobStateError.name })
      expect(r.reason).toContain(`job state ${r.jobId} does not load and was set aside as quarantine.${r.jobId}`)
    }
    expect(first.rejected.find((r) => r.jobId === garbage.jobId)?.reason).toMatch(/CorruptedValueError/)
    expect(first.rejected.find((r) => r.jobId === wrongShape.jobId)?.reason).toMatch(/SchemaMismatchError/)
    // the state loads, its announcement does not open: reported by the driver, which has the store
    // set it aside (JobStateStore.setAside)
    expect(first.rejected.find((r) => r.jobId === undecodable.jobId)).toMatchObject({
      kind: 'job',
      errorName: 'InvalidMessageError',
      reason: expect.stringMatching(/nested deeper than/),
    })
    await first.node.stop()
    await memory.stop()

    // a restart: the damaged states are kept aside, not loaded or reported again
    memory = await openMemory()
    state = memoryJobStateStore(memory)
    expect(await state.list()).toEqual([good.jobId])
    expect(state.quarantined().sort()).toEqual([...bad, undecodable.jobId].sort())
    expect(state.states.revisions(`quarantine.${garbage.jobId}`)).toHaveLength(2) // both revisions kept
    const second = await run()
    expect(second.rejected).toEqual([])
    expect(second.joined).toEqual([good.jobId])
    expect(await state.load(garbage.jobId)).toBeUndefined()
    await second.node.stop()
    await memory.stop()
  })
})

function deep(levels: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}
