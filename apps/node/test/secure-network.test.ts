/**
 * Secure aggregation and a lying committee member, over real libp2p nodes on 127.0.0.1 (several
 * vAIn nodes in this process, each with its own data dir, identity and MNIST shard).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createModel,
  decodeSecAggFrame,
  encodeModel,
  fieldsOf,
  type JobSpecInput,
  mlp,
  Participant,
  type ParticipantInit,
  type RoundResult,
  type RoundTransport,
  SecAggRequestSchema,
  signRoundMessage,
} from '@vain/fl'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const log = createLogger({ level: 'error', json: false })
const N = 4

async function waitFor(check: () => boolean, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${label}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A committee member that signs and publishes a result for a model it made up. */
class LyingParticipant extends Participant {
  protected override async publishResult(result: RoundResult): Promise<void> {
    const init = (this as unknown as { init: ParticipantInit }).init
    const fake = createModel(mlp(784, [32], 10), { seed: 666 + result.round })
    const newModel = await init.models.put(encodeModel(fake))
    const lie = await signRoundMessage('result', { ...fieldsOf(result), newModel }, (d) => init.transport.sign(d))
    await super.publishResult(lie)
  }
}

/** A transport that never sends its unmasking shares: a trainer that vanishes right after uploading. */
function vanishAfterUpload(t: RoundTransport): RoundTransport {
  const inner = t.requestSecAgg?.bind(t) as NonNullable<RoundTransport['requestSecAgg']>
  return {
    ...t,
    requestSecAgg: async (to, frame, options) => {
      if (decodeSecAggFrame(frame, SecAggRequestSchema).header.kind === 'unmask') throw new Error('gone')
      return inner(to, frame, options)
    },
  }
}

