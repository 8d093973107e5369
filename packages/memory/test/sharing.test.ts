/**
 * Blob sharing over an in-process network (the port stubbed): fetch from several providers,
 * liars, truncation, dead and rate-limiting providers, resume, replication and repair. The same
 * code runs over real libp2p nodes in network.test.ts.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  type BlobSharing,
  BlobUnavailableError,
  closestFirst,
  createBlobSharing,
  createMemory,
  type Memory,
  manifestCid,
  ReplicationError,
} from '../src/index.js'
import { createMemoryNetworkHub, type Faults } from './fixtures/memory-network.js'
import { pseudoRandomBytes, removeTempDirs, tempDir, waitFor } from './fixtures/tmp.js'

const CHUNK = 4 * 1024
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

let stores: Memory[] = []
let sharings: BlobSharing[] = []
afterEach(async () => {
  await Promise.all(sharings.map((s) => s.stop()))
  await Promise.all(stores.map((m) => m.stop()))
  stores = []
  sharings = []
})
afterAll(removeTempDirs)

async function peers(names: string[], faults: Record<string, Faults> = {}, options = {}) {
  const hub = createMemoryNetworkHub()
  const p: Record<string, { memory: Memory; sharing: BlobSharing; net: ReturnType<typeof hub.network> }> = {}
  for (const name of names) {
    const memory = createMemory({ path: tempDir(name), blobs: { chunkBytes: CHUNK }, disk: { durability: 'commit' } })
    await memory.start()
    const net = hub.network(name, faults[name] ?? {})
    const sharing = createBlobSharing({
      memory,
      network: net,
      requestTimeoutMs: 2_000,
      discoveryTimeoutMs: 2_000,
      repairIntervalMs: 0,
      perProviderConcurrency: 2,
      ...options,
    })
    await sharing.start()
    stores.push(memory)
    sharings.push(sharing)
    p[name] = { memory, sharing, net }
  }
  return { hub, p }
}

/** Put the same blob on each of `names`; returns its CID and bytes. */
async function seed(all: Record<string, { memory: Memory }>, names: string[], chunks = 24, seed = 1) {
  const data = pseudoRandomBytes(chunks * CHUNK - 100, seed)
  let cid = ''
  for (const name of names) cid = (await all[name]!.memory.blobs.put(data)).cid.toString()
  return { cid, data }
}

const flipByte = (_cid: unknown, _i: number, bytes: Uint8Array | undefined) => {
  if (bytes === undefined) return undefined
  const copy = new Uint8Array(bytes)
  copy[0] = (copy[0] ?? 0) ^ 1
  return copy
}

