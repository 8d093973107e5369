/**
 * `/vain/feed/1.0.0` between real libp2p nodes on 127.0.0.1: a node reads another's feed
 * (snapshots, events after its cursor, unchanged snapshots left out), a peer that skipped the
 * vAIn handshake is refused, and the per-peer and shared budgets refuse the request after the
 * budget (counted, not timed).
 */
import { createNode, RateLimitedError, sendRequest, type VainNode } from '@vain/net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FeedChannel } from '../src/feed/index.js'
import { FeedEventLog, feedProtocol, serveFeed, watchRemoteFeed } from '../src/vain-net.js'

/** A refill so slow no token comes back during a test. */
const SLOW = 1e-6

describe('/vain/feed between real libp2p nodes', () => {
  const nodes: VainNode[] = []
  const log = new FeedEventLog()
  let snapshots = 0
  let served: Awaited<ReturnType<typeof serveFeed>>
  const start = async (init: Parameters<typeof createNode>[0] = {}) => {
    const n = await createNode({ profile: 'loopback', discovery: { dht: false, pex: false }, ...init })
    await n.start()
    nodes.push(n)
    return n
  }
  beforeAll(async () => {
    const b = await start()
    served = await serveFeed(b, {
      log,
      snapshot: (channel) => {
        snapshots++
        return channel === 'metrics' ? { host: { cpus: 4 }, n: Math.min(snapshots, 1) } : { channel }
      },
      perPeer: { capacity: 4, refillPerSecond: SLOW },
      shared: { capacity: 7, refillPerSecond: SLOW },
    })
  }, 60_000)
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
  })

  it('a node reads another node’s feed: snapshots once, then only new events', async () => {
    const b = nodes[0] as VainNode
    const a = await start()
    await a.connect(b.multiaddrs[0] as never)
    await expect.poll(() => b.authenticatedPeers().length, { timeout: 30_000 }).toBe(1)
    const got: Array<{ kind: string; channel: FeedChannel; data: unknown }> = []
    const errors: Error[] = []
    log.append('alerts', { alert: { name: 'before-the-watch' } })
    // one request per wake (the interval is long): counted, not timed
    const watch = watchRemoteFeed(a, b.peerId, {
      channels: () => ['metrics', 'alerts'],
      onSnapshot: (channel, snapshot) => got.push({ kind: 'snapshot', channel, data: snapshot }),
      onEvent: (e) => got.push({ kind: 'event', channel: e.channel, data: e.data }),
      onError: (err) => errors.push(err),
      intervalMs: 600_000,
    })
    try {
      await expect.poll(() => got.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1)
      expect(got[0]).toEqual({ kind: 'snapshot', channel: 'metrics', data: { host: { cpus: 4 }, n: 1 } })
      log.append('alerts', { alert: { name: 'disk-full', status: 'firing' } })
      log.append('peers', { event: { kind: 'connected' } }) // not asked for
      watch.wake()
      await expect.poll(() => got.filter((g) => g.kind === 'event').length, { timeout: 30_000 }).toBe(1)
      expect(got.find((g) => g.kind === 'event')).toEqual({
        kind: 'event',
        channel: 'alerts',
        data: { alert: { name: 'disk-full', status: 'firing' } },
      })
      expect(served.stats.served).toBe(2)
      // two more requests spend the peer's budget of 4; the snapshot did not change: not sent again
      for (const n of [3, 4]) {
        watch.wake()
        await expect.poll(() => served.stats.served, { timeout: 30_000 }).toBe(n)
      }
      watch.wake()
      await expect.poll(() => errors.length, { timeout: 30_000 }).toBe(1)
      expect(errors[0]).toBeInstanceOf(RateLimitedError)
      expect(got.filter((g) => g.kind === 'snapshot')).toHaveLength(1)
      expect(served.stats).toMatchObject({ served: 4, limitedPeer: 1, limitedShared: 0 })
    } finally {
      watch.stop()
    }
  }, 120_000)

  it('the shared budget refuses a second peer once all peers together spent it', async () => {
    const b = nodes[0] as VainNode
    const c = await start()
    await c.connect(b.multiaddrs[0] as never)
    await expect.poll(() => b.authenticatedPeers().length, { timeout: 30_000 }).toBe(2)
    const ask = () => c.request(b.peerId, feedProtocol, { v: 1, channels: ['health'] })
    // 4 served to a (previous test), 3 left in the shared budget of 7
    for (let i = 0; i < 3; i++) await expect(ask()).resolves.toMatchObject({ v: 1 })
    await expect(ask()).rejects.toBeInstanceOf(RateLimitedError)
    expect(served.stats.limitedShared).toBe(1)
    expect(served.stats.served).toBe(7)
  }, 120_000)

  it('refuses a peer that skipped the vAIn handshake', async () => {
    const b = nodes[0] as VainNode
    const plain = await start({ handshake: { required: false } })
    await plain.libp2p.services.handshake.stop()
    await plain.libp2p.unhandle('/vain/handshake/1.0.0').catch(() => {})
    await plain.libp2p.dial(b.multiaddrs[0] as never)
    await expect(
      sendRequest(plain.libp2p, b.peerId, feedProtocol, { v: 1, channels: ['peers'] }),
    ).rejects.toMatchObject({
      remoteName: 'PeerDeniedError',
    })
    expect(served.stats.served).toBe(7)
  }, 120_000)

  it('the log keeps its bounds and reads from a cursor', () => {
    const l = new FeedEventLog({ maxEvents: 3, maxEventBytes: 64 })
    for (let i = 0; i < 5; i++) l.append('training', { event: { i } })
    const big = l.append('training', { event: { pad: 'x'.repeat(100) } })
    expect(big.data).toEqual({ truncated: true, bytes: expect.any(Number) })
    const all = l.since(0, new Set(['training']), 1 << 20)
    expect(all.events.map((e) => e.id)).toEqual([4, 5, 6])
    expect(all.dropped).toBe(3)
    expect(all.next).toBe(6)
    expect(l.since(6, new Set(['training']), 1 << 20).events).toEqual([])
    // a cursor from a node's earlier life reads what the log holds
    expect(l.since(99, new Set(['training']), 1 << 20).events.map((e) => e.id)).toEqual([4, 5, 6])
  })
})
