/**
 * Run-time adaptation of a node's limits (fed by a resource policy such as @vain/resources) and
 * the spare capacity a node advertises in its signed descriptor.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  ConfigError,
  createNode,
  defineRequestProtocol,
  NodeDescriptorSchema,
  RateLimitedError,
  RateLimiter,
  type VainNode,
} from '../src/index.js'
import { startNode, stopNodes, testConfig, waitFor } from './fixtures/network.js'

function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

describe('RateLimiter.setDefaults', () => {
  it('applies new defaults to existing buckets, keeping earned tokens capped at the new capacity', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({
      capacity: 10,
      refillPerSecond: 1,
      overrides: { '/vain/update/1.0.0': { capacity: 2, refillPerSecond: 1 } },
      now: clock.now,
    })
    for (let i = 0; i < 6; i++) limiter.take('peerA/vain/echo/1.0.0')
    expect(limiter.tokens('peerA/vain/echo/1.0.0')).toBe(4)
    limiter.setDefaults({ capacity: 3, refillPerSecond: 10 })
    expect(limiter.defaultConfig).toEqual({ capacity: 3, refillPerSecond: 10 })
    // 4 tokens earned, capped at the new capacity 3
    expect(limiter.tokens('peerA/vain/echo/1.0.0')).toBe(3)
    for (let i = 0; i < 3; i++) limiter.take('peerA/vain/echo/1.0.0')
    expect(limiter.tryTake('peerA/vain/echo/1.0.0').allowed).toBe(false)
    // the new refill rate: 10/s → one token per 100 ms
    clock.advance(100)
    expect(limiter.tryTake('peerA/vain/echo/1.0.0').allowed).toBe(true)
    // a fresh key gets the new capacity; the override is kept
    expect(limiter.tokens('peerB/vain/echo/1.0.0')).toBe(3)
    expect(limiter.configFor('peerB/vain/update/1.0.0')).toEqual({ capacity: 2, refillPerSecond: 1 })
  })

  it('refuses invalid figures with a ConfigError and keeps the old ones', () => {
    const limiter = new RateLimiter({ capacity: 5, refillPerSecond: 1 })
    for (const bad of [
      { capacity: 0, refillPerSecond: 1 },
      { capacity: 5, refillPerSecond: Number.NaN },
      { capacity: Number.POSITIVE_INFINITY, refillPerSecond: 1 },
    ]) {
      expect(() => limiter.setDefaults(bad)).toThrow(ConfigError)
    }
    expect(limiter.defaultConfig).toEqual({ capacity: 5, refillPerSecond: 1 })
  })
})

const echo = defineRequestProtocol({
  id: '/vain-test/adaptive-echo/1.0.0',
  request: z.object({ n: z.number().int() }),
  response: z.object({ n: z.number().int() }),
  timeoutMs: 30_000,
})

describe('a running node adapts its limits', () => {
  const nodes: VainNode[] = []
  afterAll(async () => {
    await stopNodes(nodes)
  })

  it('advertises its spare capacity in the signed descriptor, as its peers see it', async () => {
    const capacity = { score: 0.75, cpuCores: 1.5, memoryBytes: 2 ** 30, gpus: 0, onBattery: false }
    const a = await startNode({ capacity })
    const b = await startNode({ bootstrap: a.multiaddrs.map(String) })
    nodes.push(a, b)
    await waitFor(
      () => b.descriptor(a.peerId) !== undefined && a.descriptor(b.peerId) !== undefined,
      60_000,
      'both nodes authenticated',
    )
    expect(b.descriptor(a.peerId)?.capacity).toEqual(capacity)
    // a node that advertises nothing has no capacity field (absent, not zero)
    expect(a.descriptor(b.peerId)?.capacity).toBeUndefined()
  })

  it('refuses an invalid capacity in the config, and a descriptor with one', async () => {
    await expect(createNode(testConfig({ capacity: { score: 2 } as never }))).rejects.toBeInstanceOf(ConfigError)
    const base = {
      protocolVersion: 1,
      softwareVersion: 'x',
      peerId: 'p',
      roles: ['trainer'],
      capabilities: [],
      timestamp: 1,
    }
    expect(NodeDescriptorSchema.safeParse({ ...base, capacity: { score: -0.1 } }).success).toBe(false)
    expect(NodeDescriptorSchema.safeParse({ ...base, capacity: { score: 0.5, gpus: 1.5 } }).success).toBe(false)
    expect(NodeDescriptorSchema.safeParse({ ...base, capacity: { score: 0.5, extra: 1 } }).success).toBe(false)
    expect(NodeDescriptorSchema.safeParse({ ...base, capacity: { score: 0.5 } }).success).toBe(true)
  })

  it('setInboundRate tightens and loosens the per-peer budget of a running node', async () => {
    const server = await startNode({ limits: { rateLimitCapacity: 100, rateLimitRefillPerSecond: 0.001 } })
    const client = await startNode({ bootstrap: server.multiaddrs.map(String) })
    nodes.push(server, client)
    await server.handle(echo, async (req) => req)
    await waitFor(() => client.descriptor(server.peerId) !== undefined, 60_000, 'client authenticated the server')
    const call = (n: number) => client.request(server.peerId, echo, { n })
    expect((await call(1)).n).toBe(1)
    // tighten: 2 requests, refilling 1 per ~17 minutes — the third is refused
    server.setInboundRate({ capacity: 2, refillPerSecond: 0.001 })
    expect(server.inboundLimits.perPeer.defaultConfig.capacity).toBe(2)
    await call(2)
    await call(3)
    await expect(call(4)).rejects.toBeInstanceOf(RateLimitedError)
    // loosen again: a large burst with a quick refill (no wall-clock deadline: the capacity alone admits these)
    server.setInboundRate({ capacity: 50, refillPerSecond: 0.001 })
    // tokens earned under the tight budget are kept (≈0); wait until a token refills at the new rate is too slow,
    // so reset the client's buckets as a node would after a ban ends: new peers start full
    server.rateLimiter.reset(`${client.peerId.toString()}${echo.id}`)
    for (let i = 0; i < 20; i++) expect((await call(10 + i)).n).toBe(10 + i)
    expect(() => server.setInboundRate({ capacity: -1, refillPerSecond: 1 })).toThrow(ConfigError)
  })

  it('setCompression switches default payload compression at run time', async () => {
    const node = await startNode({ compression: { enabled: true } })
    nodes.push(node)
    expect(node.compressionEnabled).toBe(true)
    node.setCompression(false)
    expect(node.compressionEnabled).toBe(false)
    node.setCompression(true)
    expect(node.compressionEnabled).toBe(true)
  })
})
