import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  addressRangeOf,
  createNode,
  defineRequestProtocol,
  InboundLimits,
  inboundLimitsOf,
  ipRangeOf,
  LOOPBACK_RANGE,
  parseNodeConfig,
  RateLimitedError,
  UNKNOWN_RANGE,
  type VainNode,
} from '../src/index.js'
import { startNode, stopNodes, testConfig } from './fixtures/network.js'

function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

const ECHO = '/vain/echo/1.0.0'
const UPDATE = '/vain/update/1.0.0'

describe('address ranges', () => {
  it('groups IPv4 by /24', () => {
    expect(ipRangeOf('203.0.113.7')).toBe('203.0.113.0/24')
    expect(ipRangeOf('203.0.113.250')).toBe(ipRangeOf('203.0.113.1'))
    expect(ipRangeOf('203.0.114.7')).not.toBe(ipRangeOf('203.0.113.7'))
    expect(ipRangeOf('10.1.2.3', { ipv4PrefixBits: 16 })).toBe('10.1.0.0/16')
    expect(ipRangeOf('10.1.2.3', { ipv4PrefixBits: 32 })).toBe('10.1.2.3/32')
  })

  it('groups IPv6 by /48, whatever the notation', () => {
    expect(ipRangeOf('2001:db8:1:2::5')).toBe('2001:db8:1::/48')
    expect(ipRangeOf('2001:0db8:0001:ffff:0:0:0:1')).toBe('2001:db8:1::/48')
    expect(ipRangeOf('2001:db8:1:ffff:ffff::1')).toBe(ipRangeOf('2001:db8:1::9'))
    expect(ipRangeOf('2001:db8:2::1')).not.toBe(ipRangeOf('2001:db8:1::1'))
    expect(ipRangeOf('2001:db8:abcd:1234::1', { ipv6PrefixBits: 56 })).toBe('2001:db8:abcd:1200::/56')
    // an IPv4-mapped address is its IPv4 address
    expect(ipRangeOf('::ffff:198.51.100.9')).toBe('198.51.100.0/24')
  })

  it('puts every loopback address in one range, and anything unparsable in another', () => {
    for (const ip of ['127.0.0.1', '127.0.0.2', '127.200.1.1', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(ipRangeOf(ip)).toBe(LOOPBACK_RANGE)
    }
    expect(ipRangeOf('not-an-ip')).toBe(UNKNOWN_RANGE)
    expect(ipRangeOf('1::2::3')).toBe(UNKNOWN_RANGE)
    expect(ipRangeOf('256.1.1.1')).toBe(UNKNOWN_RANGE)
    expect(() => ipRangeOf('1.2.3.4', { ipv4PrefixBits: 33 })).toThrow(RangeError)
  })

  it('reads the range from a connection multiaddr', () => {
    expect(addressRangeOf(multiaddr('/ip4/198.51.100.23/tcp/4001'))).toBe('198.51.100.0/24')
    expect(addressRangeOf(multiaddr('/ip6/2001:db8:aa:bb::1/tcp/4001/ws'))).toBe('2001:db8:aa::/48')
    expect(addressRangeOf(multiaddr('/ip4/127.0.0.1/tcp/4001'))).toBe(LOOPBACK_RANGE)
    expect(addressRangeOf(multiaddr('/dns4/example.com/tcp/4001'))).toBe(UNKNOWN_RANGE)
    expect(addressRangeOf(undefined)).toBe(UNKNOWN_RANGE)
  })
})

describe('InboundLimits: shared budgets (manual clock)', () => {
  it('a per-protocol budget bounds many identities together; refusals name the budget and cost nothing', () => {
    const clock = manualClock()
    const limits = new InboundLimits({
      perPeer: { capacity: 10, refillPerSecond: 1 },
      perProtocol: { capacity: 25, refillPerSecond: 5, overrides: { [UPDATE]: { capacity: 3 } } },
      perRange: false,
      now: clock.now,
    })
    let served = 0
    for (let round = 0; round < 10; round++) {
      for (let p = 0; p < 10; p++) {
        const r = limits.check(`peer${p}`, ECHO)
        if (r.allowed) served++
        else expect(r).toMatchObject({ budget: 'protocol', key: ECHO, retryAfterMs: 200 })
      }
    }
    expect(served).toBe(25)
    // nobody's own bucket was charged for the refused requests
    for (let p = 0; p < 10; p++) expect(limits.perPeer.tokens(`peer${p}${ECHO}`)).toBeGreaterThanOrEqual(7)
    expect(() => limits.admit('peer0', ECHO)).toThrow(RateLimitedError)
    expect(() => limits.admit('peer0', ECHO)).toThrow(/per-protocol budget of \/vain\/echo\/1\.0\.0/)
    // other protocols have their own shared budget
    expect(limits.check('peer0', UPDATE).allowed).toBe(true)
    clock.advance(200)
    expect(limits.check('peer9', ECHO).allowed).toBe(true)
  })

  it('a peer over its own limit does not drain the shared budgets', () => {
    const clock = manualClock()
    const limits = new InboundLimits({
      perPeer: { capacity: 2, refillPerSecond: 1 },
      perProtocol: { capacity: 5, refillPerSecond: 1 },
      perRange: { capacity: 5, refillPerSecond: 1 },
      now: clock.now,
    })
    const addr = multiaddr('/ip4/198.51.100.1/tcp/1')
    for (let i = 0; i < 100; i++) limits.check('greedy', ECHO, addr)
    const r = limits.check('greedy', ECHO, addr)
    expect(r).toMatchObject({ allowed: false, budget: 'peer' })
    expect(limits.perProtocol?.tokens(ECHO)).toBe(3)
    expect(limits.perRange?.tokens('198.51.100.0/24')).toBe(3)
  })

  it('a per-range budget groups peers by range, across protocols', () => {
    const clock = manualClock()
    const limits = new InboundLimits({
      perPeer: { capacity: 100, refillPerSecond: 1 },
      perProtocol: false,
      perRange: { capacity: 6, refillPerSecond: 2 },
      now: clock.now,
    })
    const sybilAddrs = Array.from({ length: 6 }, (_, i) => multiaddr(`/ip4/203.0.113.${i + 10}/tcp/4001`))
    let served = 0
    for (let i = 0; i < 60; i++) {
      const r = limits.check(`sybil${i % 6}`, i % 2 === 0 ? ECHO : UPDATE, sybilAddrs[i % 6])
      if (r.allowed) served++
      else {
        expect(r).toMatchObject({ budget: 'range', key: '203.0.113.0/24', retryAfterMs: 500 })
        expect(r.message).toMatch(/address range 203\.0\.113\.0\/24/)
      }
    }
    expect(served).toBe(6)
    // another /24 and another /48 are untouched
    expect(limits.check('honest4', ECHO, multiaddr('/ip4/203.0.114.1/tcp/4001')).allowed).toBe(true)
    expect(limits.check('honest6', ECHO, multiaddr('/ip6/2001:db8:1::1/tcp/4001')).allowed).toBe(true)
    clock.advance(500)
    expect(limits.check('sybil0', ECHO, sybilAddrs[0]).allowed).toBe(true)
  })
})

describe('config: shared budgets', () => {
  it('has defaults per profile and can be set or turned off', () => {
    const lan = inboundLimitsOf(parseNodeConfig({}))
    expect(lan.perPeer).toEqual({ capacity: 100, refillPerSecond: 50 })
    expect(lan.perProtocol).toMatchObject({ capacity: 1000, refillPerSecond: 500 })
    expect(lan.perRange).toMatchObject({ capacity: 500, refillPerSecond: 250, ipv4PrefixBits: 24, ipv6PrefixBits: 48 })
    // on loopback every peer is one range: off unless set
    expect(inboundLimitsOf(parseNodeConfig({ profile: 'loopback' })).perRange).toBe(false)
    const set = inboundLimitsOf(
      parseNodeConfig({
        profile: 'loopback',
        limits: {
          rangeRateLimitCapacity: 7,
          protocolRateLimitCapacity: 0,
          protocolRateLimitOverrides: { [UPDATE]: { capacity: 2 } },
        },
      }),
    )
    expect(set.perRange).toMatchObject({ capacity: 7 })
    expect(set.perProtocol).toBe(false)
    expect(() => parseNodeConfig({ limits: { rangeRateLimitCapacity: -1 } })).toThrow(/rangeRateLimitCapacity/)
    expect(() => parseNodeConfig({ limits: { protocolRateLimitOverrides: { echo: { capacity: 1 } } } })).toThrow(
      /protocolRateLimitOverrides/,
    )
  })
})

const echo = defineRequestProtocol({
  id: '/vain-test/shared-echo/1.0.0',
  request: z.object({ n: z.number().int() }),
  response: z.object({ n: z.number().int() }),
  timeoutMs: 20_000,
})

/** A light client node: handshake only, no DHT, PEX or gossip (ten of them share 2 cores). */
async function startClient(): Promise<VainNode> {
  const node = await createNode(
    testConfig({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      sessions: { rttProbeIntervalMs: 0 },
    }),
  )
  await node.start()
  return node
}

interface Tally {
  served: number
  refusals: RateLimitedError[]
  other: unknown[]
}

async function burst(client: VainNode, server: VainNode, count: number): Promise<Tally> {
  const results = await Promise.allSettled(
    Array.from({ length: count }, (_, n) => client.request(server.peerId, echo, { n })),
  )
  const tally: Tally = { served: 0, refusals: [], other: [] }
  for (const r of results) {
    if (r.status === 'fulfilled') tally.served++
    else if (r.reason instanceof RateLimitedError) tally.refusals.push(r.reason)
    else tally.other.push(r.reason)
  }
  return tally
}

describe('shared budgets over real nodes', () => {
  let nodes: Array<VainNode | undefined> = []
  afterEach(async () => {
    await stopNodes(nodes)
    nodes = []
  })

  it('ten fresh identities together get at most the per-protocol budget; honest requests recover after', async () => {
    const N = 30
    const REFILL = 2
    const server = await startNode({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      limits: {
        // each identity stays well under its own limit: only the shared budget can refuse
        rateLimitCapacity: 50,
        rateLimitRefillPerSecond: 1,
        protocolRateLimitCapacity: N,
        protocolRateLimitRefillPerSecond: REFILL,
        // every identity here is fresh: none of the budget is kept for known peers
        protocolReservedForKnown: 0,
      },
    })
    nodes.push(server)
    let handled = 0
    await server.handle(echo, (req) => {
      handled++
      return { n: req.n }
    })
    const sybils = await Promise.all(Array.from({ length: 10 }, () => startClient()))
    nodes.push(...sybils)
    await Promise.all(sybils.map((s) => s.connect(server.multiaddrs[0]!)))

    const started = Date.now()
    const PER_IDENTITY = 20
    const tallies = await Promise.all(sybils.map((s) => burst(s, server, PER_IDENTITY)))
    const elapsedS = (Date.now() - started) / 1000
    const served = tallies.reduce((a, t) => a + t.served, 0)
    const refusals = tallies.flatMap((t) => t.refusals)
    expect(tallies.flatMap((t) => t.other)).toEqual([])
    expect(served + refusals.length).toBe(10 * PER_IDENTITY)
    expect(handled).toBe(served)
    // the budget is spent before anything is refused, and never exceeded beyond its refill
    expect(served).toBeGreaterThanOrEqual(N)
    expect(served).toBeLessThanOrEqual(N + Math.ceil(REFILL * elapsedS) + 1)
    expect(refusals.length).toBeGreaterThan(0)
    for (const err of refusals) {
      expect(err.message).toMatch(/per-protocol budget of \/vain-test\/shared-echo\/1\.0\.0/)
      expect(err.retryAfterMs).toBeGreaterThan(0)
      expect(err.retryAfterMs).toBeLessThanOrEqual(Math.ceil(1000 / REFILL))
    }
    // each identity stayed under its per-peer limit
    for (const t of tallies) expect(t.served).toBeLessThanOrEqual(PER_IDENTITY)

    // after the flood window, an honest identity is served again: wait what the server said
    const honest = await startClient()
    nodes.push(honest)
    await honest.connect(server.multiaddrs[0]!)
    const wait = Math.max(...refusals.map((e) => e.retryAfterMs))
    let answer: { n: number } | undefined
    for (let attempt = 0; attempt < 20 && answer === undefined; attempt++) {
      await new Promise((r) => setTimeout(r, wait))
      try {
        answer = await honest.request(server.peerId, echo, { n: 42 })
      } catch (err) {
        if (!(err instanceof RateLimitedError)) throw err
      }
    }
    expect(answer).toEqual({ n: 42 })
    // a breaker does not count refusals as failures
    expect(sybils[0]!.breakers.state(server.peerId.toString())).toBe('closed')
  })

  it('a per-range budget set on loopback is shared by every identity from 127.0.0.1', async () => {
    const M = 12
    const server = await startNode({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      limits: {
        rateLimitCapacity: 50,
        rateLimitRefillPerSecond: 1,
        rangeRateLimitCapacity: M,
        rangeRateLimitRefillPerSecond: 1,
        protocolRateLimitCapacity: 10_000,
      },
    })
    nodes.push(server)
    await server.handle(echo, (req) => ({ n: req.n }))
    const sybils = await Promise.all(Array.from({ length: 4 }, () => startClient()))
    nodes.push(...sybils)
    await Promise.all(sybils.map((s) => s.connect(server.multiaddrs[0]!)))
    const started = Date.now()
    const tallies = await Promise.all(sybils.map((s) => burst(s, server, 10)))
    const elapsedS = (Date.now() - started) / 1000
    const served = tallies.reduce((a, t) => a + t.served, 0)
    const refusals = tallies.flatMap((t) => t.refusals)
    expect(tallies.flatMap((t) => t.other)).toEqual([])
    expect(served).toBeGreaterThanOrEqual(M)
    expect(served).toBeLessThanOrEqual(M + Math.ceil(elapsedS) + 1)
    expect(refusals.length).toBe(40 - served)
    for (const err of refusals) expect(err.message).toMatch(/per-range budget of address range loopback/)
  })
})
