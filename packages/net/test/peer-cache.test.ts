import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type PeerCache, type PeerCacheInit, peerCache } from '../src/discovery/index.js'
import { createTestLibp2p, stopAll, stubComponents, waitFor } from './fixtures/libp2p.js'

type CacheNode = Libp2p<{ cache: PeerCache; identify: unknown; ping: unknown }>

const nodes: Array<Libp2p | undefined> = []
let dir: string
let path: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vain-peer-cache-'))
  path = join(dir, 'state', 'peers.json')
})
afterEach(async () => {
  await stopAll(nodes.splice(0))
  await rm(dir, { recursive: true, force: true })
})

function cacheInit(extra: Partial<PeerCacheInit> = {}): PeerCacheInit {
  return { path, maxPeers: 50, saveIntervalMs: 200, backoff: { initialMs: 100, maxMs: 500, factor: 2 }, ...extra }
}

async function cacheNode(privateKey: PrivateKey, start = true): Promise<CacheNode> {
  const node = await createTestLibp2p({ privateKey, start, services: { cache: peerCache(cacheInit()) } })
  nodes.push(node)
  return node as unknown as CacheNode
}

async function plainNode(privateKey?: PrivateKey, listen?: string[]): Promise<Libp2p> {
  const node = await createTestLibp2p({
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(listen !== undefined ? { listen } : {}),
  })
  nodes.push(node)
  return node
}

async function savedIds(): Promise<string[]> {
  try {
    const file = JSON.parse(await readFile(path, 'utf8')) as { peers: Array<{ id: string }> }
    return file.peers.map((p) => p.id)
  } catch {
    return []
  }
}

