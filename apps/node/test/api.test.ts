import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createModel, decodeModel, encodeModel, importOnnx, mlp } from '@vain/fl'
import { manifestCid } from '@vain/memory'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

describe('REST API', () => {
  let dir: string
  let node: RunningNode
  let base: string
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
    const res = await fetch(`${base}/jobs`, { method: 'POST', body: JSON.stringify({ name: '', rounds: 0 }) })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('InvalidJob')
    expect(body.message).toMatch(/rounds/)
    expect(body.message).toMatch(/initialModel/)
    const bad = await fetch(`${base}/jobs`, { method: 'POST', body: '{"name":' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toBe('InvalidJson')
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
})
