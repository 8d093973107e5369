import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Libp2p } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import type { PeerCache, VainNode } from '../src/index.js'
import { createTestLibp2p, stopAll } from './fixtures/libp2p.js'
import { startNode, stopNodes, waitFor } from './fixtures/network.js'

/** A stock libp2p node: TCP, noise, yamux, identify, ping — no vAIn handshake. */
async function plain(): Promise<Libp2p> {
  return (await createTestLibp2p()) as unknown as Libp2p
}

async function savedIds(path: string): Promise<string[]> {
  const file = JSON.parse(await readFile(path, 'utf8')) as { peers: Array<{ id: string }> }
  return file.peers.map((p) => p.id)
}

function cacheOf(node: VainNode): PeerCache {
  const cache = (node.libp2p.services as { peerCache?: PeerCache }).peerCache
  if (cache === undefined) throw new Error('node has no peer cache')
  return cache
}

describe('peer cache on a vAIn node: only authenticated peers are kept', () => {
  let a: VainNode | undefined
  let b: VainNode | undefined
  let dialer: Libp2p | undefined
  let listener: Libp2p | undefined
  let dir: string | undefined

  afterEach(async () => {
    await stopNodes([a, b])
    await stopAll([dialer, listener])
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    a = b = dialer = listener = dir = undefined
  })

  it('saves an authenticated peer, not peers rejected for skipping the handshake, and does not redial them', {
    timeout: 120_000,
  }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-cache-auth-'))
    const path = join(dir, 'peers.json')
    // a short grace so the silent inbound peer is rejected soon (the test waits on the event);
    // no peer exchange, so the only way a restarted node learns of a peer is its own cache
    const config = { dataDir: dir, handshake: { graceMs: 1_000 }, discovery: { pex: false } }
    a = await startNode(config)
    b = await startNode({ discovery: { pex: false } })
    dialer = await plain()
    listener = await plain()
    const rejected = new Set<string>()
    a.addEventListener('peer:rejected', (evt) => rejected.add(evt.detail.peerId.toString()))

    // an authenticated peer
    await b.connect(a.multiaddrs[0]!)
    await waitFor(() => a!.authenticatedPeers().some((p) => p.equals(b!.peerId)), 60_000, 'a authenticates b')
    // a stock node that dials a and never speaks the handshake
    await dialer.dial(a.multiaddrs[0]!)
    // a stock node that a dials: it does not support the handshake protocol
    await a.libp2p.dial(listener.getMultiaddrs()[0]!).catch(() => {})
    await waitFor(
      () => rejected.has(dialer!.peerId.toString()) && rejected.has(listener!.peerId.toString()),
      60_000,
      'a rejects both stock peers',
    )
    // identify has run on every connection by now or never will: the stock peers stay out
    const live = cacheOf(a)
      .peers()
      .map((p) => p.id)
    expect(live).toContain(b.peerId.toString())
    expect(live).not.toContain(dialer.peerId.toString())
    expect(live).not.toContain(listener.peerId.toString())

    await a.stop()
    const saved = await savedIds(path)
    expect(saved).toEqual([b.peerId.toString()])

    // after a restart only b is redialled
    const dialsToStock: string[] = []
    for (const stock of [dialer, listener]) {
      stock.addEventListener('connection:open', (evt) => dialsToStock.push(evt.detail.remotePeer.toString()))
    }
    a = await startNode(config)
    await waitFor(() => a!.authenticatedPeers().some((p) => p.equals(b!.peerId)), 60_000, 'a redials b from its cache')
    const stats = cacheOf(a).stats
    expect(stats.loaded).toBe(1)
    expect(stats.redialsStarted).toBeLessThanOrEqual(1)
    expect(dialsToStock).toEqual([])
  })

  it('peer exchange passes on authenticated peers, never one rejected for skipping the handshake', {
    timeout: 120_000,
  }, async () => {
    a = await startNode({ handshake: { graceMs: 1_000 } })
    b = await startNode({ discovery: { pex: false } })
    dialer = await plain()
    const rejected = new Set<string>()
    a.addEventListener('peer:rejected', (evt) => rejected.add(evt.detail.peerId.toString()))
    await b.connect(a.multiaddrs[0]!)
    await waitFor(() => a!.authenticatedPeers().some((p) => p.equals(b!.peerId)), 60_000, 'a authenticates b')
    await dialer.dial(a.multiaddrs[0]!)
    await waitFor(() => rejected.has(dialer!.peerId.toString()), 60_000, 'a rejects the stock peer')
    // a holds the stock peer's signed record (identify), as it did before the fix
    expect(await a.libp2p.peerStore.has(dialer.peerId)).toBe(true)

    const c = await startNode({ discovery: { pex: true } })
    try {
      await c.connect(a.multiaddrs[0]!)
      await waitFor(() => c.authenticatedPeers().some((p) => p.equals(a!.peerId)), 60_000, 'c authenticates a')
      const pex = (c.libp2p.services as { pex?: { exchange: (p: unknown) => Promise<unknown> } }).pex
      if (pex === undefined) throw new Error('c runs no peer exchange')
      await pex.exchange(a.peerId)
      // c learnt b through a, never the stock peer
      await waitFor(() => c.libp2p.peerStore.has(b!.peerId), 60_000, 'c learns b from a')
      expect(await c.libp2p.peerStore.has(dialer.peerId)).toBe(false)
    } finally {
      await c.stop()
    }
  })
})
