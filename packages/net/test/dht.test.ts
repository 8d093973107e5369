import { createHash, randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p } from '@libp2p/interface'
import { kadDHT, type SingleKadDHT } from '@libp2p/kad-dht'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { isLoopback } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addressPolicyMapper, dhtOptions, mdnsOptions, VAIN_KAD_PROTOCOL } from '../src/discovery/index.js'
import { createTestLibp2p, stopAll, waitFor } from './fixtures/libp2p.js'

type DhtNode = Libp2p<{ dht: SingleKadDHT; identify: unknown; ping: unknown }>

const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

describe('dhtOptions / addressPolicyMapper', () => {
  const addrs = ['/ip4/127.0.0.1/tcp/1', '/ip4/192.168.1.5/tcp/1', '/ip4/8.8.8.8/tcp/1', '/ip4/169.254.1.1/tcp/1'].map(
    (a) => multiaddr(a),
  )
  const kept = (policy: 'loopback' | 'lan' | 'public') =>
    addressPolicyMapper(policy)({ id, multiaddrs: addrs }).multiaddrs.map((m) => m.toString())

  it('keeps the addresses each policy allows', () => {
    expect(kept('public')).toEqual(['/ip4/8.8.8.8/tcp/1'])
    expect(kept('loopback')).toEqual(['/ip4/127.0.0.1/tcp/1', '/ip4/8.8.8.8/tcp/1'])
    expect(kept('lan')).toEqual(['/ip4/127.0.0.1/tcp/1', '/ip4/192.168.1.5/tcp/1', '/ip4/8.8.8.8/tcp/1'])
  })

  it('gives server mode and the vAIn protocol; rejects unknown policies', () => {
    const opts = dhtOptions({ addressPolicy: 'loopback' })
    expect(opts.clientMode).toBe(false)
    expect(opts.protocol).toBe(VAIN_KAD_PROTOCOL)
    expect(typeof opts.peerInfoMapper).toBe('function')
    expect(dhtOptions({ addressPolicy: 'lan', overrides: { kBucketSize: 5 } }).kBucketSize).toBe(5)
    expect(() => dhtOptions({ addressPolicy: 'internet' as 'public' })).toThrow(
      expect.objectContaining({ name: 'ConfigError' }),
    )
  })

  it('mDNS is off unless explicitly enabled', () => {
    expect(mdnsOptions()).toBeUndefined()
    expect(mdnsOptions({ interval: 5_000 })).toBeUndefined()
    expect(mdnsOptions({ enabled: true, interval: 5_000 })).toEqual({ interval: 5_000 })
  })
})

describe('kad-dht on loopback with dhtOptions({ addressPolicy: "loopback" })', () => {
  const nodes: DhtNode[] = []

  beforeAll(async () => {
    // a star: node 0 is the hub, nodes 1..5 know only the hub
    for (let i = 0; i < 6; i++) {
      const dht = kadDHT(
        dhtOptions({
          addressPolicy: 'loopback',
          // no self-queries: the leaves learn about each other only through the lookups below
          overrides: {
            querySelfInterval: 3_600_000,
            initialQuerySelfInterval: 3_600_000,
            allowQueryWithZeroPeers: true,
          },
        }),
      )
      nodes.push((await createTestLibp2p({ services: { dht } })) as unknown as DhtNode)
    }
    const hub = nodes[0]!
    for (const leaf of nodes.slice(1)) await leaf.dial(hub.getMultiaddrs()[0]!)
    await waitFor(
      () =>
        hub.services.dht.routingTable.size === nodes.length - 1 &&
        nodes.every((n) => n.services.dht.routingTable.size >= 1),
      { message: 'routing tables did not fill' },
    )
  }, 30_000)

  afterAll(async () => {
    await stopAll(nodes)
  })

  it('finds a peer it is not connected to via peerRouting.findPeer', { timeout: 30_000 }, async () => {
    const first = nodes[1]!
    const last = nodes[5]!
    expect(first.getConnections(last.peerId)).toHaveLength(0)
    expect(await first.peerStore.has(last.peerId)).toBe(false)

    const found = await first.peerRouting.findPeer(last.peerId, { signal: AbortSignal.timeout(20_000) })
    expect(found.id.equals(last.peerId)).toBe(true)
    expect(found.multiaddrs.length).toBeGreaterThan(0)
    expect(found.multiaddrs.every((m) => isLoopback(m))).toBe(true)
    await first.dial(last.peerId)
    expect(first.getConnections(last.peerId).length).toBeGreaterThan(0)
  })

  it('one node provides a CID, a distant node finds it as provider', { timeout: 30_000 }, async () => {
    const provider = nodes[2]!
    const seeker = nodes[4]!
    // a CIDv1 over a random sha2-256 multihash, built via a legacy peer id string so the test
    // needs no direct multiformats dependency (an Ed25519 peer id's identity-hash CID makes
    // kad-dht 16 reset GET_PROVIDERS streams)
    const multihash = Uint8Array.from([0x12, 0x20, ...createHash('sha256').update(randomBytes(32)).digest()])
    const cid = peerIdFromString(uint8ArrayToString(multihash, 'base58btc')).toCID()
    await provider.contentRouting.provide(cid, { signal: AbortSignal.timeout(20_000) })

    let foundProvider = false
    for await (const p of seeker.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(20_000) })) {
      if (p.id.equals(provider.peerId)) {
        foundProvider = true
        expect(p.multiaddrs.some((m) => isLoopback(m))).toBe(true)
        break
      }
    }
    expect(foundProvider).toBe(true)
  })
})
