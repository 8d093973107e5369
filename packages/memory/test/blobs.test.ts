import { join } from 'node:path'
import { open as openLmdb } from 'lmdb'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import {
  BlobIncompleteError,
  CorruptedChunkError,
  chunkCid,
  createMemory,
  decodeManifest,
  type Memory,
  manifestCid,
  parseCid,
} from '../src/index.js'
import { pseudoRandomBytes, removeTempDirs, tempDir } from './fixtures/tmp.js'

let open: Memory[] = []
afterEach(async () => {
  await Promise.all(open.map((m) => m.stop()))
  open = []
})
afterAll(removeTempDirs)

const CHUNK = 16 * 1024
async function start(path = tempDir(), extra: Partial<Parameters<typeof createMemory>[0]> = {}): Promise<Memory> {
  const memory = createMemory({ path, blobs: { chunkBytes: CHUNK }, ...extra })
  await memory.start()
  open.push(memory)
  return memory
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

async function* pieces(data: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let offset = 0
  let i = 0
  while (offset < data.byteLength) {
    const n = sizes[i++ % sizes.length]!
    yield data.subarray(offset, offset + n)
    offset += n
  }
}

describe('content-addressed blobs', () => {
  it('stores a stream in chunks under a CID and streams it back, verified, after a restart', async () => {
    const path = tempDir()
    let memory = await start(path)
    const data = pseudoRandomBytes(5 * CHUNK + 123, 7)
    const put = await memory.blobs.put(pieces(data, [1000, 40_000, 7]))
    expect(put).toMatchObject({ size: data.byteLength, chunks: 6, chunksWritten: 6, chunksReused: 0 })
    expect(put.cid.toString()).toMatch(/^bafyrei/) // CIDv1, dag-cbor, sha2-256
    // the same bytes, cut differently, give the same CID
    const again = await memory.blobs.put(data)
    expect(again.cid.toString()).toBe(put.cid.toString())
    expect(again).toMatchObject({ chunksWritten: 0, chunksReused: 6 })
    await memory.stop()

    memory = await start(path)
    const chunks: Uint8Array[] = []
    for await (const chunk of memory.blobs.get(put.cid.toString())) chunks.push(chunk)
    expect(chunks.map((c) => c.byteLength)).toEqual([CHUNK, CHUNK, CHUNK, CHUNK, CHUNK, 123])
    expect(same(await memory.blobs.getBytes(put.cid), data)).toBe(true)
    // ranges across chunk boundaries
    const range = await memory.blobs.getBytes(put.cid, { offset: CHUNK - 10, length: CHUNK + 20 })
    expect(same(range, data.subarray(CHUNK - 10, 2 * CHUNK + 10))).toBe(true)
    expect((await memory.blobs.getBytes(put.cid, { offset: data.byteLength })).byteLength).toBe(0)
    // the manifest is what the CID hashes, and lists the chunk CIDs
    const manifestBytes = memory.blobs.manifestBytes(put.cid)!
    expect(manifestCid(manifestBytes).toString()).toBe(put.cid.toString())
    const manifest = decodeManifest(manifestBytes)
    expect(manifest.chunks[0]!.toString()).toBe(chunkCid(data.subarray(0, CHUNK)).toString())
    expect(memory.blobs.stat(put.cid)).toMatchObject({ size: data.byteLength, complete: true, pins: ['default'] })
    // an empty blob is a blob too
    const empty = await memory.blobs.put(new Uint8Array(0))
    expect((await memory.blobs.getBytes(empty.cid)).byteLength).toBe(0)
  })

  it('detects a corrupted chunk on disk, drops it, and leaves the rest readable', async () => {
    const path = tempDir()
    let memory = await start(path)
    const data = pseudoRandomBytes(4 * CHUNK, 3)
    const { cid } = await memory.blobs.put(data)
    const victim = decodeManifest(memory.blobs.manifestBytes(cid)!).chunks[2]!
    await memory.stop()

    // flip one byte of chunk 2 directly in the LMDB file's database
    const env = openLmdb({ path: join(path, 'memory.mdb'), noSubdir: true, maxDbs: 16 })
    const chunks = env.openDB({ name: 'chunks', encoding: 'binary', keyEncoding: 'binary', compression: false })
    const bytes = Buffer.from(chunks.getBinary(victim.multihash.digest)!)
    bytes[100] = (bytes[100] ?? 0) ^ 0xff
    await chunks.put(victim.multihash.digest, bytes)
    await env.close()

    memory = await start(path)
    const corrupted: string[] = []
    memory.blobs.addEventListener('chunk:corrupted', (e) => corrupted.push(e.detail.chunk))
    const err = await memory.blobs.getBytes(cid).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CorruptedChunkError)
    expect((err as CorruptedChunkError).chunk).toBe(victim.toString())
    expect(corrupted).toEqual([victim.toString()])
    // the blob is now known to be incomplete; the other chunks still read
    expect(memory.blobs.stat(cid)).toMatchObject({ complete: false, missingChunks: 1 })
    expect(memory.blobs.has(cid)).toBe(false)
    expect(same(await memory.blobs.getBytes(cid, { length: 2 * CHUNK }), data.subarray(0, 2 * CHUNK))).toBe(true)
    await expect(memory.blobs.getBytes(cid)).rejects.toBeInstanceOf(BlobIncompleteError)
    // putting the content again repairs it
    const repaired = await memory.blobs.put(data)
    expect(repaired).toMatchObject({ chunksWritten: 1, chunksReused: 3 })
    expect(same(await memory.blobs.getBytes(cid), data)).toBe(true)
  })

  it('pins, unpins and collects garbage, keeping chunks shared with pinned blobs', async () => {
    const memory = await start()
    const shared = pseudoRandomBytes(2 * CHUNK, 1)
    const a = await memory.blobs.put(new Uint8Array([...shared, ...pseudoRandomBytes(CHUNK, 2)]))
    const b = await memory.blobs.put(new Uint8Array([...shared, ...pseudoRandomBytes(CHUNK, 3)]), { pin: 'model' })
    const c = await memory.blobs.put(pseudoRandomBytes(CHUNK, 4), { pin: false })
    expect(memory.stats().blobs.chunks).toBe(5)
    await memory.blobs.pin(b.cid) // a second label
    expect(memory.blobs.pins(b.cid).sort()).toEqual(['default', 'model'])

    expect(await memory.blobs.gc()).toEqual({ blobsRemoved: 1, chunksRemoved: 1, bytesFreed: CHUNK })
    expect(memory.blobs.stat(c.cid)).toBeUndefined()

    expect(await memory.blobs.unpin(a.cid)).toBe(true)
    expect(await memory.blobs.unpin(a.cid)).toBe(false)
    const report = await memory.blobs.gc()
    expect(report).toEqual({ blobsRemoved: 1, chunksRemoved: 1, bytesFreed: CHUNK }) // shared chunks stay
    expect(memory.blobs.has(b.cid)).toBe(true)
    expect((await memory.blobs.getBytes(b.cid)).byteLength).toBe(3 * CHUNK)
    await memory.blobs.unpin(b.cid, 'model')
    expect((await memory.blobs.gc()).blobsRemoved).toBe(0) // still pinned by 'default'
    expect(memory.blobs.list().map((x) => x.cid.toString())).toEqual([b.cid.toString()])
  })

  it('resumes an interrupted put: chunks already written are not written again', async () => {
    const memory = await start()
    const data = pseudoRandomBytes(10 * CHUNK, 9)
    const abort = new AbortController()
    let yielded = 0
    async function* interrupted() {
      for (let i = 0; i < 10; i++) {
        if (i === 6) abort.abort(new Error('connection lost'))
        yielded++
        yield data.subarray(i * CHUNK, (i + 1) * CHUNK)
      }
    }
    await expect(memory.blobs.put(interrupted(), { signal: abort.signal })).rejects.toThrow('connection lost')
    expect(yielded).toBeLessThan(10)
    const resumed = await memory.blobs.put(data)
    expect(resumed.chunksReused).toBeGreaterThanOrEqual(5)
    expect(resumed.chunksWritten).toBe(10 - resumed.chunksReused)
    // orphans of an interrupted put are collected once no blob references them
    await memory.blobs.put(pieces(pseudoRandomBytes(3 * CHUNK, 5), [CHUNK]), { size: 4 * CHUNK }).catch(() => {})
    expect((await memory.blobs.gc()).chunksRemoved).toBe(3)
  })

  it('rejects bad input with typed errors and stores nothing', async () => {
    const memory = await start()
    const data = pseudoRandomBytes(3 * CHUNK, 2)
    const { cid } = await memory.blobs.put(data, { pin: false })
    const other = await memory.blobs.put(pseudoRandomBytes(100, 1))
    const before = memory.blobs.list().length
    await expect(memory.blobs.put(data, { size: data.byteLength + 1 })).rejects.toMatchObject({
      name: 'TruncatedError',
    })
    await expect(memory.blobs.put(data, { size: 10 })).rejects.toMatchObject({ name: 'TruncatedError' })
    await expect(memory.blobs.put(data, { expectedCid: other.cid })).rejects.toMatchObject({
      name: 'CidMismatchError',
      expected: other.cid.toString(),
      actual: cid.toString(),
    })
    await expect(memory.blobs.put('bytes' as any)).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(memory.blobs.put([1, 2, 3] as any)).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(memory.blobs.put(data, { chunkBytes: 10 })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    await expect(memory.blobs.put(data, { pin: 'bad label!' })).rejects.toMatchObject({ name: 'InvalidArgumentError' })
    expect(() => memory.blobs.get('not-a-cid')).toThrow(expect.objectContaining({ name: 'InvalidCidError' }))
    expect(() => memory.blobs.get(chunkCid(data))).toThrow(expect.objectContaining({ name: 'InvalidCidError' }))
    expect(() => memory.blobs.get(manifestCid(new Uint8Array([1])))).toThrow(
      expect.objectContaining({ name: 'BlobNotFoundError' }),
    )
    expect(() => memory.blobs.get(cid, { offset: data.byteLength + 1 })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError' }),
    )
    expect(() => memory.blobs.readChunk(cid, 3)).toThrow(expect.objectContaining({ name: 'InvalidArgumentError' }))
    await expect(memory.blobs.pin(manifestCid(new Uint8Array([2])))).rejects.toMatchObject({
      name: 'BlobNotFoundError',
    })
    await expect(memory.blobs.importManifest(cid, new Uint8Array([0xa0]))).rejects.toMatchObject({
      name: 'CidMismatchError',
    })
    const badManifest = new Uint8Array([0xa0])
    await expect(memory.blobs.importManifest(manifestCid(badManifest), badManifest)).rejects.toMatchObject({
      name: 'InvalidManifestError',
    })
    await expect(memory.blobs.putChunk(cid, 0, pseudoRandomBytes(CHUNK, 99))).rejects.toMatchObject({
      name: 'CorruptedChunkError',
    })
    await expect(memory.blobs.putChunk(cid, 0, data.subarray(0, 100))).rejects.toMatchObject({
      name: 'CorruptedChunkError',
    })
    expect(memory.blobs.list().length).toBe(before)
    expect(same(await memory.blobs.getBytes(cid), data)).toBe(true)
    expect(parseCid(cid.toString(), 'blob').equals(cid)).toBe(true)
  })

  it('serves hot chunks from a RAM cache under the shared budget', async () => {
    const memory = await start(tempDir(), { blobs: { chunkBytes: CHUNK, cacheBytes: 4 * CHUNK + 200 } })
    const { cid } = await memory.blobs.put(pseudoRandomBytes(2 * CHUNK, 4))
    await memory.blobs.getBytes(cid)
    await memory.blobs.getBytes(cid)
    expect(memory.stats().blobs).toMatchObject({ chunksRead: 2, cacheHits: 2 })
    expect(memory.stats().ram.budget.usedBytes).toBeGreaterThanOrEqual(2 * CHUNK)
  })
})
