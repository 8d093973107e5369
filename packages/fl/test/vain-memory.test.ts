/**
 * The round's model store and job-state store on @vain/memory, over real libp2p nodes on
 * 127.0.0.1 and real LMDB stores in a tmp dir: a model put on one node is fetched by its CID on
 * another (chunked, verified), a peer serving corrupted chunks or a forged manifest is not
 * believed, a model of another size than the job implies is refused before it is fetched, a
 * model nobody has is a typed error, and models and job states survive a restart.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BlobNetwork, type BlobSharing, createBlobSharing, createMemory, type Memory } from '@vain/memory'
import { vainNetBlobNetwork } from '@vain/memory/vain-net'
import { createNode, type VainNode } from '@vain/net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  InvalidModelAddressError,
  type MemoryModelStore,
  ModelNotFoundError,
  ModelSizeMismatchError,
  maxManifestBytes,
  memoryJobStateStore,
  memoryModelStore,
  PersistedJobStateSchema,
} from '../src/adapters/vain-memory/index.js'
import { createModel, encodeModel, mlp } from '../src/models/index.js'
import type { PersistedJobState } from '../src/round/ports.js'
import { ModelAddressSchema } from '../src/round/spec.js'

interface Peer {
  name: string
  dataDir: string
  node: VainNode
  memory: Memory
  sharing: BlobSharing
  models: MemoryModelStore
  /** Chunk and manifest requests this peer made. */
  requests: { manifest: number; chunk: number }
}

