/**
 * Blob reads are bounded and verified while streaming, and the blob store keeps to a disk budget.
 * All on a real on-disk store.
 */
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  BlobTooLargeError,
  BudgetExceededError,
  type CID,
  CorruptedChunkError,
  createMemory,
  decodeManifest,
  encodeManifest,
  type Memory,
  type MemoryInit,
  manifestCid,
} from '../src/index.js'
import { fakeClock, pseudoRandomBytes, removeTempDirs, tempDir } from './fixtures/tmp.js'

const MiB = 1024 * 1024
const open: Memory[] = []
afterEach(async () => {
  for (const m of open.splice(0)) await m.stop()
})
afterAll(removeTempDirs)

async function start(path = tempDir('limits'), extra: Partial<MemoryInit> = {}): Promise<Memory> {
  const memory = createMemory({ path, sweepIntervalMs: 0, ...extra })
  await memory.start()
  open.push(memory)
  return memory
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describe('bounded, streaming blob reads', () => {
  it('a manifest listing one stored 4 MiB chunk 96 times is refused from its size, before any chunk is read', async () => {
    const memory = await start(undefined, { blobs: { chunkBytes: 4 * MiB } })
    const chunk = pseudoRandomBytes(4 * MiB, 7)
    const { cid: one } = await memory.blobs.put(chunk)
    const manifest = decodeManifest(memory.blobs.manifestBytes(one)!)
    // the bomb: ~4 KB of manifest, 384 MiB of blob, no chunk to transfer (the one chunk is stored)
    const bomb = encodeManifest({ size: 96 * 4 * MiB, chunkBytes: 4 * MiB, chunks: Array(96).fill(manifest.chunks[0]) })
    expect(bomb.byteLength).toBeLessThan(4096)
    const cid = manifestCid(bomb)
    const release = await memory.blobs.lease()
    try {
      await memory.blobs.importManifest(cid, bomb)
    } finally {
      release()
    }
    expect(await memory.blobs.completeIfDone(cid)).toBe(true)

    const readsBefore = memory.stats().blobs.chunksRead
    const before = process.memoryUsage()
    // the caller says how much it expects
    const err = await memory.blobs.getBytes(cid, { maxBytes: MiB }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BlobTooLargeError)
    expect(err).toMatchObject({ name: 'BlobTooLargeError', size: 96 * 4 * MiB, limit: MiB })
    // and without a limit of its own, the store's default (256 MiB) still refuses it
    await expect(memory.blobs.getBytes(cid)).rejects.toBeInstanceOf(BlobTooLargeError)
    expect(() => memory.blobs.get(cid, { maxBytes: MiB })).toThrow(BlobTooLargeError)
    const after = process.memoryUsage()
    // bound: 64 MiB (the bomb would need 384 MiB; one chunk is 4 MiB)
    const grew = Math.max(after.arrayBuffers - before.arrayBuffers, 0)
    console.log(
      `bomb refused: arrayBuffers +${(grew / MiB).toFixed(2)} MiB, rss +${((after.rss - before.rss) / MiB).toFixed(2)} MiB`,
    )
    expect(grew).toBeLessThan(64 * MiB)
    expect(after.rss - before.rss).toBeLessThan(64 * MiB)
    expect(memory.stats().blobs.chunksRead).toBe(readsBefore) // not one chunk was read

    // streaming it is allowed (one chunk at a time), and holds little
    let streamed = 0
    let n = 0
    for await (const part of memory.blobs.get(cid)) {
      streamed += part.byteLength
      if (++n === 8) break
    }
    expect(streamed).toBe(8 * 4 * MiB)
  })

  it('streams a good large blob chunk by chunk with the right bytes; getBytes with its size returns them', async () => {
    const memory = await start(undefined, { blobs: { chunkBytes: MiB } })
    const data = pseudoRandomBytes(12 * MiB + 123, 11)
    const { cid, size } = await memory.blobs.put(data)
    const hash = createHash('sha256')
    const lengths: number[] = []
    for await (const part of memory.blobs.get(cid)) {
      lengths.push(part.byteLength)
      hash.update(part)
    }
    expect(lengths).toEqual([...Array(12).fill(MiB), 123])
    expect(hash.digest('hex')).toBe(sha(data))
    expect(sha(await memory.blobs.getBytes(cid, { maxBytes: size }))).toBe(sha(data))
    const range = await memory.blobs.getBytes(cid, { offset: MiB - 5, length: 2 * MiB + 10, maxBytes: 3 * MiB })
    expect(sha(range)).toBe(sha(data.subarray(MiB - 5, 3 * MiB + 5)))
    await expect(memory.blobs.getBytes(cid, { maxBytes: size - 1 })).rejects.toBeInstanceOf(BlobTooLargeError)
  })

  it('a corrupted chunk on disk is detected while streaming, with CorruptedChunkError, after the good ones', async () => {
    const path = tempDir('limits')
    let memory = await start(path, { blobs: { chunkBytes: MiB } })
    const data = pseudoRandomBytes(5 * MiB, 13)
    const { cid } = await memory.blobs.put(data)
    const victim = decodeManifest(memory.blobs.manifestBytes(cid)!).chunks[3]! as CID
    open.splice(open.indexOf(memory), 1)
    await memory.stop()
    const env = openLmdb({ path: join(path, 'memory.mdb'), noSubdir: true, maxDbs: 16 })
    const chunks = env.openDB({ name: 'chunks', encoding: 'binary', keyEncoding: 'binary', compression: false })
    const bytes = Buffer.from(chunks.getBinary(victim.multihash.digest)!)
    bytes[MiB - 1] = (bytes[MiB - 1] ?? 0) ^ 0x01
    await chunks.put(victim.multihash.digest, bytes)
    await env.close()

    memory = await start(path, { blobs: { chunkBytes: MiB } })
    const got: Uint8Array[] = []
    const err = await (async () => {
      for await (const part of memory.blobs.get(cid)) got.push(part)
    })().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CorruptedChunkError)
    expect(err).toMatchObject({ name: 'CorruptedChunkError', chunk: victim.toString() })
    expect(got).toHaveLength(3) // chunks 0-2 were good; nothing of chunk 3 was yielded
    expect(sha(Buffer.concat(got))).toBe(sha(data.subarray(0, 3 * MiB)))
    expect(memory.blobs.has(cid)).toBe(false)
  })
})

