import { createServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  type BootstrapWithRedial,
  type BootstrapWithRedialInit,
  backoffDelay,
  bootstrapWithRedial,
} from '../src/discovery/index.js'
import { createTestLibp2p, stopAll, stubComponents, waitFor } from './fixtures/libp2p.js'

type DialerNode = Libp2p<{ bootstrap: BootstrapWithRedial; identify: unknown; ping: unknown }>

const nodes: Array<Libp2p | undefined> = []
afterEach(async () => {
  await stopAll(nodes.splice(0))
})

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

async function bootstrapNode(privateKey: PrivateKey, port: number): Promise<Libp2p> {
  const node = await createTestLibp2p({ privateKey, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
  nodes.push(node)
  return node
}

async function dialerNode(init: BootstrapWithRedialInit): Promise<DialerNode> {
  const node = await createTestLibp2p({ services: { bootstrap: bootstrapWithRedial(init) } })
  nodes.push(node)
  return node as unknown as DialerNode
}

const FAST_BACKOFF = { initialMs: 100, maxMs: 400, factor: 2 }

describe('bootstrap with redial', () => {
  it('rejects invalid multiaddrs in the list with ConfigError at construction', async () => {
    let error: unknown
    try {
      bootstrapWithRedial({
        list: ['not a multiaddr', '/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4001/p2p/QmNotAPeerId'],
      })
    } catch (err) {
      error = err
    }
    expect(error).toMatchObject({ name: 'ConfigError' })
    expect((error as { issues: string[] }).issues).toHaveLength(3)
    expect(() => bootstrapWithRedial({ list: [] })).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    const valid = `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`
    expect(() => bootstrapWithRedial({ list: [valid] })).not.toThrow()
    expect(() => bootstrapWithRedial({ list: [valid], backoff: { factor: 0.5 } })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })

  it('backs off between failed dials, and stop() releases every timer', async () => {
    vi.useFakeTimers()
    try {
      const addr = `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`
      const components = stubComponents(peerIdFromPrivateKey(await generateKeyPair('Ed25519')))
      const bootstrap = bootstrapWithRedial({
        list: [addr],
        backoff: { initialMs: 1_000, maxMs: 8_000, factor: 2, jitter: 0 },
      })(components as never)
      bootstrap.start()
      await bootstrap.afterStart?.()
      await vi.advanceTimersByTimeAsync(200)
      expect(bootstrap.stats.dialsFailed).toBe(1)
      // retries at +1 s, +2 s, +4 s, +8 s, +8 s ... (capped), not in a tight loop
      await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000 + 8_000)
      expect(bootstrap.stats.dialsFailed).toBe(5)
      expect(bootstrap.peers()[0]?.failures).toBe(5)
      bootstrap.stop()
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('reaches a bootstrap peer that starts after the dialer', { timeout: 20_000 }, async () => {
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    const addr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(key).toString()}`
    const dialer = await dialerNode({ list: [addr], minPeers: 1, backoff: FAST_BACKOFF })

    await waitFor(() => dialer.services.bootstrap.stats.dialsFailed >= 2, { message: 'no retry while down' })
    const boot = await bootstrapNode(key, port)
    await waitFor(() => dialer.getConnections(boot.peerId).length > 0, { message: 'never reached the bootstrap' })
    expect(dialer.services.bootstrap.peers()[0]).toMatchObject({ connected: true, failures: 0 })
  })

  it('reconnects after the bootstrap peer restarts (same key, same port), even above minPeers', {
    timeout: 20_000,
  }, async () => {
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    let boot = await bootstrapNode(key, port)
    const addr = `${boot.getMultiaddrs()[0]!.toString()}`
    const dialer = await dialerNode({ list: [addr], minPeers: 1, backoff: FAST_BACKOFF })
    await waitFor(() => dialer.getConnections(boot.peerId).length > 0)

    // another peer keeps the dialer at minPeers, so only the disconnect rule redials
    const other = await createTestLibp2p()
    nodes.push(other)
    await dialer.dial(other.getMultiaddrs()[0]!)

    const failuresBefore = dialer.services.bootstrap.stats.dialsFailed
    await boot.stop()
    await waitFor(() => dialer.getConnections(boot.peerId).length === 0)
    await waitFor(() => dialer.services.bootstrap.stats.dialsFailed > failuresBefore, {
      message: 'no redial after the disconnect',
    })
    boot = await bootstrapNode(key, port)
    await waitFor(() => dialer.getConnections(boot.peerId).length > 0, { message: 'did not reconnect' })
  })

  it('does not dial when enough peers are connected and no bootstrap peer dropped', { timeout: 20_000 }, async () => {
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    const addr = `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(key).toString()}`
    const other = await createTestLibp2p()
    nodes.push(other)
    const dialer = (await createTestLibp2p({
      start: false,
      services: { bootstrap: bootstrapWithRedial({ list: [addr], minPeers: 0, backoff: FAST_BACKOFF }) },
    })) as unknown as DialerNode
    nodes.push(dialer)
    await dialer.start()
    await dialer.dial(other.getMultiaddrs()[0]!)
    // give it several backoff periods' worth of chances to (wrongly) dial
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(dialer.services.bootstrap.stats.dialsStarted).toBe(0)
  })

  it('property: backoff delays stay in [0, maxMs] and grow with the attempt number', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 60 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (initialMs, extra, factor, jitter, attempt, r) => {
          const b = { initialMs, maxMs: initialMs + extra, factor, jitter }
          const d = backoffDelay(attempt, b, () => r)
          expect(d).toBeGreaterThanOrEqual(0)
          expect(d).toBeLessThanOrEqual(b.maxMs)
          const noJitter = { ...b, jitter: 0 }
          expect(backoffDelay(attempt + 1, noJitter)).toBeGreaterThanOrEqual(backoffDelay(attempt, noJitter))
        },
      ),
      { numRuns: 500 },
    )
  })
})
