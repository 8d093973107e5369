/**
 * The live feed (`GET /api/feed`, src/http/feed.ts) on real nodes on 127.0.0.1, read with the
 * typed client of `@vain/metrics/feed`: hello and snapshots (each exactly its REST body), a peers
 * event when a second node connects, permessage-deflate negotiated, bad input answered with typed
 * errors and close codes (the server stays up), a foreign Origin or Host refused before the
 * upgrade, a subscription to another node's feed routed through this one (with the token only),
 * and a client that survives a node restart on the same port (reconnects, resubscribes).
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createModel, encodeModel, mlp } from '@vain/fl'
import { createAlerts } from '@vain/metrics'
import { type EventMessage, FeedClient, type FeedClientEvents } from '@vain/metrics/feed'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadApiToken } from '../src/api.js'
import type { AppConfig } from '../src/config.js'
import { createNodeFeed } from '../src/http/feed-sources.js'
import { startApiServer } from '../src/http/server.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

const log = createLogger({ level: 'error', json: false })
const wait = () => ({ signal: AbortSignal.timeout(60_000) })

/** A port nothing listens on now. */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise<void>((resolve) => s.close(() => resolve()))
  return port
}

/** A WebSocket upgrade by hand (to send any Host and Origin): the status it gets. */
function upgrade(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/feed',
      agent: false,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        ...headers,
      },
    })
    req.once('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.once('upgrade', (res, socket) => {
      socket.destroy()
      resolve(res.statusCode ?? 0)
    })
    req.once('error', reject)
    req.end()
  })
}

const config = (dir: string, apiPort: number | null): AppConfig => ({
  dataDir: dir,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: [],
  profile: 'loopback',
  roles: ['validator'],
  apiPort,
  logLevel: 'error',
  json: false,
})

const isSnapshot = (channel: string, peer?: string) => (e: EventMessage) =>
  e.channel === channel && 'snapshot' in e.data && e.peer === peer

