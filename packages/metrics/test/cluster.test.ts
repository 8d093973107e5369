import { createNode, type VainNode } from '@vain/net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVainMetrics, summarize } from '../src/index.js'
import { gatherCluster, serveMetrics } from '../src/vain-net.js'

describe('/vain/metrics between real libp2p nodes on 127.0.0.1', () => {
  const nodes: VainNode[] = []
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const n = await createNode({ profile: 'loopback', discovery: { dht: false, pex: false } })
      await n.start()
      nodes.push(n)
    }
    const [a, b, c] = nodes as [VainNode, VainNode, VainNode]
    await b.connect(a.multiaddrs[0] as never)
    await c.connect(a.multiaddrs[0] as never)
    for (const [i, n] of [b, c].entries()) {
      const metrics = createVainMetrics({ defaultMetrics: false })
      metrics.observeNetwork(n)
      metrics.roundCompleted({ jobId: 'job-1', round: 7 + i, seconds: 2 })
      await serveMetrics(n, { summary: async () => summarize(await metrics.samples()), minIntervalMs: 60_000 })
    }
  })
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('gathers every authenticated peer’s summary; a second ask within the interval is rate limited', async () => {
    const [a, b, c] = nodes as [VainNode, VainNode, VainNode]
    // a's authenticated peers: b and c (the handshake runs on connect)
    await expect.poll(() => a.authenticatedPeers().length, { timeout: 20_000 }).toBe(2)
    const view = await gatherCluster(a)
    expect(view.map((m) => m.peerId).sort()).toEqual([b.peerId.toString(), c.peerId.toString()].sort())
    const byPeer = new Map(view.map((m) => [m.peerId, m]))
    const vb = byPeer.get(b.peerId.toString())
    expect(vb?.ok).toBe(true)
    if (vb?.ok !== true) return
    expect(vb.summary.figures['vain_round{job="job-1"}']).toBe(7)
    // measured: b is connected to a, authenticated
    expect(vb.summary.figures.vain_authenticated_peers).toBe(1)
    const again = await gatherCluster(a)
    expect(again.every((m) => !m.ok && m.error === 'RateLimitedError')).toBe(true)
  })

  it('a peer that does not serve the protocol is reported, not thrown', async () => {
    const [b, , c] = [nodes[1], nodes[0], nodes[2]] as [VainNode, VainNode, VainNode]
    void c
    const view = await gatherCluster(b, { peers: b.authenticatedPeers() })
    expect(view).toHaveLength(1)
    expect(view[0]?.ok).toBe(false)
  })
})