async function waitFor(check: () => boolean, label: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${label}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A blob network whose served chunks are corrupted. */
function corruptingChunks(network: BlobNetwork): BlobNetwork {
  return {
    ...network,
    self: network.self,
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

/** A blob network that serves, for every blob it has, the manifest of another blob. */
function forgingManifests(forged: () => Uint8Array | undefined) {
  return (network: BlobNetwork): BlobNetwork => ({
    ...network,
    self: network.self,
    serve: (handlers) =>
      network.serve({
        ...handlers,
        manifest: (cid, from) => (handlers.manifest(cid, from) === undefined ? undefined : forged()),
      }),
  })
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

describe('memoryModelStore over libp2p', () => {
  let root: string
  const peers: Peer[] = []
  const byName = (name: string) => peers.find((p) => p.name === name) as Peer
  let forgedManifest: Uint8Array | undefined

  async function startPeer(
    name: string,
    bootstrap: string[],
    wrap?: (n: BlobNetwork) => BlobNetwork,
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
    const memory = createMemory({ path: join(dataDir, 'memory'), blobs: { chunkBytes: 64 * 1024 } })
    await memory.start()
    const requests = { manifest: 0, chunk: 0 }
    const base = vainNetBlobNetwork(node, { timeoutMs: 10_000 })
    const served = wrap?.(base) ?? base
    const network: BlobNetwork = {
      ...served,
      self: served.self,
      fetchManifest: (peer, cid, o) => {
        requests.manifest++
        return served.fetchManifest(peer, cid, o)
      },
      fetchChunk: (peer, cid, index, o) => {
        requests.chunk++
        return served.fetchChunk(peer, cid, index, o)
      },
    }
    const sharing = createBlobSharing({
      memory,
      network,
      requestTimeoutMs: 10_000,
      discoveryTimeoutMs: 2_000,
      acceptReplicas: false,
      repairIntervalMs: 0,
    })
    await sharing.start()
    const models = memoryModelStore(memory, { sharing, discoveryTimeoutMs: 2_000 })
    return { name, dataDir, node, memory, sharing, models, requests }
  }

  async function stopPeer(peer: Peer): Promise<void> {
    await peer.sharing.stop()
    await peer.memory.stop()
    await peer.node.stop()
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-fl-memory-'))
    const a = await startPeer('a', [])
    peers.push(a)
    const boot = a.node.multiaddrs.map(String)
    peers.push(
      ...(await Promise.all([
        startPeer('b', boot),
        startPeer('liar', boot, corruptingChunks),
        startPeer(
          'forger',
          boot,
          forgingManifests(() => forgedManifest),
        ),
      ])),
    )
    await waitFor(
      () => peers.every((p) => p.node.authenticatedPeers().length === peers.length - 1),
      'every node authenticated with every other',
    )
  })

  afterAll(async () => {
    await Promise.allSettled(peers.map(stopPeer))
    await rm(root, { recursive: true, force: true })
  })

  it('fetches a model put on another node by its CID, verified, in chunks', async () => {
    const a = byName('a')
    const b = byName('b')
    const bytes = encodeModel(createModel(mlp(784, [64], 10), { seed: 5 }))
    expect(bytes.byteLength).toBeGreaterThan(150_000)
    const address = await a.models.put(bytes)
    expect(address).toMatch(/^bafyrei[a-z2-7]+$/)
    expect(ModelAddressSchema.safeParse(address).success).toBe(true)
    expect(await a.models.put(bytes)).toBe(address)
    expect(b.models.has(address)).toBe(false)

    const got = await b.models.get(address, {
      providers: [a.node.peerId.toString()],
      expectedBytes: bytes.byteLength,
    })
    expect(same(got, bytes)).toBe(true)
    expect(b.models.has(address)).toBe(true)
    expect(b.memory.blobs.stat(address)?.chunks).toBeGreaterThan(1)
    expect(b.memory.blobs.pins(address)).toContain('model')
    expect(b.models.list().map((m) => m.address)).toContain(address)
  })

  it('finds a large model on connected peers when no provider is named', async () => {
    const a = byName('a')
    const b = byName('b')
    const bytes = new Uint8Array(randomBytes(3 * 1024 * 1024 + 123))
    const address = await a.models.put(bytes)
    const got = await b.models.get(address)
    expect(same(got, bytes)).toBe(true)
    expect(b.memory.blobs.stat(address)?.chunks).toBe(Math.ceil(bytes.byteLength / (64 * 1024)))
  })

  it('drops a peer that serves corrupted chunks and fetches from an honest one', async () => {
    const a = byName('a')
    const b = byName('b')
    const liar = byName('liar')
    const bytes = new Uint8Array(randomBytes(300_000))
    await liar.models.put(bytes)
    const address = await a.models.put(bytes)
    const bad: string[] = []
    const onBad = (e: CustomEvent<{ peer: string }>) => bad.push(e.detail.peer)
    b.sharing.addEventListener('provider:bad', onBad)
    try {
      const got = await b.models.get(address, { providers: [liar.node.peerId.toString()] })
      expect(same(got, bytes)).toBe(true)
    } finally {
      b.sharing.removeEventListener('provider:bad', onBad)
    }
    expect(bad).toEqual([liar.node.peerId.toString()])
  })

  it('rejects a model only a lying peer serves with ModelNotFoundError naming it', async () => {
    const b = byName('b')
    const liar = byName('liar')
    const bytes = new Uint8Array(randomBytes(200_000))
    const address = await liar.models.put(bytes)
    const err = await b.models.get(address).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect((err as ModelNotFoundError).badProviders).toContain(liar.node.peerId.toString())
    expect(b.models.has(address)).toBe(false)
  })

  it('does not believe a manifest that does not hash to the address', async () => {
    const a = byName('a')
    const b = byName('b')
    const forger = byName('forger')
    const real = new Uint8Array(randomBytes(100_000))
    const address = await forger.models.put(real)
    // the forger answers with the manifest of another blob it holds
    const other = await forger.models.put(new Uint8Array(randomBytes(100_000)))
    forgedManifest = forger.memory.blobs.manifestBytes(other)
    const err = await b.models.get(address, { providers: [forger.node.peerId.toString()] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect((err as ModelNotFoundError).badProviders).toContain(forger.node.peerId.toString())
    expect((err as Error).message).toMatch(/no peer provided model/)

    // once an honest node has it, the real bytes arrive (the forger, asked first, is skipped)
    await a.models.put(real)
    const got = await b.models.get(address, {
      providers: [forger.node.peerId.toString(), a.node.peerId.toString()],
    })
    expect(same(got, real)).toBe(true)
  })

  it('refuses a model of another size than expected before fetching any of it', async () => {
    const a = byName('a')
    const b = byName('b')
    const bytes = new Uint8Array(randomBytes(500_000))
    const address = await a.models.put(bytes)
    const before = { ...b.requests }
    const err = await b.models
      .get(address, { providers: [a.node.peerId.toString()], expectedBytes: 4_000 })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelSizeMismatchError)
    // its manifest (8 chunks of 64 KiB) is longer than any manifest of a 4,000-byte model: refused
    // from its length, not decoded; the size is a lower bound
    expect(err).toMatchObject({ name: 'ModelSizeMismatchError', atLeast: true, expectedBytes: 4_000 })
    expect((err as ModelSizeMismatchError).size).toBeGreaterThan(4_000)
    expect((err as ModelSizeMismatchError).size).toBeLessThanOrEqual(500_000)
    // a manifest short enough to be of the expected size is decoded: its size is exact
    const near = await b.models
      .get(address, { providers: [a.node.peerId.toString()], expectedBytes: 400_000 })
      .catch((e: unknown) => e)
    expect(near).toMatchObject({
      name: 'ModelSizeMismatchError',
      size: 500_000,
      expectedBytes: 400_000,
      atLeast: false,
    })
    expect(maxManifestBytes(400_000)).toBeLessThan(64 * 1024)
    // only the manifest was asked for; nothing of the model was fetched or stored
    expect(b.requests.chunk - before.chunk).toBe(0)
    expect(b.requests.manifest - before.manifest).toBeGreaterThan(0)
    expect(b.memory.blobs.stat(address)).toBeUndefined()
    // a model stored here is checked the same way
    await expect(a.models.get(address, { expectedBytes: 499_999 })).rejects.toBeInstanceOf(ModelSizeMismatchError)
    expect(same(await a.models.get(address, { expectedBytes: 500_000 }), bytes)).toBe(true)
  })

  it('gives ModelNotFoundError for a model no peer has', async () => {
    const a = byName('a')
    const b = byName('b')
    // a valid address: put on a store nobody can reach, then asked for by b
    const lonely = createMemory({ path: join(root, 'lonely') })
    await lonely.start()
    const address = await memoryModelStore(lonely).put(new TextEncoder().encode('no such model'))
    await lonely.stop()
    const err = await b.models.get(address).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelNotFoundError)
    expect((err as Error).name).toBe('ModelNotFoundError')
    expect((err as ModelNotFoundError).address).toBe(address)
    expect((err as ModelNotFoundError).badProviders).toEqual([])
    expect(a.models.has(address)).toBe(false)
  })

  it('refuses what is not a canonical blob CID with InvalidModelAddressError', async () => {
    const a = byName('a')
    const address = await a.models.put(new Uint8Array(2048).fill(1))
    for (const bad of ['', 'not-a-cid', 'ab'.repeat(32), address.toUpperCase(), `${address}x`]) {
      await expect(a.models.get(bad)).rejects.toBeInstanceOf(InvalidModelAddressError)
      expect(a.models.has(bad)).toBe(false)
    }
  })

  it('property: any string as an address is a typed error, never a crash', async () => {
    const local = memoryModelStore(byName('a').memory)
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.stringMatching(/^b[a-z2-7]{20,70}$/)), async (address) => {
        const err = await local.get(address).catch((e: unknown) => e)
        expect(['InvalidModelAddressError', 'ModelNotFoundError']).toContain((err as Error).name)
      }),
      { numRuns: 300 },
    )
  })

  it('keeps models across a restart from the data dir', async () => {
    const b = byName('b')
    const bytes = new Uint8Array(randomBytes(150_000))
    const address = await b.models.put(bytes)
    await stopPeer(b)
    peers.splice(peers.indexOf(b), 1)
    // alone (no bootstrap): whatever it returns comes from its own store
    const again = await startPeer('b', [], undefined, b.dataDir)
    peers.push(again)
    expect(again.node.peerId.toString()).toBe(b.node.peerId.toString())
    expect(again.models.has(address)).toBe(true)
    expect(same(await again.models.get(address, { expectedBytes: 150_000 }), bytes)).toBe(true)
  })
})