describe('the live feed on real nodes', () => {
  const dirs: string[] = []
  let a: RunningNode
  let b: RunningNode
  let port: number
  let url: string
  let base: string
  let token: string
  const clients: FeedClient[] = []
  const client = (opts: Partial<ConstructorParameters<typeof FeedClient>[0]> = {}) => {
    const c = new FeedClient({ url, backoff: { initialMs: 50, maxMs: 1000 }, ...opts })
    clients.push(c)
    return c
  }

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) dirs.push(await mkdtemp(join(tmpdir(), 'vain-feed-')))
    port = await freePort()
    a = await startVainNode(config(dirs[0] as string, port), log)
    b = await startVainNode(config(dirs[1] as string, null), log)
    base = `http://127.0.0.1:${port}`
    url = `ws://127.0.0.1:${port}/api/feed`
    token = await loadApiToken(dirs[0] as string)
  }, 120_000)
  afterAll(async () => {
    for (const c of clients) c.close()
    await a?.stop()
    await b?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('hello, then each channel’s snapshot (its REST body); permessage-deflate; a peers event when a node connects', async () => {
    const feed = client()
    const hello = feed.next('hello', undefined, wait())
    feed.subscribe(['peers', 'health', 'metrics', 'training', 'chain', 'alerts'])
    const events: EventMessage[] = []
    feed.on('event', (e) => events.push(e))
    expect(await hello).toMatchObject({
      type: 'hello',
      version: 1,
      node: a.node.peerId.toString(),
      channels: ['peers', 'metrics', 'training', 'health', 'alerts', 'chain'],
    })
    expect(feed.extensions).toMatch(/permessage-deflate/)
    await expect.poll(() => new Set(events.map((e) => e.channel)).size, { timeout: 60_000 }).toBe(5)
    const snap = (ch: string) => events.find((e) => e.channel === ch)?.data.snapshot
    expect(snap('peers')).toEqual(await (await fetch(`${base}/api/peers`)).json())
    expect(snap('training')).toEqual(await (await fetch(`${base}/api/metrics/training`)).json())
    expect(snap('chain')).toBeNull()
    expect(snap('metrics')).toMatchObject({ host: { cpus: expect.any(Number) }, process: { pid: process.pid } })
    const rest = (await (await fetch(`${base}/api/node/health`)).json()) as Record<string, unknown>
    expect(Object.keys(snap('health') as object).sort()).toEqual(Object.keys(rest).sort())
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1))
    // a second node connects: discrete events, then a changed peers snapshot
    const connected = feed.next(
      'event',
      (e) => e.channel === 'peers' && (e.data.event as { kind?: string } | undefined)?.kind === 'authenticated',
      wait(),
    )
    const listed = feed.next(
      'event',
      (e) => isSnapshot('peers')(e) && (e.data.snapshot as unknown[]).length === 1,
      wait(),
    )
    await b.node.connect(a.node.multiaddrs[0] as never)
    expect((await connected).data.event).toMatchObject({ kind: 'authenticated', peerId: b.node.peerId.toString() })
    expect(((await listed).data.snapshot as Array<{ peerId: string }>)[0]?.peerId).toBe(b.node.peerId.toString())
    // the training REST body carries a per-round history for each job
    const training = (await (await fetch(`${base}/api/metrics/training`)).json()) as { jobs: unknown[] }
    expect(training).toEqual({ jobs: [] })
    feed.close()
  }, 120_000)

  it('bad input: typed errors, oversize frames closed with 1009, the server stays up', async () => {
    const feed = client()
    await feed.next('hello', undefined, wait())
    const nextError = () => feed.next('error', () => true, wait()) as Promise<FeedClientEvents['error']>
    const named = async (send: () => void) => {
      const e = nextError()
      send()
      return (await e) as { error?: string; code?: string }
    }
    expect((await named(() => feed.sendRaw('{"type":'))).error).toBe('InvalidJson')
    expect((await named(() => feed.sendRaw('{"type":"subscribe","channels":["gossip"]}'))).error).toBe('UnknownChannel')
    expect((await named(() => feed.sendRaw('{"type":"launch"}'))).error).toBe('UnknownMessageType')
    expect((await named(() => feed.sendRaw('{"type":"subscribe","channels":"peers"}'))).error).toBe('InvalidMessage')
    // a routed subscription without the token
    const routed = await named(() => feed.subscribe(['metrics'], { peer: b.node.peerId.toString() }))
    expect(routed).toMatchObject({ error: 'TokenRequired', peer: b.node.peerId.toString() })
    feed.unsubscribe(['metrics'], { peer: b.node.peerId.toString() })
    expect((await named(() => feed.sendRaw(JSON.stringify({ type: 'auth', token: 'x'.repeat(40) })))).error).toBe(
      'InvalidToken',
    )
    // the connection still works
    feed.subscribe(['health'])
    await feed.next('event', isSnapshot('health'), wait())
    // oversize: a typed error, then close 1009; the client reconnects by itself
    const closed = feed.next('close', undefined, wait())
    const big = nextError()
    feed.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }))
    expect(((await big) as { error?: string }).error).toBe('FrameTooLarge')
    expect((await closed).code).toBe(1009)
    await feed.next('hello', undefined, wait())
    await feed.next('event', isSnapshot('health'), wait())
    expect(feed.connections).toBe(2)
    feed.close()
    // a foreign Origin or Host: refused before the upgrade; the node's own origin upgrades
    expect(await upgrade(port, { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).toBe(403)
    expect(await upgrade(port, { host: `evil.example:${port}`, origin: `http://127.0.0.1:${port}` })).toBe(403)
    expect(await upgrade(port, { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).toBe(101)
    // a plain GET: a typed error body
    const plain = await fetch(`${base}/api/feed`)
    expect(plain.status).toBe(426)
    expect(((await plain.json()) as { error: { name: string } }).error.name).toBe('UpgradeRequired')
    // still up
    expect((await fetch(`${base}/api/node/health`)).status).toBe(200)
  }, 120_000)

  it('routes a subscription to another node’s feed, with the node’s token', async () => {
    const peer = b.node.peerId.toString()
    await expect.poll(() => a.node.authenticatedPeers().length, { timeout: 60_000 }).toBe(1)
    const feed = client({ token })
    await feed.next('hello', undefined, wait())
    const remote = feed.next('event', isSnapshot('metrics', peer), wait())
    const own = feed.next('event', isSnapshot('metrics'), wait())
    feed.subscribe(['metrics'], { peer })
    feed.subscribe(['metrics'])
    const r = await remote
    expect(r.peer).toBe(peer)
    expect(r.data.snapshot).toMatchObject({ host: { cpus: expect.any(Number) }, process: { pid: process.pid } })
    await own
    // a peer this node is not connected to: a typed error
    const unknown = feed.next('error', () => true, wait())
    feed.subscribe(['peers'], { peer: '12D3KooWGRUVh2Wv6mA3xYmwcdVyqXB3kQvSx3GzGbCqKyVQm9qM' })
    expect(await unknown).toMatchObject({ error: 'PeerUnavailable' })
    feed.close()
  }, 120_000)

  it('takes an injected WebSocket: the WHATWG one (Node’s global, as a browser has) works the same', async () => {
    const feed = client({ WebSocket: globalThis.WebSocket as never })
    await feed.next('hello', undefined, wait())
    feed.subscribe(['health'])
    const e = await feed.next('event', isSnapshot('health'), wait())
    expect(e.seq).toBe(1)
    feed.close()
    expect(feed.state).toBe('closed')
    // aborting the signal closes a client for good
    const controller = new AbortController()
    const aborted = client({ signal: controller.signal })
    await aborted.next('hello', undefined, wait())
    controller.abort()
    expect(aborted.state).toBe('closed')
  }, 120_000)

  it('bounds: messages over the rate are refused, then the connection is closed (4029); connections are capped (1013)', async () => {
    const feed = client()
    await feed.next('hello', undefined, wait())
    const limited = feed.next('error', (e) => (e as { error?: string }).error === 'RateLimited', wait())
    const closed = feed.next('close', undefined, wait())
    // 100 pings at once: a burst of 20 is allowed, the rest are counted against the connection
    for (let i = 0; i < 100; i++) feed.ping()
    await limited
    expect((await closed).code).toBe(4029)
    feed.close()
    // FEED_LIMITS.connections (64) open; the next is closed with 1013
    const many = Array.from({ length: 64 }, () => client({ backoff: { initialMs: 60_000, maxMs: 60_000 } }))
    await Promise.all(many.map((c) => c.next('hello', undefined, wait())))
    const extra = client({ backoff: { initialMs: 60_000, maxMs: 60_000 } })
    expect((await extra.next('close', undefined, wait())).code).toBe(1013)
    for (const c of [...many, extra]) c.close()
    // the node still serves feeds once they are gone
    const again = client()
    await again.next('hello', undefined, wait())
    again.close()
  }, 120_000)

  it('alerts: a @vain/metrics alert rule firing and resolving reaches the alerts channel', async () => {
    const alerts = createAlerts({
      rules: [
        { kind: 'threshold', name: 'few-peers', metric: 'vain_authenticated_peers', op: '<', value: 2, clear: 3 },
      ],
    })
    const sources = createNodeFeed({ node: b.node, participant: b.participant, alerts: [alerts] })
    const api = await startApiServer({
      node: b.node,
      participant: b.participant,
      models: b.models,
      token: 'y'.repeat(40),
      log,
      port: 0,
      feed: sources,
    })
    try {
      const feed = client({ url: `${api.url.replace('http', 'ws')}/api/feed` })
      await feed.next('hello', undefined, wait())
      feed.subscribe(['alerts'])
      const alert = (status: string) => (e: EventMessage) =>
        e.channel === 'alerts' && (e.data.alert as { status?: string } | undefined)?.status === status
      const firing = feed.next('event', alert('firing'), wait())
      const resolved = feed.next('event', alert('resolved'), wait())
      // the subscription is in once a later ping is answered (a connection's messages are handled in order)
      const pong = feed.next('pong', undefined, wait())
      feed.ping()
      await pong
      for (const [t, v] of [
        [0, 4],
        [10, 1],
        [20, 3],
      ] as const)
        alerts.evaluate([{ name: 'vain_authenticated_peers', labels: {}, value: v }], t)
      expect((await firing).data.alert).toMatchObject({ source: 'metrics', rule: 'few-peers', status: 'firing' })
      expect((await resolved).data.alert).toMatchObject({ rule: 'few-peers', status: 'resolved' })
      feed.close()
    } finally {
      await api.close()
      await sources.stop()
    }
  }, 120_000)

  it('a connection whose send buffer goes over its cap (a reader slower than its events) is closed with 4008', async () => {
    const sources = createNodeFeed({ node: b.node, participant: b.participant })
    const api = await startApiServer({
      node: b.node,
      participant: b.participant,
      models: b.models,
      token: 'y'.repeat(40),
      log,
      port: 0,
      feed: sources,
    })
    try {
      const feed = client({ url: `${api.url.replace('http', 'ws')}/api/feed`, backoff: { initialMs: 60_000 } })
      await feed.next('hello', undefined, wait())
      feed.subscribe(['alerts'])
      const pong = feed.next('pong', undefined, wait())
      feed.ping()
      await pong
      const closed = feed.next('close', undefined, wait())
      // 1000 alerts of 15 KB of incompressible text at once: more than the 4 MiB a connection may queue
      for (let i = 0; i < 1000; i++) {
        sources.log.append('alerts', { alert: { status: 'firing', pad: randomBytes(11_000).toString('base64') } })
      }
      expect((await closed).code).toBe(4008)
      // the server goes on: a new connection is served
      const again = client({ url: `${api.url.replace('http', 'ws')}/api/feed` })
      await again.next('hello', undefined, wait())
      again.close()
      feed.close()
    } finally {
      await api.close()
      await sources.stop()
    }
  }, 120_000)

  it('the client survives a node restart on the same port: it reconnects and resubscribes', async () => {
    const feed = client()
    await feed.next('hello', undefined, wait())
    feed.subscribe(['health', 'peers'])
    await feed.next('event', isSnapshot('health'), wait())
    const closed = feed.next('close', undefined, wait())
    await a.stop()
    expect((await closed).code).toBe(1001)
    expect(feed.state).toBe('reconnecting')
    // the client keeps trying while the node is down
    await feed.next('close', undefined, wait())
    const hello = feed.next('hello', undefined, wait())
    const health = feed.next('event', isSnapshot('health'), wait())
    const peers = feed.next('event', isSnapshot('peers'), wait())
    a = await startVainNode(config(dirs[0] as string, port), log)
    expect((await hello).node).toBe(a.node.peerId.toString())
    await health
    await peers
    expect(feed.connections).toBe(2)
    expect(feed.state).toBe('open')
    expect(feed.subscriptionList()).toEqual([{ channel: 'health' }, { channel: 'peers' }])
    feed.close()
    expect(feed.state).toBe('closed')
  }, 180_000)
})

