/**
 * Blob sharing over real `@vain/net` nodes on 127.0.0.1: provider records in the Kademlia DHT,
 * chunks over the vAIn request protocol (handshake, rate limits, breakers), one provider that
 * serves bad data, and replication repaired after a node stops.
 */
import { createNode, type VainNode } from '@vain/net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BlobNetwork, type BlobSharing, createBlobSharing, createMemory, type Memory } from '../src/index.js'
import { vainNetBlobNetwork } from '../src/vain-net.js'
import { pseudoRandomBytes, removeTempDirs, tempDir, waitFor } from './fixtures/tmp.js'

const CHUNK = 16 * 1024

interface Peer {
  name: string
  node: VainNode
  memory: Memory
  sharing: BlobSharing
  stopped: boolean
}

/** A network port that corrupts every chunk this node serves (a lying provider). */
function lying(network: BlobNetwork): BlobNetwork {
  return {
    ...network,
    get self() {
      return network.self
    },
    serve: (handlers) =>
      network.serve({
        ...handlers,
        chunk: (cid, index, from) => {
          const bytes = handlers.chunk(cid, index, from)
          if (bytes === undefined) return undefined
          const bad = new Uint8Array(bytes)
          bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0x55
          return bad
        },
      }),
  }
}

async function startPeer(name: string, bootstrap: string[], lie = false): Promise<Peer> {
  const node = await createNode({
    profile: 'loopback',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    discovery: { mdns: false, pexIntervalMs: 1_000 },
    handshake: { graceMs: 5_000 },
    gossip: { enabled: false },
    limits: { rateLimitCapacity: 10_000, rateLimitRefillPerSecond: 10_000 },
  })
  await node.start()
  const memory = createMemory({ path: tempDir(name), blobs: { chunkBytes: CHUNK }, disk: { durability: 'commit' } })
  await memory.start()
  const network = vainNetBlobNetwork(node, { timeoutMs: 10_000 })
  const sharing = createBlobSharing({
    memory,
    network: lie ? lying(network) : network,
    requestTimeoutMs: 10_000,
    discoveryTimeoutMs: 20_000,
    repairIntervalMs: 300,
    perProviderConcurrency: 2,
  })
  await sharing.start()
  return { name, node, memory, sharing, stopped: false }
}

async function stopPeer(peer: Peer): Promise<void> {
  if (peer.stopped) return
  peer.stopped = true
  await peer.sharing.stop()
  await peer.node.stop()
  await peer.memory.stop()
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

describe('blob sharing over @vain/net on 127.0.0.1', () => {
  const peers: Peer[] = []
  const byName = (name: string) => peers.find((p) => p.name === name)!

  beforeAll(async () => {
    const first = await startPeer('a', [])
    peers.push(first)
    const bootstrap = first.node.multiaddrs.map(String)
    peers.push(
      ...(await Promise.all([
        startPeer('b', bootstrap),
        startPeer('liar', bootstrap, true),
        startPeer('fetcher', bootstrap),
        startPeer('spare', bootstrap),
      ])),
    )
    // every node authenticated with every other, and in every DHT routing table
    await waitFor(
      () =>
        peers.every(
          (p) =>
            p.node.authenticatedPeers().length === peers.length - 1 &&
            ((p.node.libp2p.services.dht as { routingTable?: { size: number } } | undefined)?.routingTable?.size ??
              0) >= 2,
        ),
      30_000,
      'a connected network with filled routing tables',
    )
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled(peers.map(stopPeer))
    removeTempDirs()
  })

  it('fetches a blob from 3 providers found in the DHT, one of them serving bad data', {
    timeout: 60_000,
  }, async () => {
    const data = pseudoRandomBytes(40 * CHUNK + 1_000, 11)
    const providers = ['a', 'b', 'liar'].map(byName)
    let cid = ''
    for (const p of providers) cid = (await p.memory.blobs.put(data)).cid.toString()
    // announce (put already does it in the background; wait for the records to be stored)
    await Promise.all(providers.map((p) => p.sharing.provide(cid)))

    const fetcher = byName('fetcher')
    const bad: string[] = []
    fetcher.sharing.addEventListener('provider:bad', (e) => bad.push(e.detail.peer))
    const report = await fetcher.sharing.fetch(cid)

    expect(same(await fetcher.memory.blobs.getBytes(cid), data)).toBe(true)
    expect(report).toMatchObject({ chunks: 41, chunksFetched: 41, size: data.byteLength })
    const liar = byName('liar').node.peerId.toString()
    expect(Object.keys(report.providers).sort()).toEqual(providers.map((p) => p.node.peerId.toString()).sort())
    expect(report.badProviders).toEqual([liar])
    expect(bad).toEqual([liar])
    expect(report.providers[liar]).toMatchObject({ chunks: 0, dropped: true })
    // the honest providers shared the work
    expect(report.providers[byName('a').node.peerId.toString()]!.chunks).toBeGreaterThan(0)
    expect(report.providers[byName('b').node.peerId.toString()]!.chunks).toBeGreaterThan(0)
  })

  it('keeps a blob on 2 peers and repairs the replication when a holder stops', { timeout: 60_000 }, async () => {
    const origin = byName('fetcher')
    const data = pseudoRandomBytes(8 * CHUNK, 12)
    const { cid } = await origin.memory.blobs.put(data)
    const holders = await origin.sharing.replicate(cid, { factor: 2 })
    expect(holders).toHaveLength(2)
    for (const id of holders) {
      const holder = peers.find((p) => p.node.peerId.toString() === id)!
      expect(holder.memory.blobs.pins(cid)).toEqual(['replica'])
      expect(same(await holder.memory.blobs.getBytes(cid), data)).toBe(true)
    }

    // one holder's node stops; the repair loop (every 300 ms) notices and places a new replica
    const victim = peers.find((p) => p.node.peerId.toString() === holders[0])!
    await stopPeer(victim)
    await waitFor(
      () => {
        const now = origin.sharing.replicas(cid)
        return now.length === 2 && !now.includes(holders[0]!)
      },
      30_000,
      'a replacement replica',
    )
    const replacement = origin.sharing.replicas(cid).find((id) => id !== holders[1])!
    const holder = peers.find((p) => p.node.peerId.toString() === replacement)!
    expect(holder.stopped).toBe(false)
    expect(holder.memory.blobs.has(cid)).toBe(true)
    expect(same(await holder.memory.blobs.getBytes(cid), data)).toBe(true)
  })
})
