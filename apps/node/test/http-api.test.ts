/**
 * The fastify REST API (src/http) against a real node on 127.0.0.1: every route's happy path,
 * bad input (malformed JSON, wrong types: 400 with a typed body), the token (401), the content
 * type (415), foreign Host and Origin (403), unknown jobs (404), rate limits (429), the OpenAPI
 * document and the docs page.
 */
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createModel, decodeModel, encodeModel, exportOnnx, mlp, openRoundMessage } from '@vain/fl'
import { parseResourceLimits } from '@vain/resources'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadApiToken } from '../src/api.js'
import { ExternalUpdates, updateSigningBytes, withExternalUpdates } from '../src/http/external-updates.js'
import { type ApiServer, startApiServer } from '../src/http/server.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

/** A raw HTTP request (fetch will not send an arbitrary Host header). */
function raw(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d
      })
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.once('error', reject)
    req.end(options.body)
  })
}

const jobSpec = (initialModel: string, name = 'http-test') => ({
  name,
  architecture: mlp(784, [8], 10),
  initialModel,
  dataset: { name: 'mnist' },
  strategy: { name: 'fedavg' },
  aggregator: { name: 'mean' },
  codec: { name: 'fp32' },
  rounds: 3,
  roundDeadlineMs: 600_000,
  minUpdates: 1,
  committeeSize: 1,
  local: { epochs: 1, batchSize: 32, lr: 0.05 },
  maxUpdateBytes: 16 * 1024 * 1024,
})

type ErrorBody = { error: { name: string; message: string } }

/** Every state-changing route with a valid body. */
const POSTS: Array<[string, unknown]> = [
  ['/api/staking/stake', { amount: '10' }],
  ['/api/training/control', { action: 'pause', jobId: 'a'.repeat(64) }],
  ['/api/node/resources', { maxCpu: 0.5 }],
  ['/api/model/update', {}],
  ['/api/node/peer-exchange', {}],
  ['/api/jobs', {}],
]