describe('persistent peer cache', () => {
  it('persists peers, then a restarted node (same key, same file) redials them with no bootstrap', {
    timeout: 30_000,
  }, async () => {
    const key = await generateKeyPair('Ed25519')
    const b = await plainNode()
    const c = await plainNode()
    const a = await cacheNode(key)
    await a.dial(b.getMultiaddrs()[0]!)
    await a.dial(c.getMultiaddrs()[0]!)

    // written by the periodic save (atomically: no temp file left behind)
    await waitFor(async () => {
      const ids = await savedIds()
      return ids.includes(b.peerId.toString()) && ids.includes(c.peerId.toString())
    })
    const entry = a.services.cache.peers().find((p) => p.id === b.peerId.toString())
    expect(entry?.addrs).toContain(b.getMultiaddrs()[0]!.decapsulateCode(421).toString())
    expect(entry?.successes).toBeGreaterThanOrEqual(1)
    await a.stop()
    expect(await readdir(join(dir, 'state'))).toEqual(['peers.json'])

    const restarted = await cacheNode(key)
    expect(restarted.peerId.equals(a.peerId)).toBe(true)
    await waitFor(
      () => restarted.getConnections(b.peerId).length > 0 && restarted.getConnections(c.peerId).length > 0,
      {
        message: 'restarted node did not redial its cached peers',
      },
    )
    expect(restarted.services.cache.stats.loaded).toBe(2)
    expect(restarted.services.cache.stats.redialsSucceeded).toBeGreaterThanOrEqual(1)
  })

  it('keeps redialling a cached peer with backoff until it comes back', { timeout: 30_000 }, async () => {
    const key = await generateKeyPair('Ed25519')
    const bKey = await generateKeyPair('Ed25519')
    let b = await plainNode(bKey)
    const bAddr = b.getMultiaddrs()[0]!
    const a = await cacheNode(key)
    await a.dial(bAddr)
    await waitFor(async () => (await savedIds()).includes(b.peerId.toString()))
    await a.stop()
    await b.stop()

    const restarted = await cacheNode(key)
    await waitFor(() => restarted.services.cache.stats.redialsStarted >= 2, {
      message: 'no redial while the peer was down',
    })
    // b comes back on the same address
    b = await plainNode(bKey, [bAddr.decapsulateCode(421).toString()])
    await waitFor(() => restarted.getConnections(b.peerId).length > 0, { message: 'did not reconnect' })
  })

  it('a corrupt cache file is kept as .corrupt, logged, and the node starts empty', { timeout: 20_000 }, async () => {
    const garbage = '{"version":1,"peers":[{"id":'
    await mkdir(join(dir, 'state'), { recursive: true })
    await writeFile(path, garbage)

    const node = await cacheNode(await generateKeyPair('Ed25519'), false)
    const corrupt: string[] = []
    node.services.cache.addEventListener('corrupt', (evt) => corrupt.push(evt.detail.corruptPath))
    await node.start()

    expect(corrupt).toEqual([`${path}.corrupt`])
    expect(await readFile(`${path}.corrupt`, 'utf8')).toBe(garbage)
    expect(node.services.cache.stats.corrupt).toBe(1)
    expect(node.services.cache.peers()).toEqual([])

    // it keeps working: a new peer is cached and the file is valid again after stop
    const other = await plainNode()
    await node.dial(other.getMultiaddrs()[0]!)
    await waitFor(() => node.services.cache.peers().some((p) => p.addrs.length > 0))
    await node.stop()
    const file = JSON.parse(await readFile(path, 'utf8'))
    expect(file.version).toBe(1)
    expect(file.peers.map((p: { id: string }) => p.id)).toEqual([other.peerId.toString()])
  })

  it('a file nested 100,000 deep is corrupt (a typed error, no stack overflow) and the node starts empty', {
    timeout: 20_000,
  }, async () => {
    const deep = 100_000
    const peer = {
      id: 'x',
      addrs: [],
      lastSeen: 1,
      successes: 1,
      extra: JSON.parse(`${'['.repeat(8)}${']'.repeat(8)}`),
    }
    const text = JSON.stringify({ version: 1, savedAt: 1, peers: [peer] }).replace(
      '[[[[[[[[]]]]]]]]',
      `${'['.repeat(deep)}${']'.repeat(deep)}`,
    )
    await mkdir(join(dir, 'state'), { recursive: true })
    await writeFile(path, text)
    const node = await cacheNode(await generateKeyPair('Ed25519'), false)
    const errors: Error[] = []
    node.services.cache.addEventListener('corrupt', (evt) => errors.push(evt.detail.error))
    await node.start()
    expect(errors.map((e) => e.name)).toEqual(['InvalidMessageError'])
    expect(errors[0]?.message).toMatch('nested deeper than 16 levels')
    expect(node.services.cache.peers()).toEqual([])
  })

  it('a well-formed file with a bad schema is corrupt too; bad entries alone are skipped', {
    timeout: 20_000,
  }, async () => {
    await mkdir(join(dir, 'state'), { recursive: true })
    await writeFile(path, JSON.stringify({ peers: 'nope' }))
    const n1 = await cacheNode(await generateKeyPair('Ed25519'))
    expect(n1.services.cache.stats.corrupt).toBe(1)
    await n1.stop()

    const good = await plainNode()
    const goodAddr = good.getMultiaddrs()[0]!.decapsulateCode(421).toString()
    await writeFile(
      path,
      JSON.stringify({
        version: 1,
        savedAt: Date.now(),
        peers: [
          { id: 'not-a-peer-id', addrs: ['/ip4/127.0.0.1/tcp/1'], lastSeen: 1, successes: 1 },
          { id: good.peerId.toString(), addrs: ['garbage', goodAddr], lastSeen: 1, successes: 3 },
        ],
      }),
    )
    const n2 = await cacheNode(await generateKeyPair('Ed25519'))
    expect(n2.services.cache.stats.corrupt).toBe(0)
    expect(n2.services.cache.stats.skipped).toBe(1)
    expect(n2.services.cache.peers().map((p) => p.addrs)).toEqual([[goodAddr]])
    await waitFor(() => n2.getConnections(good.peerId).length > 0)
  })

  it('stop() releases every timer and writes the file', async () => {
    // the cache only uses setTimeout: fake just that, so unrelated async work (fs, setImmediate) is not counted
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const cache = peerCache(cacheInit())(
        stubComponents(peerIdFromPrivateKey(await generateKeyPair('Ed25519'))) as never,
      )
      await cache.start()
      await cache.afterStart?.()
      expect(vi.getTimerCount()).toBeGreaterThan(0)
      await cache.stop()
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 1, peers: [] })
  })

  it('rejects bad options with ConfigError', () => {
    expect(() => peerCache({ path: '', maxPeers: 0 })).toThrow(expect.objectContaining({ name: 'ConfigError' }))
  })
})