describe('fetch by CID from providers', () => {
  it('fetches in parallel from every provider, each chunk verified', async () => {
    const net = await peers(['a', 'b', 'me'])
    const { cid, data } = await seed(net.p, ['a', 'b'])
    await waitFor(() => net.hub.providers.get(cid)?.size === 2, 5_000, 'provider records')
    const report = await net.p.me!.sharing.fetch(cid)
    expect(report).toMatchObject({ size: data.byteLength, chunks: 24, chunksFetched: 24, chunksReused: 0 })
    expect(Object.keys(report.providers).sort()).toEqual(['a', 'b'])
    expect(report.providers.a!.chunks).toBeGreaterThan(0)
    expect(report.providers.b!.chunks).toBeGreaterThan(0)
    expect(same(await net.p.me!.memory.blobs.getBytes(cid), data)).toBe(true)
    expect(net.p.me!.memory.blobs.pins(cid)).toEqual([]) // fetched, not pinned: collectable
    // once complete, this node provides it too
    await waitFor(() => net.hub.providers.get(cid)?.has('me') === true, 5_000, 'the fetcher announces the blob')
    const again = await net.p.me!.sharing.fetch(cid, { pin: true })
    expect(again.chunksFetched).toBe(0)
    expect(net.p.me!.memory.blobs.pins(cid)).toEqual(['default'])
  })

  it('drops a provider that serves bad data and gets its chunks elsewhere', async () => {
    const net = await peers(['honest', 'liar', 'me'], { liar: { chunk: flipByte } })
    const { cid, data } = await seed(net.p, ['honest', 'liar'])
    const bad: string[] = []
    net.p.me!.sharing.addEventListener('provider:bad', (e) => bad.push(e.detail.peer))
    const report = await net.p.me!.sharing.fetch(cid)
    expect(same(await net.p.me!.memory.blobs.getBytes(cid), data)).toBe(true)
    expect(report.badProviders).toEqual(['liar'])
    expect(report.providers.liar).toMatchObject({ chunks: 0, dropped: true })
    expect(report.providers.liar!.bad).toBeGreaterThanOrEqual(1)
    expect(report.providers.honest!.chunks).toBe(24)
    expect(bad).toEqual(['liar'])
    // dropped after its first lie: at most the requests already in flight went to it
    expect(net.p.me!.net.calls.get('liar')).toBeLessThanOrEqual(2)
  })

  it('treats a truncated chunk and a wrong manifest as lies', async () => {
    const net = await peers(['short', 'fake', 'good', 'me'], {
      short: { chunk: (_c, _i, b) => b?.subarray(0, b.byteLength - 1) },
      fake: { manifest: () => new Uint8Array([0xa1, 0x61, 0x76, 0x01]) },
    })
    const { cid, data } = await seed(net.p, ['short', 'fake', 'good'], 8)
    const report = await net.p.me!.sharing.fetch(cid, { providers: ['fake', 'short'] })
    expect(same(await net.p.me!.memory.blobs.getBytes(cid), data)).toBe(true)
    expect(report.badProviders.sort()).toEqual(['fake', 'short'])
  })

  it('fails with BlobUnavailableError when every provider lies, keeps what verified, and resumes later', async () => {
    // the liar serves correct bytes for even chunks only
    const halfLiar: Faults = { chunk: (c, i, b) => (i % 2 === 0 ? b : flipByte(c, i, b)) }
    const net = await peers(['liar', 'late', 'me'], { liar: halfLiar, late: { down: true } })
    const { cid, data } = await seed(net.p, ['liar', 'late'], 12)
    const err = await net.p.me!.sharing.fetch(cid).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BlobUnavailableError)
    expect(err).toMatchObject({ cid, badProviders: ['liar'] })
    const stat = net.p.me!.memory.blobs.stat(cid)!
    expect(stat.complete).toBe(false)
    expect(stat.missingChunks).toBeLessThan(12) // the chunks that verified are kept

    net.p.late!.net.faults.down = false
    const resumed = await net.p.me!.sharing.fetch(cid)
    expect(resumed.chunksReused).toBe(12 - stat.missingChunks)
    expect(resumed.chunksFetched).toBe(stat.missingChunks)
    expect(same(await net.p.me!.memory.blobs.getBytes(cid), data)).toBe(true)
  })

  it('works around dead, partial and rate-limiting providers', async () => {
    let limited = 0
    const net = await peers(['dead', 'partial', 'busy', 'me'], {
      dead: { down: true },
      partial: { chunk: (_c, i, b) => (i < 4 ? b : undefined) },
      busy: {
        chunk: (_c, _i, b) => {
          if (limited++ < 2) throw Object.assign(new Error('slow down'), { name: 'RateLimitedError', retryAfterMs: 20 })
          return b
        },
      },
    })
    const { cid, data } = await seed(net.p, ['dead', 'partial', 'busy'], 10)
    const report = await net.p.me!.sharing.fetch(cid)
    expect(same(await net.p.me!.memory.blobs.getBytes(cid), data)).toBe(true)
    expect(report.badProviders).toEqual([])
    expect(report.providers.dead).toMatchObject({ chunks: 0, dropped: true })
    expect(report.providers.busy!.chunks).toBeGreaterThan(0)
    expect(report.providers.partial!.chunks).toBeLessThanOrEqual(4)
  })

  it('shares one transfer between concurrent fetches; aborts keep what arrived; bad CIDs are typed errors', async () => {
    const net = await peers(['a', 'me'])
    const { cid } = await seed(net.p, ['a'], 16)
    const [r1, r2] = await Promise.all([net.p.me!.sharing.fetch(cid), net.p.me!.sharing.fetch(cid)])
    expect(r1.chunksFetched + r2.chunksFetched).toBe(16)

    const other = await seed(net.p, ['a'], 16, 2)
    const abort = new AbortController()
    abort.abort(new Error('user gave up'))
    await expect(net.p.me!.sharing.fetch(other.cid, { signal: abort.signal })).rejects.toThrow('user gave up')
    await expect(net.p.me!.sharing.fetch('bafy-not-a-cid')).rejects.toMatchObject({ name: 'InvalidCidError' })
    const unknown = manifestCid(new Uint8Array([9]))
    await expect(
      createBlobSharing({
        memory: net.p.me!.memory,
        network: net.p.me!.net,
        discoveryTimeoutMs: 50,
      }).fetch(unknown),
    ).rejects.toMatchObject({ name: 'InvalidArgumentError' }) // not started
    const err = await net.p.me!.sharing.fetch(unknown).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'BlobUnavailableError', missingChunks: -1 })
  })
})

