/**
 * The round protocol over real libp2p nodes on 127.0.0.1 (several vAIn nodes in this process,
 * each with its own data dir, identity and MNIST shard): faults and bad input.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { createModel, encodeModel, type JobSpecInput, mlp, signRoundMessage } from '@vain/fl'
import { UPDATE_PROTOCOL } from '@vain/fl/vain-net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const log = createLogger({ level: 'error', json: false })
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')
const N = 4

async function waitFor(check: () => boolean | Promise<boolean>, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${label}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('round protocol over libp2p: faults', () => {
  let root: string
  const nodes: Array<RunningNode | undefined> = []
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
    root = await mkdtemp(join(tmpdir(), 'vain-net-'))
    nodes[0] = await startVainNode(config(0, []), log)
    const boot = [String(nodes[0].node.multiaddrs[0])]
    for (let i = 1; i < N; i++) nodes[i] = await startVainNode(config(i, boot), log)
    observer = await startVainNode(
      { ...config(99, boot), roles: ['validator'], data: undefined, dataDir: join(root, 'obs') },
      log,
    )
    await waitFor(() => observer.node.authenticatedPeers().length >= N, 30_000, 'observer meets all nodes')
    await waitFor(() => nodes.every((n) => (n?.node.authenticatedPeers().length ?? 0) >= N - 1), 30_000, 'mesh')
    await new Promise((r) => setTimeout(r, 2000))
  })
  afterAll(async () => {
    await Promise.allSettled([observer?.stop(), ...nodes.map((n) => n?.stop())])
    await rm(root, { recursive: true, force: true })
  })

  async function job(rounds: number, deadline = 4_000): Promise<string> {
    const arch = mlp(784, [32], 10)
    const initialModel = await observer.models.put(encodeModel(createModel(arch, { seed: 2 })))
    const ids = nodes.map((n) => n?.node.peerId.toString() as string)
    const spec: JobSpecInput = {
      name: 'faults',
      architecture: arch,
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'int8' },
      rounds,
      roundDeadlineMs: deadline,
      minUpdates: 2,
      committeeSize: 3,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 4 * 1024 * 1024,
      participants: { aggregators: ids },
    }
    return (await observer.participant.submitJob(spec)).jobId
  }

  it('a forged update sent over the network is refused with a typed error; the node keeps working', async () => {
    const jobId = await job(1)
    await waitFor(() => nodes.every((n) => n?.participant.jobIds().includes(jobId) === true), 20_000, 'all joined')
    const target = nodes[1] as RunningNode
    const payload = new Uint8Array(64)
    const fields = {
      v: 1 as const,
      jobId,
      round: 0,
      baseModel: (target.participant.status(jobId)?.model ?? '') as string,
      trainer: nodes[2]?.node.peerId.toString() as string, // claims to be another node
      numSamples: 100,
      payloadHash: sha256(payload),
      payloadBytes: payload.byteLength,
    }
    // signed by the observer, not by the trainer it names
    const header = await signRoundMessage('update', fields, (d) => observer.node.sign(d))
    const err = await observer.node
      .sendPayload(target.node.peerId, UPDATE_PROTOCOL, header.envelope, payload)
      .catch((e: unknown) => e)
    expect((err as { remoteName?: string }).remoteName).toBe('ForgedMessageError')
    const s = await observer.participant.waitForJob(jobId)
    expect(s?.finished).toBe(true)
  })

  it('an update claiming more samples than the job allows is refused on its header; the round goes on without it', async () => {
    const jobId = await job(1)
    await waitFor(() => nodes.every((n) => n?.participant.jobIds().includes(jobId) === true), 20_000, 'all joined')
    const payload = new Uint8Array(64)
    const observerId = observer.node.peerId.toString()
    // properly signed by its own trainer, but claiming a billion samples (its weight and reward)
    const header = await signRoundMessage(
      'update',
      {
        v: 1,
        jobId,
        round: 0,
        baseModel: nodes[1]?.participant.status(jobId)?.model as string,
        trainer: observerId,
        numSamples: 1_000_000_000,
        payloadHash: sha256(payload),
        payloadBytes: payload.byteLength,
      },
      (d) => observer.node.sign(d),
    )
    for (const target of nodes) {
      const err = await observer.node
        .sendPayload((target as RunningNode).node.peerId, UPDATE_PROTOCOL, header.envelope, payload)
        .catch((e: unknown) => e)
      expect((err as { remoteName?: string }).remoteName).toBe('RejectedUpdateError')
      expect((err as Error).message).toContain('1000000000 samples')
    }
    const completed: string[][] = []
    observer.participant.addEventListener('round:completed', (e) => {
      if (e.detail.jobId === jobId) completed.push(e.detail.contributions.map((c) => c.trainer))
    })
    const s = await observer.participant.waitForJob(jobId)
    expect(s?.finished).toBe(true)
    for (const trainers of completed) expect(trainers).not.toContain(observerId)
    // a node with data evaluates each round's model on its own samples: vain_accuracy in /metrics
    const trainerNode = nodes[1] as RunningNode
    await expect
      .poll(async () => /^vain_accuracy\{job="\w+"\} 0\.\d+/m.test(await trainerNode.metrics.metrics.text()), {
        timeout: 60_000,
        interval: 200,
      })
      .toBe(true)
  })

  it('an aggregator stopped mid-job does not stop the rounds; a restarted trainer rejoins from its persisted state', async () => {
    const jobId = await job(4, 3_000)
    const completed: number[] = []
    observer.participant.addEventListener('round:completed', (e) => {
      if (e.detail.jobId === jobId) completed.push(e.detail.round)
    })
    await waitFor(() => completed.length >= 1, 60_000, 'first round')
    // stop a node that will be needed as aggregator or trainer; it comes back with the same data dir
    const victim = nodes[3] as RunningNode
    const victimId = victim.node.peerId.toString()
    await victim.stop()
    nodes[3] = undefined
    await waitFor(() => completed.length >= 2, 90_000, 'a round completes without it')
    nodes[3] = await startVainNode(config(3, [String(nodes[0]?.node.multiaddrs[0])]), log)
    expect(nodes[3].node.peerId.toString()).toBe(victimId) // same identity from its data dir
    expect(nodes[3].participant.jobIds()).toContain(jobId) // resumed from persisted state
    const [done, rejoined] = await Promise.all([
      observer.participant.waitForJob(jobId),
      nodes[3].participant.waitForJob(jobId),
    ])
    expect(done?.finished).toBe(true)
    expect(rejoined?.finished).toBe(true)
    expect(rejoined?.model).toBe(done?.model)
    void peerIdFromString
  })
})