describe('the live feed of a training node', () => {
  let dir: string
  let node: RunningNode
  let port: number
  const clients: FeedClient[] = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-feed-train-'))
    port = await freePort()
    node = await startVainNode(
      {
        ...config(dir, port),
        roles: ['trainer', 'aggregator'],
        data: { dataset: 'mnist', shard: 0, shards: 20, alpha: 1, seed: 1 },
      },
      log,
    )
  }, 120_000)
  afterAll(async () => {
    for (const c of clients) c.close()
    await node?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('a round: training events, then the training snapshot’s history with the round’s accuracy and loss', async () => {
    const feed = new FeedClient({ url: `ws://127.0.0.1:${port}/api/feed`, backoff: { initialMs: 50, maxMs: 1000 } })
    clients.push(feed)
    await feed.next('hello', undefined, wait())
    feed.subscribe(['training'])
    await feed.next('event', isSnapshot('training'), wait())
    const kind = (k: string) => (e: EventMessage) =>
      e.channel === 'training' && (e.data.event as { kind?: string } | undefined)?.kind === k
    const completed = feed.next('event', kind('round:completed'), { signal: AbortSignal.timeout(240_000) })
    const evaluated = feed.next('event', kind('round:evaluated'), { signal: AbortSignal.timeout(240_000) })
    type Job = { jobId: string; history: Array<{ round: number; accuracy?: number; contributions: number }> }
    const withAccuracy = feed.next(
      'event',
      (e) =>
        isSnapshot('training')(e) &&
        ((e.data.snapshot as { jobs: Job[] }).jobs[0]?.history ?? []).some((h) => h.accuracy !== undefined),
      { signal: AbortSignal.timeout(240_000) },
    )
    const arch = mlp(784, [8], 10)
    const initialModel = await node.models.put(encodeModel(createModel(arch, { seed: 2 })))
    const { jobId } = await node.participant.submitJob({
      name: 'feed-test',
      architecture: arch,
      initialModel,
      dataset: { name: 'mnist' },
      strategy: { name: 'fedavg' },
      aggregator: { name: 'mean' },
      codec: { name: 'fp32' },
      rounds: 1,
      // one trainer named: the round closes once its update is in (not at the deadline)
      roundDeadlineMs: 120_000,
      minUpdates: 1,
      committeeSize: 1,
      local: { epochs: 1, batchSize: 32, lr: 0.05 },
      maxUpdateBytes: 16 * 1024 * 1024,
      participants: { aggregators: [node.node.peerId.toString()], trainers: [node.node.peerId.toString()] },
    })
    expect((await completed).data.event).toMatchObject({ jobId, round: 0, contributions: 1 })
    const ev = (await evaluated).data.event as { accuracy: number; loss: number }
    expect(ev.accuracy).toBeGreaterThan(0)
    const job = ((await withAccuracy).data.snapshot as { jobs: Job[] }).jobs[0] as Job
    expect(job.jobId).toBe(jobId)
    expect(job.history[0]).toMatchObject({ round: 0, contributions: 1, accuracy: ev.accuracy, at: expect.any(Number) })
    // the REST body says the same
    const rest = (await (await fetch(`http://127.0.0.1:${port}/api/metrics/training`)).json()) as { jobs: Job[] }
    expect(rest.jobs[0]?.history[0]).toMatchObject({ round: 0, accuracy: ev.accuracy, bytesUp: expect.any(Number) })
  }, 300_000)
})
