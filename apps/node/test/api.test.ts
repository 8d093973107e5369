import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createModel, decodeModel, encodeModel, importOnnx, mlp } from '@vain/fl'
import { manifestCid } from '@vain/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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

const jobSpec = (initialModel: string) => ({
  name: 'api-test',
  architecture: mlp(784, [8], 10),
  initialModel,
  dataset: { name: 'mnist' },
  strategy: { name: 'fedavg' },
  aggregator: { name: 'mean' },
  codec: { name: 'fp32' },
  rounds: 1,
  roundDeadlineMs: 60_000,
  minUpdates: 1,
  committeeSize: 1,
  local: { epochs: 1, batchSize: 32, lr: 0.05 },
  maxUpdateBytes: 16 * 1024 * 1024,
})

describe('REST API', () => {
  let dir: string
  let node: RunningNode
  let base: string
  let token: string
  const authed = (t = token) => ({ 'content-type': 'application/json', authorization: `Bearer ${t}` })
  // without a chain a job names its committee (the node refuses one that does not: NoCommittee)
  const ownJob = (initialModel: string) => ({
    ...jobSpec(initialModel),
    participants: { aggregators: [node.node.peerId.toString()] },
  })
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-api-'))
    node = await startVainNode(
      {
        dataDir: dir,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: 0,
        logLevel: 'error',
        json: false,
      },
      createLogger({ level: 'error', json: false }),
    )
    base = node.api?.url as string
    token = (await readFile(join(dir, 'api-token'), 'utf8')).trim()
  })
  afterAll(async () => {
    await node.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('reports status and peers', async () => {
    const status = (await (await fetch(`${base}/status`)).json()) as { peerId: string; roles: string[] }
    expect(status.peerId).toBe(node.node.peerId.toString())
    expect(status.roles).toEqual(['validator'])
    expect(await (await fetch(`${base}/peers`)).json()).toEqual([])
  })

  it('rejects an invalid job body with 400 and every problem, and bad JSON with 400', async () => {
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: authed(),
      body: JSON.stringify({ name: '', rounds: 0 }),
    })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('InvalidJob')
    expect(body.message).toMatch(/rounds/)
    expect(body.message).toMatch(/initialModel/)
    const bad = await fetch(`${base}/jobs`, { method: 'POST', headers: authed(), body: '{"name":' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toBe('InvalidJson')
  })

  it('refuses a body nested 100,000 deep (within 1 MiB) with 400 TooDeep, and keeps answering', async () => {
    for (const body of [
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      JSON.stringify({ name: 'x', dataset: { name: 'mnist', options: [] } }).replace(
        '[]',
        `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      ),
    ]) {
      const res = await fetch(`${base}/jobs`, { method: 'POST', headers: authed(), body })
      expect(res.status).toBe(400)
      const answer = (await res.json()) as { error: string; message: string }
      expect(answer.error).toBe('TooDeep')
      expect(answer.message).toMatch('deeper than 64 levels')
    }
    expect((await fetch(`${base}/status`)).status).toBe(200)
  })

  it('serves a stored model, and exports it as ONNX that imports back to the same weights', async () => {
    const model = createModel(mlp(784, [16], 10), { seed: 3 })
    const cid = await node.models.put(encodeModel(model))
    expect(cid).toMatch(/^bafy/)
    const raw = new Uint8Array(await (await fetch(`${base}/models/${cid}`)).arrayBuffer())
    expect(decodeModel(raw).params).toEqual(model.params)
    const onnx = new Uint8Array(await (await fetch(`${base}/models/${cid}/onnx`)).arrayBuffer())
    expect(importOnnx(onnx).params).toEqual(model.params)
    expect((await fetch(`${base}/models/not-a-cid`)).status).toBe(400)
    // a sha2-256 hex (the old model address) is not a content id
    expect((await fetch(`${base}/models/${'0'.repeat(64)}`)).status).toBe(400)
    // a content id no node has
    const missing = manifestCid(new TextEncoder().encode('no such model')).toString()
    expect((await fetch(`${base}/models/${missing}`)).status).toBe(404)
    expect((await fetch(`${base}/nope`)).status).toBe(404)
  })
  it('serves the same routes under /api with typed errors, and its OpenAPI document', async () => {
    const status = (await (await fetch(`${base}/api/status`)).json()) as { peerId: string }
    expect(status.peerId).toBe(node.node.peerId.toString())
    const missing = await fetch(`${base}/api/jobs/${'e'.repeat(64)}`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({
      error: { name: 'JobNotFound', message: `no job ${'e'.repeat(64)} on this node` },
    })
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> }
    expect(Object.keys(doc.paths)).toContain('/api/training/control')
  })

  it('creates a random API token in <dataDir>/api-token, mode 0600', async () => {
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(join(dir, 'api-token'))).mode & 0o777).toBe(0o600)
  })

  it('refuses a Host that is not loopback (DNS rebinding) with 403, on GET too', async () => {
    const port = new URL(base).port
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`, '127.0.0.1:1']) {
      const r = await raw(`${base}/status`, { headers: { host } })
      expect(r.status, host).toBe(403)
      expect((JSON.parse(r.body) as { error: string }).error).toBe('ForbiddenHost')
    }
    const post = await raw(`${base}/jobs`, {
      method: 'POST',
      headers: { ...authed(), host: 'evil.example' },
      body: '{}',
    })
    expect(post.status).toBe(403)
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      expect((await raw(`${base}/status`, { headers: { host } })).status, host).toBe(200)
    }
  })

  it('refuses a state-changing request without the token, or with a wrong one, with 401', async () => {
    const spec = JSON.stringify({ name: 'x' })
    const none = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: spec,
    })
    expect(none.status).toBe(401)
    expect(((await none.json()) as { error: string }).error).toBe('TokenRequired')
    for (const wrong of ['0'.repeat(64), token.slice(0, -1), `${token}0`, '']) {
      const res = await fetch(`${base}/jobs`, { method: 'POST', headers: authed(wrong), body: spec })
      expect(res.status, wrong).toBe(401)
      await res.body?.cancel()
    }
    // a cross-site "simple" request (text/plain, no token) submits nothing
    const simple = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: spec,
    })
    expect(simple.status).toBe(401)
    expect(node.participant.jobIds()).toEqual([])
  })

  it('refuses a body that is not application/json with 415, even with the token', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await fetch(`${base}/jobs`, {
        method: 'POST',
        headers: { ...authed(), 'content-type': type },
        body: JSON.stringify({ name: 'x' }),
      })
      expect(res.status, type).toBe(415)
      expect(((await res.json()) as { error: string }).error).toBe('UnsupportedMediaType')
    }
  })

  it('takes a job with the token and application/json', async () => {
    const model = createModel(mlp(784, [8], 10), { seed: 1 })
    const initialModel = await node.models.put(encodeModel(model))
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: { ...authed(), 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(ownJob(initialModel)),
    })
    expect(res.status, await res.clone().text()).toBe(201)
    const { jobId } = (await res.json()) as { jobId: string }
    expect(node.participant.jobIds()).toContain(jobId)
    expect((await fetch(`${base}/jobs/${jobId}`)).status).toBe(200)
  })

  it('cancels a job with DELETE /jobs/:id and the token: it stops here and is reported cancelled', async () => {
    const model = createModel(mlp(784, [8], 10), { seed: 2 })
    const initialModel = await node.models.put(encodeModel(model))
    const res = await fetch(`${base}/jobs`, {
      method: 'POST',
      headers: authed(),
      body: JSON.stringify({ ...ownJob(initialModel), name: 'to-cancel' }),
    })
    const { jobId } = (await res.json()) as { jobId: string }
    expect((await fetch(`${base}/jobs/${jobId}`, { method: 'DELETE' })).status).toBe(401) // no token
    const del = await fetch(`${base}/jobs/${jobId}`, { method: 'DELETE', headers: authed() })
    expect(del.status, await del.clone().text()).toBe(200)
    expect(node.participant.jobIds()).not.toContain(jobId)
    expect((await node.participant.waitForJob(jobId))?.ended).toBe('cancelled')
    const missing = await fetch(`${base}/jobs/${'e'.repeat(64)}`, { method: 'DELETE', headers: authed() })
    expect(missing.status).toBe(404)
    expect((await fetch(`${base}/jobs/nope`, { method: 'DELETE', headers: authed() })).status).toBe(400)
  })
})