describe('over libp2p: secure aggregation with a dropout, regions, and a lying committee member', () => {
  let root: string
  const nodes: RunningNode[] = []
  let liar: RunningNode
  let observer: RunningNode
  const config = (i: number, bootstrap: string[]): AppConfig => ({
    dataDir: join(root, `n${i}`),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    profile: 'loopback',
    roles: ['trainer', 'aggregator'],
    apiPort: null,
    data: { dataset: 'mnist', shard: i, shards: N, alpha: 1, seed: 1 },
    // the observer (started later) creates the jobs: a closed test network opts in to any creator
    jobs: { accept: 'any' },
    logLevel: 'error',
    json: false,
  })

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-secure-'))
    nodes.push(await startVainNode(config(0, []), log))
    const boot = [String(nodes[0]?.node.multiaddrs[0])]
    for (let i = 1; i < N; i++) {
      // the last trainer vanishes after uploading its masked input, every round
      nodes.push(
        await startVainNode(config(i, boot), log, {
          ...(i === N - 1
            ? { participant: (init) => new Participant({ ...init, transport: vanishAfterUpload(init.transport) }) }
            : {}),
        }),
      )
    }
    liar = await startVainNode(
      { ...config(50, boot), roles: ['aggregator'], data: undefined, dataDir: join(root, 'liar') },
      log,
      { participant: (init) => new LyingParticipant(init) },
    )
    observer = await startVainNode(
      { ...config(99, boot), roles: ['validator'], data: undefined, dataDir: join(root, 'obs') },
      log,
    )
    await waitFor(() => observer.node.authenticatedPeers().length >= N + 1, 30_000, 'observer meets all nodes')
    await waitFor(() => nodes.every((n) => n.node.authenticatedPeers().length >= N), 30_000, 'mesh')
    await new Promise((r) => setTimeout(r, 2000))
  })
  afterAll(async () => {
    await Promise.allSettled([observer?.stop(), liar?.stop(), ...nodes.map((n) => n.stop())])
    await rm(root, { recursive: true, force: true })
  })

  async function submit(overrides: Partial<JobSpecInput>): Promise<string> {
    const arch = mlp(784, [32], 10)
    const initialModel = await observer.models.put(encodeModel(createModel(arch, { seed: 2 })))
    const spec: JobSpecInput = {
      name: 'secure',
      architecture: arch,
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'dense' },
      rounds: 2,
      // rounds close on events (every expected update in, a committee majority): the deadline is
      // only a wide margin for a busy machine, never what a test waits for
      roundDeadlineMs: 60_000,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 4 * 1024 * 1024,
      participants: {
        aggregators: nodes.slice(0, 3).map((n) => n.node.peerId.toString()),
        trainers: nodes.map((n) => n.node.peerId.toString()),
      },
      ...overrides,
    }
    return (await observer.participant.submitJob(spec)).jobId
  }

  it('secure aggregation: members get only masked vectors, and the trainer that vanished after uploading is still in the sum', async () => {
    const plainUpdates: string[] = []
    const maskedUploads: string[] = []
    for (const n of nodes) {
      n.participant.addEventListener('update:accepted', (e) => maskedUploads.push(e.detail.trainer))
      n.participant.addEventListener('rejected', (e) => plainUpdates.push(`${e.detail.kind}:${e.detail.reason}`))
    }
    const completed: Array<{ round: number; trainers: string[] }> = []
    observer.participant.addEventListener('round:completed', (e) =>
      completed.push({ round: e.detail.round, trainers: e.detail.contributions.map((c) => c.trainer) }),
    )
    const jobId = await submit({ secureAggregation: true })
    const done = await observer.participant.waitForJob(jobId)
    expect(done?.finished).toBe(true)
    const everyone = nodes.map((n) => n.node.peerId.toString()).sort()
    expect(completed.map((c) => c.round)).toEqual([0, 1])
    for (const c of completed) expect([...c.trainers].sort()).toEqual(everyone)
    // every committee member took masked uploads from all 4 trainers; nothing was refused
    expect(maskedUploads.length).toBeGreaterThanOrEqual(2 * 3 * N)
    expect(plainUpdates).toEqual([])
    const models = await Promise.all(nodes.map((n) => n.participant.waitForJob(jobId)))
    expect(new Set(models.map((m) => m?.model)).size).toBe(1)
  })

  it('a hierarchical job: two regional committees feed the root committee; every trainer is in the result', async () => {
    const completed: string[][] = []
    observer.participant.addEventListener('round:completed', (e) =>
      completed.push(e.detail.contributions.map((c) => c.trainer)),
    )
    const jobId = await submit({ codec: { name: 'int8' }, hierarchy: { regions: 2 } })
    const done = await observer.participant.waitForJob(jobId)
    expect(done?.finished).toBe(true)
    const everyone = nodes.map((n) => n.node.peerId.toString()).sort()
    expect(completed).toHaveLength(2)
    for (const trainers of completed) expect([...trainers].sort()).toEqual(everyone)
  })

  it('a committee member that lies about the aggregate is out-voted by the honest majority and reported', async () => {
    const disagreements: Array<{ member: string; round: number }> = []
    observer.participant.addEventListener('committee:disagreement', (e) =>
      disagreements.push({ member: e.detail.member, round: e.detail.round }),
    )
    const liarId = liar.node.peerId.toString()
    const jobId = await submit({
      codec: { name: 'int8' },
      // the liar sits on every committee, beside two honest members
      participants: {
        aggregators: [liarId, ...nodes.slice(0, 2).map((n) => n.node.peerId.toString())],
        trainers: nodes.map((n) => n.node.peerId.toString()),
      },
    })
    const done = await observer.participant.waitForJob(jobId)
    expect(done?.finished).toBe(true)
    expect(done?.round).toBe(2)
    const honest = await nodes[0]?.participant.waitForJob(jobId)
    expect(honest?.model).toBe(done?.model) // the honest majority's model, not the liar's
    await waitFor(() => disagreements.length >= 1, 60_000, 'the lie is reported')
    expect(disagreements.every((d) => d.member === liarId)).toBe(true)
  })
})