describe('replication to k peers', () => {
  it('places k replicas (closest peers first), and repairs when a holder disappears', async () => {
    const net = await peers(['origin', 'p1', 'p2', 'p3', 'p4'])
    const { cid, data } = await seed(net.p, ['origin'], 6)
    const holders = await net.p.origin!.sharing.replicate(cid, { factor: 2 })
    expect(holders).toHaveLength(2)
    expect(holders.sort()).toEqual(
      closestFirst(net.p.origin!.memory.blobs.list()[0]!.cid, ['p1', 'p2', 'p3', 'p4']).slice(0, 2).sort(),
    )
    for (const h of holders) {
      const holder = net.p[h]!
      expect(holder.memory.blobs.pins(cid)).toEqual(['replica'])
      expect(same(await holder.memory.blobs.getBytes(cid), data)).toBe(true)
    }

    // a holder goes away: the repair pass notices and places a new replica
    const gone = holders[0]!
    net.p[gone]!.net.faults.down = true
    const lost: string[] = []
    net.p.origin!.sharing.addEventListener('replica:lost', (e) => lost.push(e.detail.peer))
    const report = await net.p.origin!.sharing.repair()
    expect(report).toMatchObject({ targets: 1, lost: 1, added: 1, short: 0 })
    expect(lost).toEqual([gone])
    const now = net.p.origin!.sharing.replicas(cid)
    expect(now).toHaveLength(2)
    expect(now).not.toContain(gone)
    expect(now).toContain(holders[1])
  })

  it('refuses a blob larger than maxBytes from its manifest: nothing stored, no chunk fetched', async () => {
    const net = await peers(['origin', 'asker'])
    const { cid, data } = await seed(net.p, ['origin'], 8)
    const asker = net.p.asker!
    const err = await asker.sharing
      .fetch(cid, { providers: ['origin'], maxBytes: data.byteLength - 1, pin: true })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'BlobTooLargeError', size: data.byteLength, limit: data.byteLength - 1 })
    // the manifest was not stored (nor pinned), and no chunk came over
    expect(asker.memory.blobs.manifest(cid)).toBeUndefined()
    expect(asker.memory.blobs.list()).toEqual([])
    const report = await asker.sharing.fetch(cid, { providers: ['origin'], maxBytes: data.byteLength })
    expect(report.size).toBe(data.byteLength)
    // held now: a smaller limit is still refused, a bad limit is a typed error
    await expect(asker.sharing.fetch(cid, { maxBytes: 10 })).rejects.toMatchObject({ name: 'BlobTooLargeError' })
    await expect(asker.sharing.fetch(cid, { maxBytes: -1 })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
  })

  it('a replica larger than maxReplicaBytes is refused before any chunk is fetched', { timeout: 180_000 }, async () => {
    const net = await peers(['origin', 'p1'], {}, { maxReplicaBytes: 4 * CHUNK, replicaTimeoutMs: 5_000 })
    const { cid } = await seed(net.p, ['origin'], 8)
    const failed: unknown[] = []
    net.p.p1!.sharing.addEventListener('replica:failed', (e) => failed.push(e.detail.error))
    await expect(net.p.origin!.sharing.replicate(cid, { factor: 1 })).rejects.toBeInstanceOf(ReplicationError)
    await waitFor(() => failed.length > 0, 60_000, 'p1 refuses the replica')
    expect(failed[0]).toMatchObject({ name: 'BlobTooLargeError' })
    expect(net.p.p1!.memory.blobs.list()).toEqual([])
    // a small blob is still taken (on a busy machine origin may stop waiting first: ask again)
    const small = await seed(net.p, ['origin'], 2, 7)
    await waitFor(
      async () => {
        if (net.p.p1!.memory.blobs.has(small.cid)) return true
        await net.p.origin!.sharing.replicate(small.cid, { factor: 1 }).catch(() => {})
        return net.p.p1!.memory.blobs.has(small.cid)
      },
      150_000,
      'p1 takes the small replica',
    )
    expect(net.p.p1!.memory.blobs.pins(small.cid)).toEqual(['replica'])
  })

  it('reports ReplicationError when too few peers take a replica, and keeps trying in repairs', async () => {
    const net = await peers(['origin', 'p1', 'p2'], {}, { acceptReplicas: (_peer: string) => true })
    const { cid } = await seed(net.p, ['origin'], 3)
    const err = await net.p.origin!.sharing.replicate(cid, { factor: 3 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ReplicationError)
    expect((err as ReplicationError).replicas).toHaveLength(2)
    expect(await net.p.origin!.sharing.repair()).toMatchObject({ targets: 1, short: 1 })
    await expect(
      net.p.origin!.sharing.replicate(manifestCid(new Uint8Array([1])), { factor: 1 }),
    ).rejects.toMatchObject({
      name: 'BlobNotFoundError',
    })
    await expect(net.p.origin!.sharing.replicate(cid, { factor: 0 })).rejects.toMatchObject({
      name: 'InvalidArgumentError',
    })
  })

  it('replicates a namespace as a blob, and keeps every pinned blob on k peers when asked to', async () => {
    const net = await peers(['origin', 'p1', 'p2'], {}, { replicatePinned: 1 })
    const state = net.p.origin!.memory.namespace('round-state')
    await state.put('job-1', new Uint8Array([1, 2, 3]))
    const { cid, holders } = await net.p.origin!.sharing.replicateNamespace('round-state', { factor: 1 })
    const holder = net.p[holders[0]!]!
    expect(await holder.memory.importNamespace('round-state', cid)).toEqual({ imported: 1, expired: 0 })
    expect(holder.memory.namespace('round-state').get('job-1')).toEqual(new Uint8Array([1, 2, 3]))

    // a changed namespace: the new export replaces the old one
    await state.put('job-2', new Uint8Array([4]))
    const second = await net.p.origin!.sharing.replicateNamespace('round-state', { factor: 1 })
    expect(second.cid.toString()).not.toBe(cid.toString())
    expect(net.p.origin!.memory.blobs.pins(cid)).toEqual([])

    // replicatePinned: a blob pinned here is placed by the next repair pass; replicas are not re-replicated
    const { cid: model } = await net.p.origin!.memory.blobs.put(pseudoRandomBytes(3 * CHUNK, 8))
    const report = await net.p.origin!.sharing.repair()
    expect(report.added).toBeGreaterThanOrEqual(1)
    expect(net.p.origin!.sharing.replicas(model)).toHaveLength(1)
    const p1 = await net.p.p1!.sharing.repair()
    const p2 = await net.p.p2!.sharing.repair()
    expect(p1.targets + p2.targets).toBe(0)
  })
})