describe('REST API (fastify, zod, OpenAPI) on a real node', () => {
  let dir: string
  let node: RunningNode
  let api: ApiServer
  let base: string
  let token: string
  let limits = parseResourceLimits({})
  const trainer = generateKeyPairSync('ed25519')
  const trainerKey = Buffer.from(trainer.publicKey.export({ format: 'der', type: 'spki' }))
    .subarray(12)
    .toString('hex')
  const queue = new ExternalUpdates()
  const staked: string[] = []
  const authed = (t = token) => ({ 'content-type': 'application/json', authorization: `Bearer ${t}` })
  const post = (path: string, body: unknown, headers: Record<string, string> = authed()) =>
    fetch(`${base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const errorOf = async (res: Response) => ((await res.json()) as ErrorBody).error
  // without a chain a job names its committee (the node refuses one that does not: NoCommittee)
  const ownJob = (initialModel: string, name?: string) => ({
    ...jobSpec(initialModel, name),
    participants: { aggregators: [node.node.peerId.toString()] },
  })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-http-'))
    const log = createLogger({ level: 'error', json: false })
    node = await startVainNode(
      {
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        logLevel: 'error',
        json: false,
      },
      log,
    )
    token = await loadApiToken(dir)
    api = await startApiServer({
      node: node.node,
      participant: node.participant,
      models: node.models,
      token,
      log,
      port: 0,
      metrics: { text: () => node.metrics.metrics.text(), cluster: () => node.metrics.cluster() },
      resources: {
        limits: () => limits,
        setLimits: (l) => {
          limits = parseResourceLimits(l)
          return limits
        },
      },
      staking: {
        stake: async (amount) => {
          staked.push(amount)
          return { action: 'stake', amount }
        },
      },
      externalUpdates: { queue, trainerKeys: async () => [trainerKey] },
    })
    base = api.url
  })
  afterAll(async () => {
    await api?.close()
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('serves an OpenAPI document with every seed endpoint, and a docs page from the node itself', async () => {
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as {
      openapi: string
      paths: Record<string, object>
    }
    expect(doc.openapi).toMatch(/^3\./)
    for (const path of [
      '/api/staking/stake',
      '/api/training/status',
      '/api/training/control',
      '/api/node/health',
      '/api/node/resources',
      '/api/model/update',
      '/api/metrics/cluster',
      '/api/node/peer-exchange',
      '/api/metrics/system',
      '/api/metrics/network',
      '/api/metrics/training',
      '/api/jobs',
      '/api/jobs/{jobId}',
      '/api/models',
      '/api/models/{address}',
      '/api/peers',
      '/api/status',
      '/metrics',
    ]) {
      expect(doc.paths[path], path).toBeDefined()
    }
    expect(doc.paths['/status']).toBeUndefined() // the legacy copies are not documented
    expect(doc.paths['/api/training/control']).toMatchObject({ post: { security: [{ bearer: [] }] } })
    expect(doc.paths['/api/status']).not.toHaveProperty('get.security')
    const control = JSON.stringify(doc.paths['/api/training/control'])
    expect(control).toMatch(/pause/)
    const docs = await fetch(`${base}/docs/`)
    expect(docs.status).toBe(200)
    const html = await docs.text()
    expect(html).toMatch(/swagger/i)
    expect(html).not.toMatch(/(src|href)="https?:/)
  })

  it('reads status, peers, health and metrics', async () => {
    const status = (await (await fetch(`${base}/api/status`)).json()) as { peerId: string }
    expect(status.peerId).toBe(node.node.peerId.toString())
    expect(await (await fetch(`${base}/api/peers`)).json()).toEqual([])
    const health = (await (await fetch(`${base}/api/node/health`)).json()) as { ok: boolean; connectedPeers: number }
    expect(health.ok).toBe(true)
    expect(health.connectedPeers).toBe(0)
    const system = (await (await fetch(`${base}/api/metrics/system`)).json()) as { host: { cpus: number } }
    expect(system.host.cpus).toBeGreaterThan(0)
    const network = (await (await fetch(`${base}/api/metrics/network`)).json()) as { health: object }
    expect(network.health).toHaveProperty('rateLimitedRequests')
    expect(await (await fetch(`${base}/api/metrics/training`)).json()).toHaveProperty('jobs')
    expect((await fetch(`${base}/api/metrics/cluster`)).status).toBe(200)
    const prom = await fetch(`${base}/metrics`)
    expect(prom.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await prom.text()).toMatch(/^# HELP /m)
  })

  it('uploads an ONNX model and answers its content id; the model reads back', async () => {
    const model = createModel(mlp(784, [8], 10), { seed: 5 })
    const res = await fetch(`${base}/api/models`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: exportOnnx(model),
    })
    expect(res.status, await res.clone().text()).toBe(201)
    const { address, params } = (await res.json()) as { address: string; params: number }
    expect(address).toMatch(/^bafy/)
    expect(params).toBe(model.params.length)
    const back = new Uint8Array(await (await fetch(`${base}/api/models/${address}`)).arrayBuffer())
    expect(decodeModel(back).params).toEqual(model.params)
    const junk = await fetch(`${base}/api/models`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array([1, 2, 3]),
    })
    expect(junk.status).toBe(400)
    expect((await errorOf(junk)).name).toBe('InvalidModelError')
    // JSON to the upload route: 415
    expect((await post('/api/models', {})).status).toBe(415)
    expect((await fetch(`${base}/api/models/not-a-cid`)).status).toBe(400)
  })

  it('starts, pauses, resumes, stops and cancels jobs through /api/training/control', async () => {
    const initialModel = await node.models.put(encodeModel(createModel(mlp(784, [8], 10), { seed: 1 })))
    const start = await post('/api/training/control', { action: 'start', spec: ownJob(initialModel) })
    expect(start.status, await start.clone().text()).toBe(201)
    const { jobId } = (await start.json()) as { jobId: string }
    expect(node.participant.jobIds()).toContain(jobId)
    const training = (await (await fetch(`${base}/api/training/status`)).json()) as {
      jobs: Array<{ jobId: string; state: string; name: string }>
    }
    expect(training.jobs.find((j) => j.jobId === jobId)).toMatchObject({ state: 'running', name: 'http-test' })

    const pause = await post('/api/training/control', { action: 'pause', jobId })
    expect(await pause.json()).toEqual({ jobId, action: 'pause', state: 'paused' })
    expect(node.participant.jobIds()).not.toContain(jobId)
    expect(((await (await fetch(`${base}/api/jobs/${jobId}`)).json()) as { paused: boolean }).paused).toBe(true)
    const resume = await post('/api/training/control', { action: 'resume', jobId })
    expect(await resume.json()).toEqual({ jobId, action: 'resume', state: 'running' })
    expect(node.participant.jobIds()).toContain(jobId)
    const stop = await post('/api/training/control', { action: 'stop', jobId })
    expect(await stop.json()).toEqual({ jobId, action: 'stop', state: 'cancelled' })
    // the ended job: /api/jobs/:id tells how it ended; the earlier /jobs/:id answers for running jobs only
    expect(((await (await fetch(`${base}/api/jobs/${jobId}`)).json()) as { ended: string }).ended).toBe('cancelled')
    expect((await fetch(`${base}/jobs/${jobId}`)).status).toBe(404)
    const again = await post('/api/training/control', { action: 'resume', jobId })
    expect(again.status).toBe(409)
    expect((await errorOf(again)).name).toBe('JobEnded')

    const second = (await (await post('/api/jobs', ownJob(initialModel, 'second'))).json()) as { jobId: string }
    const cancel = await post('/api/training/control', { action: 'cancel', jobId: second.jobId })
    expect(await cancel.json()).toEqual({ jobId: second.jobId, action: 'cancel', state: 'cancelled' })

    for (const action of ['pause', 'resume', 'stop', 'cancel']) {
      const unknown = await post('/api/training/control', { action, jobId: 'e'.repeat(64) })
      expect(unknown.status, action).toBe(404)
      expect((await errorOf(unknown)).name).toBe('JobNotFound')
    }
    expect((await fetch(`${base}/api/jobs/${'e'.repeat(64)}`)).status).toBe(404)
    const badSpec = await post('/api/training/control', { action: 'start', spec: { name: '' } })
    expect(badSpec.status).toBe(400)
    expect(await errorOf(badSpec)).toMatchObject({ name: 'InvalidJob', message: expect.stringMatching(/initialModel/) })
  })

  it('takes an external trainer’s signed update for a running job’s round, and the learner sends it', async () => {
    const arch = mlp(784, [8], 10)
    const initialModel = await node.models.put(encodeModel(createModel(arch, { seed: 2 })))
    const { jobId } = (await (await post('/api/jobs', ownJob(initialModel, 'external'))).json()) as { jobId: string }
    const trained = createModel(arch, { seed: 9 })
    const model = await node.models.put(encodeModel(trained))
    const fields = { jobId, round: 0, model, numSamples: 100 }
    const signature = sign(null, updateSigningBytes(fields), trainer.privateKey).toString('hex')
    const ok = await post('/api/model/update', { ...fields, publicKey: trainerKey, signature })
    expect(ok.status, await ok.clone().text()).toBe(202)
    expect(await ok.json()).toEqual({ accepted: true, jobId, round: 0, trainer: trainerKey })
    expect(queue.get(jobId)?.model).toBe(model)

    const forged = await post('/api/model/update', {
      ...fields,
      numSamples: 1_000_000,
      publicKey: trainerKey,
      signature,
    })
    expect(forged.status).toBe(403)
    expect((await errorOf(forged)).name).toBe('InvalidSignature')
    const stranger = generateKeyPairSync('ed25519')
    const strangerKey = Buffer.from(stranger.publicKey.export({ format: 'der', type: 'spki' }))
      .subarray(12)
      .toString('hex')
    const other = await post('/api/model/update', {
      ...fields,
      publicKey: strangerKey,
      signature: sign(null, updateSigningBytes(fields), stranger.privateKey).toString('hex'),
    })
    expect(other.status).toBe(403)
    expect((await errorOf(other)).name).toBe('UnknownTrainerKey')
    const unknownJob = { ...fields, jobId: 'e'.repeat(64) }
    const missing = await post('/api/model/update', {
      ...unknownJob,
      publicKey: trainerKey,
      signature: sign(null, updateSigningBytes(unknownJob), trainer.privateKey).toString('hex'),
    })
    expect(missing.status).toBe(404)
    const small = { ...fields, model: await node.models.put(encodeModel(createModel(mlp(784, [4], 10), { seed: 1 }))) }
    const mismatch = await post('/api/model/update', {
      ...small,
      publicKey: trainerKey,
      signature: sign(null, updateSigningBytes(small), trainer.privateKey).toString('hex'),
    })
    expect(mismatch.status).toBe(400)
    expect((await errorOf(mismatch)).name).toBe('ModelMismatch')
    const bad = await post('/api/model/update', { ...fields, round: -1, publicKey: 'zz', signature })
    expect(bad.status).toBe(400)
    const e = await errorOf(bad)
    expect(e.name).toBe('InvalidModelUpdate')
    expect(e.message).toMatch(/round/)
    expect(e.message).toMatch(/publicKey/)

    // the learner that the node trains with sends the queued update instead of training
    const spec = openRoundMessage('job', node.participant.status(jobId)?.announcement).spec
    let trainedLocally = false
    const learner = withExternalUpdates(
      {
        supports: () => true,
        train: async () => {
          trainedLocally = true
          return { params: new Float32Array(0), numSamples: 0 }
        },
      },
      queue,
      async (address) => decodeModel(await node.models.get(address)),
    )
    const out = await learner.train(spec, createModel(arch), 0)
    expect(trainedLocally).toBe(false)
    expect(out.numSamples).toBe(100)
    expect(out.params).toEqual(trained.params)
    await learner.train(spec, createModel(arch), 0) // taken once: now it trains
    expect(trainedLocally).toBe(true)
    await node.participant.cancelJob(jobId)
  })

  it('sets resource limits (@vain/resources), and refuses invalid ones with 400', async () => {
    const res = await post('/api/node/resources', { maxCpu: 0.5, maxMemory: '1GiB', onBattery: 'pause' })
    expect(res.status, await res.clone().text()).toBe(200)
    expect(((await res.json()) as { limits: { maxCpu: number } }).limits.maxCpu).toBe(0.5)
    expect(limits.onBattery).toBe('pause')
    for (const body of [{ maxCpu: 2 }, { maxCpu: 'half' }, { resumeCpu: 0.9, busyCpu: 0.5 }, { nope: 1 }, []]) {
      const bad = await post('/api/node/resources', body)
      expect(bad.status, JSON.stringify(body)).toBe(400)
      expect((await errorOf(bad)).name).toBe('InvalidResourceLimits')
    }
  })

  it('stakes through the node’s chain part; refuses a bad amount', async () => {
    const res = await post('/api/staking/stake', { amount: '12.5' })
    expect(res.status).toBe(200)
    expect(staked).toEqual(['12.5'])
    for (const amount of ['-1', 'ten', 10, '0']) {
      const bad = await post('/api/staking/stake', { amount })
      expect(bad.status, String(amount)).toBe(400)
      expect((await errorOf(bad)).name).toBe('InvalidStake')
    }
  })

  it('runs a peer exchange (with no peers: none), refuses an unknown or malformed peer', async () => {
    const res = await post('/api/node/peer-exchange', {})
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ exchanges: [] })
    const unknown = await post('/api/node/peer-exchange', { peerId: node.node.peerId.toString() })
    expect(unknown.status).toBe(404)
    expect((await errorOf(unknown)).name).toBe('PeerNotFound')
    const bad = await post('/api/node/peer-exchange', { peerId: 'not-a-peer' })
    expect(bad.status).toBe(400)
    expect((await post('/api/node/peer-exchange', { peerId: 42 })).status).toBe(400)
  })

  it('runs a peer exchange with a real authenticated peer', async () => {
    const dirB = await mkdtemp(join(tmpdir(), 'vain-http-b-'))
    const b = await startVainNode(
      {
        dataDir: dirB,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: node.node.multiaddrs.map(String),
        profile: 'loopback',
        roles: ['validator'],
        apiPort: null,
        logLevel: 'error',
        json: false,
      },
      createLogger({ level: 'error', json: false }),
    )
    try {
      const peerB = b.node.peerId
      await expect
        .poll(() => node.node.authenticatedPeers().some((p) => p.equals(peerB)), { timeout: 60_000, interval: 200 })
        .toBe(true)
      const peers = (await (await fetch(`${base}/api/peers`)).json()) as Array<{
        peerId: string
        authenticated: boolean
      }>
      expect(peers).toContainEqual(expect.objectContaining({ peerId: peerB.toString(), authenticated: true }))
      const res = await post('/api/node/peer-exchange', { peerId: peerB.toString() })
      expect(res.status, await res.clone().text()).toBe(200)
      const { exchanges } = (await res.json()) as {
        exchanges: Array<{ peerId: string; received?: number; error?: unknown }>
      }
      expect(exchanges).toHaveLength(1)
      expect(exchanges[0]?.peerId).toBe(peerB.toString())
      expect(exchanges[0]?.error).toBeUndefined()
      expect(typeof exchanges[0]?.received).toBe('number')
      const health = (await (await fetch(`${base}/api/node/health`)).json()) as { authenticatedPeers: number }
      expect(health.authenticatedPeers).toBeGreaterThanOrEqual(1)
    } finally {
      await b.stop()
      await rm(dirB, { recursive: true, force: true })
    }
  })

  it('every state-changing route: 401 without the token or with a wrong one, 415 for another content type', async () => {
    for (const [path, body] of POSTS) {
      const none = await post(path, body, { 'content-type': 'application/json' })
      expect(none.status, path).toBe(401)
      expect(await errorOf(none)).toMatchObject({ name: 'TokenRequired' })
      const wrong = await post(path, body, authed('0'.repeat(64)))
      expect(wrong.status, path).toBe(401)
      expect((await errorOf(wrong)).name).toBe('InvalidToken')
      const text = await post(path, body, { ...authed(), 'content-type': 'text/plain' })
      expect(text.status, path).toBe(415)
      expect((await errorOf(text)).name).toBe('UnsupportedMediaType')
      const malformed = await post(path, '{"amount":', authed())
      expect(malformed.status, path).toBe(400)
      expect(await errorOf(malformed)).toEqual({ name: 'InvalidJson', message: 'the body is not valid JSON' })
      const deep = await post(path, `${'['.repeat(10_000)}${']'.repeat(10_000)}`, authed())
      expect((await errorOf(deep)).name, path).toBe('TooDeep')
      const wrongType = await post(path, [1, 2], authed())
      expect(wrongType.status, path).toBe(400)
      const w = await errorOf(wrongType)
      expect(w.name, path).toMatch(/^Invalid/)
      expect(JSON.stringify(w)).not.toMatch(/at .*\.ts:\d+/) // never a stack trace
    }
    expect(staked).toEqual(['12.5'])
  })

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with 403, on GET too', async () => {
    const port = new URL(base).port
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, '127.0.0.1:1']) {
      const r = await raw(`${base}/api/status`, { headers: { host } })
      expect(r.status, host).toBe(403)
      expect((JSON.parse(r.body) as ErrorBody).error.name).toBe('ForbiddenHost')
    }
    for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'null', `https://127.0.0.1:${port}`]) {
      const r = await raw(`${base}/api/training/control`, {
        method: 'POST',
        headers: { ...authed(), origin },
        body: JSON.stringify({ action: 'pause', jobId: 'e'.repeat(64) }),
      })
      expect(r.status, origin).toBe(403)
      expect((JSON.parse(r.body) as ErrorBody).error.name).toBe('ForbiddenOrigin')
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await raw(`${base}/api/status`, { headers: { host } })).status, host).toBe(200)
    }
    expect((await raw(`${base}/api/status`, { headers: { origin: base } })).status).toBe(200)
  })

  it('answers an unknown route with a typed 404, and legacy routes with their old error body', async () => {
    const res = await fetch(`${base}/api/nope`)
    expect(res.status).toBe(404)
    expect((await errorOf(res)).name).toBe('NotFound')
    const legacy = await fetch(`${base}/jobs/${'e'.repeat(64)}`)
    expect(legacy.status).toBe(404)
    expect(await legacy.json()).toMatchObject({ error: 'JobNotFound' })
  })

  it('answers 501 with a typed body for a part the node does not have; rate-limits with 429', async () => {
    const bare = await startApiServer({
      node: node.node,
      participant: node.participant,
      models: node.models,
      token,
      log: createLogger({ level: 'error', json: false }),
      port: 0,
      rateLimit: { max: 8, timeWindowMs: 60_000 },
      allowedHosts: ['vain.local'],
    })
    try {
      const port = new URL(bare.url).port
      expect((await raw(`${bare.url}/api/status`, { headers: { host: `vain.local:${port}` } })).status).toBe(200)
      expect((await raw(`${bare.url}/api/status`, { headers: { host: `other.local:${port}` } })).status).toBe(403)
      const p = (path: string, body: unknown) =>
        fetch(`${bare.url}${path}`, { method: 'POST', headers: authed(), body: JSON.stringify(body) })
      const res = await p('/api/node/resources', { maxCpu: 0.5 })
      expect(res.status).toBe(501)
      expect((await errorOf(res)).name).toBe('ResourcesNotAvailable')
      expect((await errorOf(await p('/api/staking/stake', { amount: '1' }))).name).toBe('NoChain')
      const fixed = await startApiServer({
        node: node.node,
        participant: node.participant,
        models: node.models,
        token,
        log: createLogger({ level: 'error', json: false }),
        port: 0,
        resources: { limits: () => limits },
      })
      const r = await fetch(`${fixed.url}/api/node/resources`, {
        method: 'POST',
        headers: authed(),
        body: '{"maxCpu":0.5}',
      })
      await fixed.close()
      expect(r.status).toBe(501)
      expect((await errorOf(r)).name).toBe('ResourceLimitsFixed')
      expect(
        (
          await errorOf(
            await p('/api/model/update', {
              jobId: 'e'.repeat(64),
              round: 0,
              model: 'x',
              numSamples: 1,
              publicKey: 'a'.repeat(64),
              signature: 'b'.repeat(128),
            }),
          )
        ).name,
      ).toBe('ExternalUpdatesOff')
      let limited: Response | undefined
      for (let i = 0; i < 10 && limited === undefined; i++) {
        const r = await fetch(`${bare.url}/api/status`)
        if (r.status === 429) limited = r
        else await r.body?.cancel()
      }
      expect(limited?.status).toBe(429)
      expect((await errorOf(limited as Response)).name).toBe('RateLimited')
    } finally {
      await bare.close()
    }
  })
})