describe('memoryJobStateStore', () => {
  let root: string
  let memory: Memory

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-fl-jobs-'))
    memory = createMemory({ path: join(root, 'memory') })
    await memory.start()
  })

  afterAll(async () => {
    await memory?.stop()
    await rm(root, { recursive: true, force: true })
  })

  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff)
  const model = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

  function sampleState(jobId: string, round: number): PersistedJobState {
    return {
      announcement: { body: bytes(300, 1), signature: bytes(64, 2) },
      jobId,
      round,
      attempt: 0,
      model,
      history: [{ round: 0, model, contributions: 3, completedAt: 1_700_000_000_000 }],
      finished: false,
      lastResults: [
        { body: bytes(120, 3), signature: bytes(64, 4) },
        { body: bytes(121, 5), signature: bytes(64, 6) },
      ],
    }
  }

  it('saves and restores a job state with its signed envelopes, lists jobs, survives a restart', async () => {
    const store = memoryJobStateStore(memory)
    const jobId = 'a1'.repeat(32)
    expect(await store.load(jobId)).toBeUndefined()
    await store.save(sampleState(jobId, 3))
    await store.save(sampleState(jobId, 4))
    const got = await store.load(jobId)
    expect(got?.round).toBe(4)
    expect(got?.announcement.body).toBeInstanceOf(Uint8Array)
    expect(same(got?.announcement.body as Uint8Array, bytes(300, 1))).toBe(true)
    expect(same(got?.lastResults?.[1]?.signature as Uint8Array, bytes(64, 6))).toBe(true)
    expect(await store.list()).toEqual([jobId])
    // keys that are not job ids are never looked up
    expect(await store.load('../x')).toBeUndefined()

    await memory.stop()
    memory = createMemory({ path: join(root, 'memory') })
    await memory.start()
    const again = memoryJobStateStore(memory)
    expect(await again.list()).toEqual([jobId])
    expect(await again.load(jobId)).toEqual(got)
  })

  it('refuses to save a state that is not valid (nothing saved)', async () => {
    const store = memoryJobStateStore(memory)
    const jobId = 'b2'.repeat(32)
    const bad = { ...sampleState(jobId, 1), model: 'not a model address!' }
    await expect(store.save(bad)).rejects.toMatchObject({ name: 'SchemaMismatchError' })
    await expect(store.save({ ...sampleState(jobId, 1), jobId: 'nope' })).rejects.toMatchObject({
      name: 'SchemaMismatchError',
    })
    expect(await store.load(jobId)).toBeUndefined()
  })

  it('property: valid states round-trip; anything else is refused with a typed error', async () => {
    const store = memoryJobStateStore(memory, { name: 'property-jobs' })
    const envelope = fc.record({
      body: fc.uint8Array({ minLength: 1, maxLength: 200 }),
      signature: fc.uint8Array({ minLength: 1, maxLength: 80 }),
    })
    const address = fc.stringMatching(/^[A-Za-z0-9]{16,80}$/)
    const state = fc.record(
      {
        announcement: envelope,
        jobId: fc.stringMatching(/^[0-9a-f]{64}$/),
        round: fc.nat(1000),
        attempt: fc.nat(100),
        model: address,
        history: fc.array(
          fc.record({
            round: fc.nat(1000),
            model: address,
            contributions: fc.nat(1000),
            completedAt: fc.nat(),
          }),
          { maxLength: 5 },
        ),
        finished: fc.boolean(),
        lastResults: fc.array(envelope, { maxLength: 4 }),
      },
      { requiredKeys: ['announcement', 'jobId', 'round', 'attempt', 'model', 'history', 'finished'] },
    )
    await fc.assert(
      fc.asyncProperty(state, async (s) => {
        await store.save(s)
        expect(await store.load(s.jobId)).toEqual(s)
      }),
      { numRuns: 60 },
    )
    await fc.assert(
      fc.asyncProperty(fc.anything({ withTypedArray: true }), async (junk) => {
        expect(PersistedJobStateSchema.safeParse(junk).success).toBe(false)
        const err = await store.save(junk as PersistedJobState).catch((e: unknown) => e)
        expect((err as Error).name).toBe('SchemaMismatchError')
      }),
      { numRuns: 200 },
    )
  })
})
