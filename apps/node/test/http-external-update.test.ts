/**
 * `POST /api/model/update` end to end: a node that trains (its MNIST shard) takes an external
 * trainer's signed update for round 1 of a job and sends it in place of its own training; the
 * round's model is then the external trainer's.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createModel, decodeModel, encodeModel, mlp } from '@vain/fl'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TRAINER_KEYS_FILE, updateSigningBytes } from '../src/http/external-updates.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

describe('an external trainer’s update goes into a real round', () => {
  let dir: string
  let node: RunningNode
  const trainer = generateKeyPairSync('ed25519')
  const trainerKey = Buffer.from(trainer.publicKey.export({ format: 'der', type: 'spki' }))
    .subarray(12)
    .toString('hex')
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-external-'))
    await writeFile(join(dir, TRAINER_KEYS_FILE), `# the lab's trainer\n${trainerKey}\n`)
    node = await startVainNode(
      {
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['trainer', 'aggregator'],
        apiPort: 0,
        data: { dataset: 'mnist', shard: 0, shards: 20, alpha: 1, seed: 1 },
        jobs: { accept: 'any' },
        logLevel: 'error',
        json: false,
      },
      createLogger({ level: 'error', json: false }),
    )
  }, 120_000)
  afterAll(async () => {
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('round 1’s model is the external trainer’s', async () => {
    const token = (await readFile(join(dir, 'api-token'), 'utf8')).trim()
    const base = node.api?.url as string
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
    const arch = mlp(784, [8], 10)
    const initialModel = await node.models.put(encodeModel(createModel(arch, { seed: 1 })))
    const submitted = await fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'external',
        architecture: arch,
        initialModel,
        dataset: { name: 'mnist' },
        strategy: { name: 'fedavg' },
        aggregator: { name: 'mean' },
        codec: { name: 'fp32' },
        rounds: 2,
        roundDeadlineMs: 240_000,
        minUpdates: 1,
        committeeSize: 1,
        local: { epochs: 1, batchSize: 32, lr: 0.05 },
        maxUpdateBytes: 16 * 1024 * 1024,
        participants: { aggregators: [node.node.peerId.toString()], trainers: [node.node.peerId.toString()] },
      }),
    })
    expect(submitted.status, await submitted.clone().text()).toBe(201)
    const { jobId } = (await submitted.json()) as { jobId: string }
    const external = createModel(arch, { seed: 42 })
    const model = await node.models.put(encodeModel(external))
    const fields = { jobId, round: 1, model, numSamples: 500 }
    const res = await fetch(`${base}/api/model/update`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        ...fields,
        publicKey: trainerKey,
        signature: sign(null, updateSigningBytes(fields), trainer.privateKey).toString('hex'),
      }),
    })
    expect(res.status, await res.clone().text()).toBe(202)
    const done = await node.participant.waitForJob(jobId)
    expect(done?.ended).toBe('completed')
    const [first, second] = done?.history ?? []
    expect(second?.contributions).toBe(1)
    const round1 = decodeModel(await node.models.get(second?.model as string)).params
    let maxDiff = 0
    for (let i = 0; i < round1.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs((round1[i] as number) - (external.params[i] as number)))
    expect(maxDiff).toBeLessThan(1e-4)
    // round 0 was trained on the node's own data: not the external model
    const round0 = decodeModel(await node.models.get(first?.model as string)).params
    expect(
      Math.abs((round0[0] as number) - (external.params[0] as number)) +
        Math.abs((round0[1] as number) - (external.params[1] as number)),
    ).toBeGreaterThan(0)
  }, 300_000)
})