describe('disk budget of the blob store', () => {
  // one 1 MiB chunk takes 257 pages of 4 KiB on disk: room for three, and a few tree pages
  const PAGES = Math.ceil((MiB + 24) / 4096) * 4096
  const BUDGET = 3 * PAGES + 8 * 4096

  it('over-budget puts collect unpinned blobs, least recently used first, and never pinned ones', async () => {
    const clock = fakeClock()
    const memory = await start(undefined, { now: clock.now, blobs: { chunkBytes: MiB, maxBytes: BUDGET } })
    const removed: string[] = []
    memory.blobs.addEventListener('blob:removed', (e) => removed.push(e.detail.cid.toString()))
    const blob = (seed: number) => pseudoRandomBytes(MiB, seed)
    const pinned = await memory.blobs.put(blob(1), { pin: 'model' })
    const b = await memory.blobs.put(blob(2), { pin: false })
    const c = await memory.blobs.put(blob(3), { pin: false })
    expect(removed).toEqual([])
    // a fourth does not fit: the least recently used unpinned blob (b) goes
    const d = await memory.blobs.put(blob(4), { pin: false })
    expect(removed).toEqual([b.cid.toString()])
    expect(memory.blobs.stat(b.cid)).toBeUndefined()
    // c is read, so d is now the least recently used
    expect(sha(await memory.blobs.getBytes(c.cid))).toBe(sha(blob(3)))
    const e = await memory.blobs.put(blob(5), { pin: false })
    expect(removed).toEqual([b.cid.toString(), d.cid.toString()])
    expect(memory.stats().blobs).toMatchObject({ chunks: 3, blobsEvicted: 2 })
    expect(memory.stats().blobs.diskBytes).toBeLessThanOrEqual(BUDGET)
    // pinned blobs are never collected: two more pinned ones fill the budget, a third is refused
    await memory.blobs.put(blob(6), { pin: 'model' })
    await memory.blobs.put(blob(7), { pin: 'model' })
    expect(removed).toEqual([b.cid.toString(), d.cid.toString(), c.cid.toString(), e.cid.toString()])
    const err = await memory.blobs.put(blob(8), { pin: 'model' }).catch((x: unknown) => x)
    expect(err).toBeInstanceOf(BudgetExceededError)
    expect(err).toMatchObject({ tier: 'disk' })
    for (const seed of [1, 6, 7]) {
      const { cid } = await memory.blobs.put(blob(seed), { pin: 'model' }) // all still there: nothing written
      expect(sha(await memory.blobs.getBytes(cid))).toBe(sha(blob(seed)))
    }
    expect(memory.blobs.pins(pinned.cid)).toEqual(['model'])
    expect(memory.stats().blobs.diskBytes).toBeLessThanOrEqual(BUDGET)
  })

  it('a manifest declaring more than the whole budget is refused on import', async () => {
    const memory = await start(undefined, { blobs: { chunkBytes: MiB, maxBytes: BUDGET } })
    const { cid: one } = await memory.blobs.put(pseudoRandomBytes(MiB, 9), { pin: false })
    const chunk = decodeManifest(memory.blobs.manifestBytes(one)!).chunks[0]!
    const big = encodeManifest({ size: 8 * MiB, chunkBytes: MiB, chunks: Array(8).fill(chunk) })
    const release = await memory.blobs.lease()
    try {
      await expect(memory.blobs.importManifest(manifestCid(big), big)).rejects.toBeInstanceOf(BudgetExceededError)
    } finally {
      release()
    }
    expect(memory.blobs.stat(manifestCid(big))).toBeUndefined()
  })
})
