import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  CircuitOpenError,
  ConfigError,
  createNode,
  definePayloadProtocol,
  defineRequestProtocol,
  defineTopic,
  RateLimitedError,
  type VainNode,
  verifyPeerSignature,
} from '../src/index.js'
import { startNetwork, startNode, stopNodes, testConfig, waitFor } from './fixtures/network.js'

const echo = defineRequestProtocol({
  id: '/vain-test/node-echo/1.0.0',
  request: z.object({ text: z.string().max(100) }),
  response: z.object({ text: z.string() }),
  timeoutMs: 3_000,
})

const upload = definePayloadProtocol({
  id: '/vain-test/upload/1.0.0',
  meta: z.object({ name: z.string() }),
})

const news = defineTopic({ name: 'vain-test/news', schema: z.object({ seq: z.number().int(), from: z.string() }) })

describe('createNode: config', () => {
  it('rejects a bad config with a ConfigError listing every problem', async () => {
    const err = await createNode({
      profile: 'moon' as any,
      listen: ['not-an-addr'],
      bootstrap: ['/ip4/127.0.0.1/tcp/1'],
      limits: { rateLimitCapacity: -1 } as any,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    const issues = (err as ConfigError).issues.join('\n')
    expect(issues).toMatch(/profile/)
    expect(issues).toMatch(/listen\.0: not a valid multiaddr/)
    expect(issues).toMatch(/bootstrap\.0: .*\/p2p\//)
    expect(issues).toMatch(/limits\.rateLimitCapacity/)
  })

  it('rejects unknown keys (typos) instead of ignoring them', async () => {
    await expect(createNode({ profil: 'loopback' } as any)).rejects.toMatchObject({ name: 'ConfigError' })
  })
})

describe('a network of vAIn nodes on 127.0.0.1', () => {
  let nodes: VainNode[] = []
  afterAll(async () => {
    await stopNodes(nodes)
  })

  it('22 nodes that know only one bootstrap peer discover and authenticate each other (PEX + DHT)', async () => {
    nodes = await startNetwork(22)
    const n = nodes.length
    // every node learns (almost) every other peer: through PEX records and the DHT, not just the bootstrap
    await waitFor(
      async () => {
        const known = await Promise.all(nodes.map(async (node) => (await node.libp2p.peerStore.all()).length))
        return known.every((k) => k >= n - 1)
      },
      60_000,
      'every node knows all 21 other peers',
    )
    await waitFor(
      () => nodes.every((node) => node.authenticatedPeers().length >= 5),
      60_000,
      'every node has >= 5 authenticated connections',
    )
    // a node that was not directly told about the last node still found it
    const last = nodes[n - 1] as VainNode
    const second = nodes[1] as VainNode
    const known = await second.libp2p.peerStore.has(last.peerId)
    expect(known).toBe(true)
    const h = await second.health()
    expect(h.authenticatedPeers).toBeGreaterThanOrEqual(5)
    expect(h.knownPeers).toBeGreaterThanOrEqual(n - 1)
  })

  it('gossip reaches every subscriber', async () => {
    const received = new Map<string, number[]>()
    for (const node of nodes) {
      node.subscribe(news, (msg) => {
        const list = received.get(node.peerId.toString()) ?? []
        list.push(msg.seq)
        received.set(node.peerId.toString(), list)
      })
    }
    const publisher = nodes[nodes.length - 1] as VainNode
    await waitFor(() => publisher.topicPeers(news).length >= 3, 30_000, 'publisher sees topic peers')
    // wait for meshes to form, then publish
    await new Promise((r) => setTimeout(r, 1500))
    await publisher.publish(news, { seq: 1, from: publisher.peerId.toString() })
    await waitFor(
      () => nodes.filter((x) => x !== publisher).every((x) => received.get(x.peerId.toString())?.includes(1) === true),
      30_000,
      'all 21 subscribers receive the message',
    )
  })

  it('invalid gossip is rejected by validators and never delivered', async () => {
    const publisher = nodes[2] as VainNode
    const listener = nodes[3] as VainNode
    let got = 0
    listener.subscribe(news, () => {
      got++
    })
    // bypass our typed publish: raw bytes that fail the schema
    await publisher.libp2p.services.pubsub?.publish(news.name, new Uint8Array([1, 2, 3]))
    await new Promise((r) => setTimeout(r, 1500))
    expect(got).toBe(0)
  })
})

describe('requests, limits and breakers between two nodes', () => {
  let a: VainNode | undefined
  let b: VainNode | undefined
  afterEach(async () => {
    await stopNodes([a, b])
  })

  it('the rate limit engages with a typed RateLimitedError and recovers after refill', async () => {
    a = await startNode({ limits: { rateLimitCapacity: 5, rateLimitRefillPerSecond: 5 } as any })
    b = await startNode()
    await a.handle(echo, (req) => ({ text: req.text }))
    await b.connect(a.multiaddrs[0]!)
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => b!.request(a!.peerId, echo, { text: 'x' })),
    )
    const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof RateLimitedError)
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(5)
    expect(limited.length).toBeGreaterThan(0)
    const retryAfter = ((limited[0] as PromiseRejectedResult).reason as RateLimitedError).retryAfterMs
    expect(retryAfter).toBeGreaterThan(0)
    await new Promise((r) => setTimeout(r, 1_200))
    await expect(b.request(a.peerId, echo, { text: 'again' })).resolves.toEqual({ text: 'again' })
    // rate limiting is not a transport failure: the breaker stays closed
    expect(b.breakers.state(a.peerId.toString())).toBe('closed')
  })

  it('the circuit breaker opens when a peer is gone, fails fast, and closes when it is back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vain-breaker-'))
    try {
      a = await startNode({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'] })
      const port = Number(a.multiaddrs[0]!.toString().split('/')[4])
      await a.handle(echo, (req) => ({ text: req.text }))
      b = await createNode(
        testConfig({
          limits: { breakerFailureThreshold: 2, breakerBaseBackoffMs: 500, breakerMaxBackoffMs: 2_000 } as any,
        }),
      )
      await b.start()
      await b.connect(a.multiaddrs[0]!)
      const peer = a.peerId
      await a.stop()
      for (let i = 0; i < 2; i++) {
        await expect(b.request(peer, echo, { text: 'x' }, { timeoutMs: 1_000 })).rejects.toThrow()
      }
      expect(b.breakers.state(peer.toString())).toBe('open')
      await expect(b.request(peer, echo, { text: 'x' })).rejects.toBeInstanceOf(CircuitOpenError)
      // the peer comes back on the same port with the same identity
      a = await startNode({ dataDir: dir, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
      await a.handle(echo, (req) => ({ text: req.text }))
      expect(a.peerId.equals(peer)).toBe(true)
      await waitFor(
        async () => {
          try {
            await b!.request(peer, echo, { text: 'back' })
            return true
          } catch {
            return false
          }
        },
        15_000,
        'request succeeds after half-open',
      )
      expect(b.breakers.state(peer.toString())).toBe('closed')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('payloads are compressed when it pays and round-trip intact', async () => {
    a = await startNode()
    b = await startNode()
    const got: Uint8Array[] = []
    await a.handlePayload(upload, async (_meta, body) => {
      const parts: Uint8Array[] = []
      for await (const chunk of body) parts.push(chunk)
      got.push(Buffer.concat(parts))
    })
    await b.connect(a.multiaddrs[0]!)
    // model-update-like: sparse float32 deltas, mostly zeros
    const floats = new Float32Array(1_000_000)
    for (let i = 0; i < floats.length; i += 50) floats[i] = Math.sin(i) * 0.01
    const bytes = new Uint8Array(floats.buffer)
    const result = await b.sendPayload(a.peerId, upload, { name: 'delta' }, bytes)
    expect(Buffer.compare(got[0] as Uint8Array, bytes)).toBe(0)
    expect(result.ratio).toBeGreaterThan(2)
    const random = new Uint8Array(2_000_000)
    for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536))
    const r2 = await b.sendPayload(a.peerId, upload, { name: 'noise' }, random)
    expect(Buffer.compare(got[1] as Uint8Array, random)).toBe(0)
    expect(r2.ratio).toBeLessThan(1.01)
  })

  it('refuses requests from a peer that skipped the handshake', async () => {
    a = await startNode()
    await a.handle(echo, (req) => ({ text: req.text }))
    // a plain node: same protocols, no vAIn handshake
    b = await startNode({ handshake: { required: false } })
    await b.libp2p.services.handshake.stop()
    await b.libp2p.unhandle('/vain/handshake/1.0.0').catch(() => {})
    await b.libp2p.dial(a.multiaddrs[0]!)
    await expect(
      (await import('../src/protocols/index.js')).sendRequest(b.libp2p, a.peerId, echo, { text: 'x' }),
    ).rejects.toMatchObject({ remoteName: 'PeerDeniedError' })
  })
})

describe('transports and restarts', () => {
  let a: VainNode | undefined
  let b: VainNode | undefined
  afterEach(async () => {
    await stopNodes([a, b])
  })

  it('peers connect and authenticate over WebSockets', async () => {
    a = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const wsAddr = a.multiaddrs.find((m) => m.toString().includes('/ws'))
    expect(wsAddr).toBeDefined()
    b = await startNode({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    await a.handle(echo, (req) => ({ text: req.text }))
    const peer = await b.connect(wsAddr!)
    expect(peer.equals(a.peerId)).toBe(true)
    const conn = b.libp2p.getConnections(a.peerId)[0]
    expect(conn?.remoteAddr.toString()).toContain('/ws')
    await expect(b.request(a.peerId, echo, { text: 'over ws' })).resolves.toEqual({ text: 'over ws' })
  })

  it('a restarted node keeps its identity and redials persisted peers without bootstrap', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vain-restart-'))
    try {
      b = await startNode()
      a = await startNode({ dataDir: dir, bootstrap: b.multiaddrs.map(String) })
      const id = a.peerId
      await waitFor(() => a!.authenticatedPeers().some((p) => p.equals(b!.peerId)), 20_000, 'a meets b')
      await a.stop()
      await waitFor(() => b!.connectedPeers().length === 0, 10_000, 'b sees a leave')
      // no bootstrap this time: only the peer cache in dataDir knows b
      a = await startNode({ dataDir: dir })
      expect(a.peerId.equals(id)).toBe(true)
      await waitFor(
        () => a!.authenticatedPeers().some((p) => p.equals(b!.peerId)),
        20_000,
        'a redials b from its cache',
      )
    } finally {
      await stopNodes([a])
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('signatures with the node identity', () => {
  it('verifyPeerSignature accepts the node own signature and rejects tampering or a wrong signer', async () => {
    const a = await createNode(testConfig())
    const b = await createNode(testConfig())
    const data = new TextEncoder().encode('round 3 update')
    const sig = await a.sign(data)
    expect(await verifyPeerSignature(a.peerId.toString(), data, sig)).toBe(true)
    expect(await verifyPeerSignature(b.peerId.toString(), data, sig)).toBe(false)
    expect(await verifyPeerSignature(a.peerId.toString(), new TextEncoder().encode('round 4 update'), sig)).toBe(false)
    expect(await verifyPeerSignature('not-a-peer-id', data, sig)).toBe(false)
  })
})

describe('stop()', () => {
  it('leaves no sockets or timers behind', async () => {
    const count = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap' || r === 'Timeout')
        .length
    const before = count()
    const nodes = await startNetwork(4)
    await waitFor(() => nodes.every((n) => n.authenticatedPeers().length >= 1), 20_000, 'connected')
    expect(count()).toBeGreaterThan(before)
    await stopNodes(nodes)
    await waitFor(() => count() <= before, 5_000, `handles back to ${before} (now ${count()})`)
  })
})
