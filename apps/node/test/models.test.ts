/**
 * The node's model store on @vain/memory over real libp2p nodes on 127.0.0.1: a model put on one
 * node is fetched by hash on another (chunked, verified), a peer serving corrupted chunks or
 * naming a blob that is not the model is not believed, a model nobody has is a typed error, and
 * models survive a restart from the data dir.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createModel, encodeModel, mlp, sha256 } from '@vain/fl'
import type { BlobNetwork } from '@vain/memory'
import { createNode, type VainNode } from '@vain/net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type MemoryModelStore, ModelNotFoundError, memoryModelStore } from '../src/adapters/models.js'
import type { AppConfig } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { startVainNode } from '../src/runtime.js'

interface Peer {
  name: string
  node: VainNode
  models: MemoryModelStore
}

async function waitFor(check: () => boolean, ms: number, label: string): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${label}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A blob network that corrupts every chunk this node serves. */
function corruptingChunks(network: BlobNetwork): BlobNetwork {
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
          bad[0] = (bad[0] ?? 0) ^ 0xff
          return bad
        },
      }),
  }
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

describe('model store on @vain/memory over libp2p', () => {
  let root: string
  const peers: Peer[] = []
  const byName = (name: string) => peers.find((p) => p.name === name) as Peer

  async function startPeer(
    name: string,
    bootstrap: string[],
    network?: (n: BlobNetwork) => BlobNetwork,
    dataDir = join(root, name),
  ): Promise<Peer> {
    const node = await createNode({
      dataDir,
      profile: 'loopback',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      discovery: { mdns: false, pexIntervalMs: 1_000 },
      gossip: { enabled: false },
    })
    await node.start()
    const models = await memoryModelStore(node, {
      path: join(dataDir, 'memory'),
      chunkBytes: 64 * 1024,
      requestTimeoutMs: 10_000,
      discoveryTimeoutMs: 2_000,
      ...(network !== undefined ? { network } : {}),
    })
    return { name, node, models }
  }

  async function stopPeer(peer: Peer): Promise<void> {
    await peer.models.close()
    await peer.node.stop()
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-models-'))
    const a = await startPeer('a', [])
    peers.push(a)
    const boot = a.node.multiaddrs.map(String)
    peers.push(
      ...(await Promise.all([
        startPeer('b', boot),
        startPeer('liar', boot, corruptingChunks),
        startPeer('forger', boot),
      ])),
    )
    await waitFor(
      () => peers.every((p) => p.node.authenticatedPeers().length === peers.length - 1),
      30_000,
      'every node authenticated with every other',
    )
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled(peers.map(stopPeer))
    await rm(root, { recursive: true, force: true })
  })

  it('fetches a model put on another node by its sha256, verified', { timeout: 30_000 }, async () => {
    const a = byName('a')
    const b = byName('b')
    const bytes = encodeModel(createModel(mlp(784, [64], 10), { seed: 5 }))
    expect(bytes.byteLength).toBeGreaterThan(150_000)
    const hash = await a.models.put(bytes)
    expect(hash).toBe(sha256(bytes))
    expect(await b.models.has(hash)).toBe(false)

    const got = await b.models.get(hash, { providers: [a.node.peerId.toString()] })
    expect(same(got, bytes)).toBe(true)
    expect(sha256(got)).toBe(hash)
    expect(await b.models.has(hash)).toBe(true)
    // the same blob (CID) on both nodes, in chunks
    const cid = b.models.cidOf(hash) as string
    expect(cid).toBe(a.models.cidOf(hash))
    expect(b.models.memory.blobs.stat(cid)?.chunks).toBeGreaterThan(1)
  })

  it('streams a large model in chunks from connected peers (no providers hint)', { timeout: 60_000 }, async () => {
    const a = byName('a')
    const b = byName('b')
    const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024 + 123))
    const hash = await a.models.put(bytes)
    const got = await b.models.get(hash)
    expect(same(got, bytes)).toBe(true)
    const cid = b.models.cidOf(hash) as string
    expect(b.models.memory.blobs.stat(cid)?.chunks).toBe(Math.ceil(bytes.byteLength / (64 * 1024)))
  })

  it('drops a peer that serves corrupted chunks and fetches from an honest one', { timeout: 60_000 }, async () => {
    const a = byName('a')
    const b = byName('b')
    const liar = byName('liar')
    const bytes = new Uint8Array(randomBytes(300_000))
    await liar.models.put(bytes)
    const hash = await a.models.put(bytes)
    const bad: string[] = []
    const onBad = (e: CustomEvent<{ peer: string }>) => bad.push(e.detail.peer)
    b.models.sharing.addEventListener('provider:bad', onBad)
    try {
      const got = await b.models.get(hash, { providers: [liar.node.peerId.toString()] })
      expect(same(got, bytes)).toBe(true)
    } finally {
      b.models.sharing.removeEventListener('provider:bad', onBad)
    }
    // the liar, named first, was asked for chunks, caught, and dropped
    expect(bad).toEqual([liar.node.peerId.toString()])
  })

  it('rejects a model only a lying peer serves with ModelNotFoundError naming it', { timeout: 60_000 }, async () => {
    const b = byName('b')
    const liar = byName('liar')
    const bytes = new Uint8Array(randomBytes(200_000))
    const hash = await liar.models.put(bytes)
    const err = await b.models.get(hash).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect((err as ModelNotFoundError).badProviders).toContain(liar.node.peerId.toString())
    expect(await b.models.has(hash)).toBe(false)
  })

  it('does not accept a blob a peer names for a hash when its bytes do not hash to it', {
    timeout: 60_000,
  }, async () => {
    const a = byName('a')
    const b = byName('b')
    const forger = byName('forger')
    const real = new Uint8Array(randomBytes(100_000))
    const fake = new Uint8Array(randomBytes(100_000))
    const hash = sha256(real)
    // the forger maps the model's hash to another blob it holds
    const { cid: fakeCid } = await forger.models.memory.blobs.put(fake)
    await forger.models.memory.namespace('model-cids').put(hash, new TextEncoder().encode(fakeCid.toString()))
    expect(forger.models.cidOf(hash)).toBe(fakeCid.toString())

    // only the forger "has" it: typed error, the forger named as bad
    const err = await b.models.get(hash, { providers: [forger.node.peerId.toString()] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect((err as ModelNotFoundError).badProviders).toContain(forger.node.peerId.toString())
    expect((err as Error).message).toMatch(/no peer provided model/)

    // once an honest node has it, the forger (asked first) is skipped and the real bytes arrive
    await a.models.put(real)
    const got = await b.models.get(hash, { providers: [forger.node.peerId.toString(), a.node.peerId.toString()] })
    expect(same(got, real)).toBe(true)
    expect(b.models.cidOf(hash)).toBe(a.models.cidOf(hash))
  })

  it('gives ModelNotFoundError for a model no peer has', { timeout: 30_000 }, async () => {
    const b = byName('b')
    const missing = sha256(new TextEncoder().encode('no such model'))
    const started = Date.now()
    const err = await b.models.get(missing).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect((err as Error).name).toBe('ModelNotFoundError')
    expect((err as Error).message).toMatch(/no peer provided model .*3 peer\(s\) asked/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('keeps models across a restart from the data dir', { timeout: 60_000 }, async () => {
    const b = byName('b')
    const bytes = new Uint8Array(randomBytes(150_000))
    const hash = await b.models.put(bytes)
    const dataDir = join(root, 'b')
    await stopPeer(b)
    peers.splice(peers.indexOf(b), 1)
    // alone (no bootstrap): whatever it returns comes from its own store
    const again = await startPeer('b', [], undefined, dataDir)
    peers.push(again)
    expect(again.node.peerId.toString()).toBe(b.node.peerId.toString())
    expect(await again.models.has(hash)).toBe(true)
    expect(same(await again.models.get(hash), bytes)).toBe(true)
  })

  it('the node runtime keeps models in <dataDir>/memory and imports the old <dataDir>/models files', {
    timeout: 60_000,
  }, async () => {
    const log = createLogger({ level: 'error', json: false })
    const dataDir = join(root, 'runtime')
    const legacy = new Uint8Array(randomBytes(10_000))
    await mkdir(join(dataDir, 'models'), { recursive: true })
    await writeFile(join(dataDir, 'models', sha256(legacy)), legacy)
    const config: AppConfig = {
      dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [],
      profile: 'loopback',
      roles: ['validator'],
      apiPort: null,
      logLevel: 'error',
      json: false,
    }
    const first = await startVainNode(config, log)
    const bytes = new Uint8Array(randomBytes(50_000))
    let hash: string
    try {
      expect(same(await first.models.get(sha256(legacy)), legacy)).toBe(true)
      hash = await first.models.put(bytes)
    } finally {
      await first.stop()
    }
    const second = await startVainNode(config, log)
    try {
      expect(same(await second.models.get(hash), bytes)).toBe(true)
    } finally {
      await second.stop()
    }
  })
})
