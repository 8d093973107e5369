import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  createNode,
  defineRequestProtocol,
  InboundLimits,
  PeerPenalties,
  RateLimitedError,
  type VainNode,
} from '../src/index.js'
import { startNode, stopNodes, testConfig, waitFor } from './fixtures/network.js'

function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

const ECHO = '/vain/echo/1.0.0'

describe('PeerPenalties (manual clock)', () => {
  it('answers the first strikes, resets the next, bans on the one beyond; strikes are forgiven over the window', () => {
    const clock = manualClock()
    const p = new PeerPenalties({ maxStrikes: 6, strikeWindowMs: 6_000, banMs: 30_000, now: clock.now })
    expect(p.answeredStrikes).toBe(3)
    expect(p.isStruck('a')).toBe(false)
    const seen = Array.from({ length: 7 }, () => p.strike('a'))
    expect(seen).toEqual(['answer', 'answer', 'answer', 'reset', 'reset', 'reset', 'ban'])
    expect(p.isBanned('a')).toBe(true)
    expect(p.isStruck('a')).toBe(true)
    expect(p.isBanned('b')).toBe(false)
    // one strike per second comes back: a peer that stops is answered again before long
    clock.advance(29_999)
    expect(p.isBanned('a')).toBe(true)
    clock.advance(1)
    expect(p.isBanned('a')).toBe(false)
    expect(p.isStruck('a')).toBe(false)
    expect(p.strike('a')).toBe('answer')
    expect(p.bansIssued).toBe(1)
  })

  it('a peer that asks before the retry time it was told is early; one that waited is not', () => {
    const clock = manualClock()
    const p = new PeerPenalties({ now: clock.now })
    expect(p.isEarly('a')).toBe(false)
    p.told('a', 100)
    expect(p.isEarly('a')).toBe(true)
    clock.advance(99)
    expect(p.isEarly('a')).toBe(true)
    clock.advance(1)
    expect(p.isEarly('a')).toBe(false)
  })

  it('holds at most maxBans bans, dropping the one closest to expiry; pardon lifts a ban', () => {
    const clock = manualClock()
    const p = new PeerPenalties({ maxBans: 3, banMs: 10_000, now: clock.now })
    for (let i = 0; i < 5; i++) {
      p.ban(`peer${i}`)
      clock.advance(1)
    }
    expect(p.bannedCount).toBe(3)
    expect(['peer0', 'peer1'].map((x) => p.isBanned(x))).toEqual([false, false])
    expect(['peer2', 'peer3', 'peer4'].map((x) => p.isBanned(x))).toEqual([true, true, true])
    p.pardon('peer3')
    expect(p.isBanned('peer3')).toBe(false)
    expect(() => new PeerPenalties({ maxStrikes: 0 })).toThrow(/maxStrikes/)
  })
})

describe('InboundLimits: a share kept for known peers (manual clock)', () => {
  it('newcomers together get at most the unreserved share, in burst and rate; known peers are still served', () => {
    const clock = manualClock()
    const limits = new InboundLimits({
      perPeer: { capacity: 100, refillPerSecond: 100 },
      perProtocol: { capacity: 20, refillPerSecond: 10, reservedForKnown: 0.5 },
      perRange: false,
      now: clock.now,
    })
    let served = 0
    for (let i = 0; i < 100; i++) if (limits.check(`sybil${i % 10}`, ECHO).allowed) served++
    expect(served).toBe(10)
    const refused = limits.check('sybil0', ECHO)
    expect(refused).toMatchObject({ allowed: false, budget: 'protocol' })
    if (!refused.allowed) {
      expect(refused.message).toMatch(/for peers not yet known/)
      // the shared budget's next token goes to whoever asks first: come back later, not at once
      expect(refused.retryAfterMs).toBeGreaterThanOrEqual(200)
    }
    // the reserved half is there for a known peer
    for (let i = 0; i < 10; i++) expect(limits.check('honest', ECHO, undefined, { known: true }).allowed).toBe(true)
    expect(limits.check('honest', ECHO, undefined, { known: true })).toMatchObject({ allowed: false })
    // newcomers refill at half the rate: 5 per second
    clock.advance(1_000)
    served = 0
    for (let i = 0; i < 50; i++) if (limits.check(`sybil${i % 10}`, ECHO).allowed) served++
    expect(served).toBe(5)
  })

  it('a refusal by a shared budget says retry no sooner than minSharedRetryAfterMs; by the own budget, when a token is back', () => {
    const clock = manualClock()
    const limits = new InboundLimits({
      perPeer: { capacity: 1, refillPerSecond: 1000 },
      perProtocol: { capacity: 2, refillPerSecond: 1000 },
      perRange: false,
      minSharedRetryAfterMs: 250,
      now: clock.now,
    })
    expect(limits.check('a', ECHO).allowed).toBe(true)
    expect(limits.check('a', ECHO)).toMatchObject({ allowed: false, budget: 'peer', retryAfterMs: 1 })
    expect(limits.check('b', ECHO).allowed).toBe(true)
    expect(limits.check('c', ECHO)).toMatchObject({ allowed: false, budget: 'protocol', retryAfterMs: 250 })
    expect(
      () => new InboundLimits({ ...limitsInit(), perProtocol: { ...limitsInit().perProtocol, reservedForKnown: 1 } }),
    ).toThrow(/reservedForKnown/)
  })
})

function limitsInit() {
  return {
    perPeer: { capacity: 1, refillPerSecond: 1 },
    perProtocol: { capacity: 1, refillPerSecond: 1 },
    perRange: false as const,
  }
}

const echo = defineRequestProtocol({
  id: '/vain-test/flood-echo/1.0.0',
  request: z.object({ n: z.number().int() }),
  response: z.object({ n: z.number().int() }),
  timeoutMs: 20_000,
})

async function startClient(): Promise<VainNode> {
  const node = await createNode(
    testConfig({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      sessions: { rttProbeIntervalMs: 0 },
      // the attacker's own breaker must not stop it: it keeps asking whatever it is told
      limits: { breakerFailureThreshold: 1000 },
    }),
  )
  await node.start()
  return node
}

describe('flood defence over real nodes', () => {
  let nodes: Array<VainNode | undefined> = []
  afterEach(async () => {
    await stopNodes(nodes)
    nodes = []
  })

  it('a peer that keeps asking past its own budget is answered, then reset, then banned: disconnected and refused on redial; others are still served', async () => {
    const server = await startNode({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      limits: { rateLimitCapacity: 4, rateLimitRefillPerSecond: 0.5, maxStrikes: 8, banMs: 600_000 },
    })
    nodes.push(server)
    let handled = 0
    await server.handle(echo, (req) => {
      handled++
      return { n: req.n }
    })
    const greedy = await startClient()
    const honest = await startClient()
    nodes.push(greedy, honest)
    await greedy.connect(server.multiaddrs[0]!)
    await honest.connect(server.multiaddrs[0]!)

    const banned = once(server, 'peer:banned') as Promise<[CustomEvent<{ peerId: { toString(): string } }>]>
    const outcomes: unknown[] = []
    // one request after another, each refusal retried at once, until the server bans it
    let stop = false
    void banned.then(() => {
      stop = true
    })
    for (let n = 0; n < 200 && !stop; n++) {
      try {
        outcomes.push(await greedy.request(server.peerId, echo, { n }))
      } catch (err) {
        outcomes.push(err)
      }
    }
    const [evt] = await banned
    expect(evt.detail.peerId.toString()).toBe(greedy.peerId.toString())
    expect(server.penalties?.isBanned(greedy.peerId.toString())).toBe(true)
    const served = outcomes.filter((o) => !(o instanceof Error)).length
    const answered = outcomes.filter((o) => o instanceof RateLimitedError)
    const reset = outcomes.filter((o) => o instanceof Error && !(o instanceof RateLimitedError))
    expect(served).toBe(handled)
    expect(served).toBeLessThanOrEqual(5)
    // half the strikes are answered with a typed error, the rest reset without an answer
    expect(answered.length).toBeGreaterThanOrEqual(3)
    expect(answered.length).toBeLessThanOrEqual(4)
    for (const err of answered) expect((err as RateLimitedError).message).toMatch(/per-peer budget/)
    expect(reset.length).toBeGreaterThanOrEqual(4)

    // its connections are closed, and it may not connect again while banned
    await waitFor(
      () => !server.connectedPeers().some((p) => p.equals(greedy.peerId)),
      20_000,
      'the banned peer is disconnected',
    )
    await expect(greedy.connect(server.multiaddrs[0]!)).rejects.toThrow()
    expect(server.connectedPeers().some((p) => p.equals(greedy.peerId))).toBe(false)

    // the other peer was never struck and is served
    expect(await honest.request(server.peerId, echo, { n: 7 })).toEqual({ n: 7 })
    expect(server.penalties?.isBanned(honest.peerId.toString())).toBe(false)
  })

  it('a refusal by a shared budget is no strike, unless the peer asks again before the retry time it was told', async () => {
    const server = await startNode({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      limits: {
        rateLimitCapacity: 1000,
        protocolRateLimitCapacity: 2,
        protocolRateLimitRefillPerSecond: 0.001,
        protocolReservedForKnown: 0,
        maxStrikes: 4,
      },
    })
    nodes.push(server)
    await server.handle(echo, (req) => ({ n: req.n }))
    const patient = await startClient()
    const eager = await startClient()
    nodes.push(patient, eager)
    await patient.connect(server.multiaddrs[0]!)
    await eager.connect(server.multiaddrs[0]!)
    expect(await patient.request(server.peerId, echo, { n: 1 })).toEqual({ n: 1 })
    expect(await patient.request(server.peerId, echo, { n: 2 })).toEqual({ n: 2 })
    // the shared budget is spent: each peer's first refusal is answered and is no strike
    await expect(patient.request(server.peerId, echo, { n: 3 })).rejects.toBeInstanceOf(RateLimitedError)
    expect(server.penalties?.isStruck(patient.peerId.toString())).toBe(false)
    // asking again at once, long before the retry time (~1000 s here), is a strike
    const errors: unknown[] = []
    for (let n = 0; n < 4; n++) errors.push(await eager.request(server.peerId, echo, { n }).catch((err) => err))
    expect(errors[0]).toBeInstanceOf(RateLimitedError)
    expect(server.penalties?.isStruck(eager.peerId.toString())).toBe(true)
    expect(server.penalties?.isStruck(patient.peerId.toString())).toBe(false)
  })

  it('fresh identities flooding together cannot spend the share of a budget kept for a known peer', async () => {
    const KNOWN_AFTER = 3_000
    const server = await startNode({
      discovery: { dht: false, pex: false },
      gossip: { enabled: false },
      limits: {
        rateLimitCapacity: 1000,
        protocolRateLimitCapacity: 20,
        protocolRateLimitRefillPerSecond: 0.01,
        protocolReservedForKnown: 0.5,
        knownPeerAfterMs: KNOWN_AFTER,
        maxStrikes: 1000,
      },
    })
    nodes.push(server)
    await server.handle(echo, (req) => ({ n: req.n }))
    const honest = await startClient()
    nodes.push(honest)
    await honest.connect(server.multiaddrs[0]!)
    // the honest peer has been connected for a while before the flood starts
    await waitFor(
      () => server.libp2p.getConnections(honest.peerId).some((c) => Date.now() - c.timeline.open >= KNOWN_AFTER + 100),
      20_000,
      'the honest peer is known',
    )
    const sybils = await Promise.all(Array.from({ length: 5 }, () => startClient()))
    nodes.push(...sybils)
    await Promise.all(sybils.map((s) => s.connect(server.multiaddrs[0]!)))
    const results = await Promise.allSettled(
      sybils.flatMap((s) => Array.from({ length: 6 }, (_, n) => s.request(server.peerId, echo, { n }))),
    )
    const served = results.filter((r) => r.status === 'fulfilled').length
    expect(served).toBe(10)
    for (const r of results) {
      if (r.status === 'rejected') {
        expect(r.reason).toBeInstanceOf(RateLimitedError)
        expect((r.reason as Error).message).toMatch(/for peers not yet known/)
      }
    }
    // the known peer is served from the reserved half
    for (let n = 0; n < 10; n++) expect(await honest.request(server.peerId, echo, { n })).toEqual({ n })
  })
})
