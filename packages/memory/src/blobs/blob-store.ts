/**
 * Content-addressed blobs (model weights, updates, datasets) stored in fixed-size chunks under
 * CIDs; streaming put/get; every chunk verified on read; pins and garbage collection; partial
 * blobs (interrupted fetches) resume where they stopped.
 * @module
 */
import { decodeCborBounded } from '@vain/net/wire'
import { encode } from 'cborg'
import { LRUCache } from 'lru-cache'
import { TypedEventEmitter } from 'main-event'
import type { MemoryBudget } from '../budget/memory-budget.js'
import { type DiskEnvironment, peekValue } from '../disk/environment.js'
import {
  BlobIncompleteError,
  BlobNotFoundError,
  BudgetExceededError,
  CidMismatchError,
  CorruptedChunkError,
  CorruptedValueError,
  InvalidArgumentError,
  MemoryError,
  type MemoryErrorOptions,
  StorageError,
  StoreClosedError,
  TruncatedError,
} from '../errors.js'
import { assertInteger } from '../keys.js'
import { RamTier } from '../ram/ram-tier.js'
import { CID, chunkCid, manifestCid, parseCid, sha256 } from './cid.js'
import { GcLock } from './gc-lock.js'
import {
  chunkLength,
  decodeManifest,
  encodeManifest,
  MAX_CHUNK_BYTES,
  type Manifest,
  MIN_CHUNK_BYTES,
} from './manifest.js'
import { type BlobSource, isBlobSource, rechunk } from './rechunk.js'

/** Options of the blob store (`createMemory({ blobs })`). */
export interface BlobStoreOptions {
  /** Chunk size of new blobs. Default 1 MiB; 1 KiB – 4 MiB. */
  chunkBytes?: number
  /** RAM cache of verified chunks, in bytes, under the store's RAM budget. Default 0 (off). */
  cacheBytes?: number
  /** Part of `cacheBytes` the shared budget never takes back. Default 0. */
  cacheReservedBytes?: number
  /**
   * Disk budget of the blob store: most bytes of disk pages holding chunks. When a put or a
   * fetched chunk would go over it, complete unpinned blobs are removed, least recently used
   * first (pinned and partial blobs never; chunks a pinned blob or a running put uses stay);
   * when that is not enough it fails with `BudgetExceededError`. Default: no limit.
   */
  maxBytes?: number
  /**
   * Largest blob (or range) {@link BlobStore.getBytes} returns in one buffer unless the call
   * passes its own `maxBytes`. Default 256 MiB. Larger blobs: stream them with `get()`.
   */
  maxGetBytes?: number
}

/**
 * A blob (or range) is larger than the caller accepts (`maxBytes` of `get`/`getBytes`): refused
 * from its manifest, before any chunk is read.
 */
export class BlobTooLargeError extends MemoryError {
  static override name = 'BlobTooLargeError'
  override name = 'BlobTooLargeError'
  readonly cid: string
  /** Bytes the read would return. */
  readonly size: number
  readonly limit: number
  constructor(cid: string, size: number, limit: number, options: MemoryErrorOptions = {}) {
    super(
      `blob ${cid}: reading ${size} bytes exceeds the limit of ${limit} bytes (refused before reading any chunk; stream it with get() or raise maxBytes)`,
      options,
    )
    this.cid = cid
    this.size = size
    this.limit = limit
  }
}

/** Options of {@link BlobStore.put}. */
export interface BlobPutOptions {
  /** Pin the blob (default `true`, label `default`); a string pins under that label; `false` leaves it collectable. */
  pin?: boolean | string
  /** Fail with `CidMismatchError` unless the content has this CID (nothing is pinned then). */
  expectedCid?: CID | string
  /** Fail with `TruncatedError` unless the source yields exactly this many bytes. */
  size?: number
  /** Chunk size of this blob (default: the store's). */
  chunkBytes?: number
  signal?: AbortSignal
}

/** What {@link BlobStore.put} stored. */
export interface BlobPutResult {
  cid: CID
  size: number
  chunks: number
  /** Chunks written now. */
  chunksWritten: number
  /** Chunks already on disk (an earlier, interrupted put of the same content, or shared with another blob). */
  chunksReused: number
}

/** Options of {@link BlobStore.get}. */
export interface BlobGetOptions {
  /** First byte to read. Default 0. */
  offset?: number
  /** Bytes to read. Default: to the end. */
  length?: number
  /**
   * Refuse (with `BlobTooLargeError`, before reading any chunk) when the read would return more
   * bytes than this — the size the caller expects. `get` default: no limit (it streams one chunk
   * at a time); `getBytes` default: the store's `maxGetBytes`.
   */
  maxBytes?: number
  signal?: AbortSignal
}

/** What the store knows about a blob. */
export interface BlobStat {
  cid: CID
  size: number
  chunkBytes: number
  chunks: number
  /** All chunks are stored. */
  complete: boolean
  missingChunks: number
  /** Pin labels; empty when the blob is collectable. */
  pins: string[]
}

/** What a {@link BlobStore.gc} run removed. */
export interface GcReport {
  blobsRemoved: number
  chunksRemoved: number
  bytesFreed: number
}

/** Counters of the blob store. */
export interface BlobStoreStats {
  blobs: number
  chunks: number
  chunksWritten: number
  chunksReused: number
  chunksRead: number
  cacheHits: number
  cacheBytes: number
  corruptedChunks: number
  gcRuns: number
  /** Bytes of disk pages holding chunks (what `maxBytes` limits). */
  diskBytes: number
  /** Blobs removed to stay under `maxBytes`. */
  blobsEvicted: number
}

/** A blob became complete here (put, or the last chunk of a fetch). */
export interface BlobAddedEvent {
  cid: CID
  size: number
}

/** Events of a {@link BlobStore}. */
export interface BlobStoreEvents {
  'blob:added': CustomEvent<BlobAddedEvent>
  'blob:removed': CustomEvent<{ cid: CID }>
  /** A chunk on disk did not match its hash; it was dropped and the blob marked incomplete. */
  'chunk:corrupted': CustomEvent<{ cid: CID; index: number; chunk: string }>
}

interface BlobRecord {
  manifest: Uint8Array
  complete: boolean
  size: number
  chunks: number
  createdAt: number
}

const DEFAULT_CHUNK_BYTES = 1024 * 1024
const DEFAULT_MAX_GET_BYTES = 256 * 1024 * 1024
const PAGE_HEADER_BYTES = 24
const hex = (digest: Uint8Array) => Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex')
const WRITES_IN_FLIGHT = 16
const DEFAULT_PIN = 'default'
const PIN_LABEL_RE = /^[A-Za-z0-9._:@/-]{1,128}$/

function pinLabelOf(pin: boolean | string | undefined): string | undefined {
  if (pin === undefined || pin === true) return DEFAULT_PIN
  if (pin === false) return undefined
  return assertPinLabel(pin)
}

function assertPinLabel(label: unknown): string {
  if (typeof label !== 'string' || !PIN_LABEL_RE.test(label)) {
    throw new InvalidArgumentError('a pin label is 1-128 characters of A-Z a-z 0-9 . _ : @ / -')
  }
  return label
}

function encodeBlobRecord(r: BlobRecord): Uint8Array {
  return encode({ m: r.manifest, c: r.complete, s: r.size, n: r.chunks, t: r.createdAt })
}

/** Deepest nesting of a stored blob record or pin list (both nest 1 level). */
const MAX_RECORD_DEPTH = 4

function decodeBlobRecord(bytes: Uint8Array, cid: string): BlobRecord {
  let raw: any
  try {
    raw = decodeCborBounded(bytes, MAX_RECORD_DEPTH)
  } catch (cause) {
    throw new CorruptedValueError(`blob record of ${cid} is damaged`, { cause })
  }
  if (
    raw === null ||
    typeof raw !== 'object' ||
    !(raw.m instanceof Uint8Array) ||
    typeof raw.c !== 'boolean' ||
    !Number.isSafeInteger(raw.s) ||
    !Number.isSafeInteger(raw.n) ||
    typeof raw.t !== 'number'
  ) {
    throw new CorruptedValueError(`blob record of ${cid} is damaged`)
  }
  return { manifest: raw.m, complete: raw.c, size: raw.s, chunks: raw.n, createdAt: raw.t }
}

function decodePins(bytes: Uint8Array | undefined): string[] {
  if (bytes === undefined) return []
  let labels: unknown
  try {
    labels = decodeCborBounded(bytes, MAX_RECORD_DEPTH)
  } catch (cause) {
    throw new CorruptedValueError('pin record is damaged', { cause })
  }
  if (Array.isArray(labels) && labels.every((l) => typeof l === 'string')) return labels
  throw new CorruptedValueError('pin record is damaged')
}

/**
 * The blob store of a {@link Memory} (`memory.blobs`).
 *
 * @example
 * ```ts
 * const { cid } = await memory.blobs.put(fs.createReadStream('model.onnx'))
 * for await (const chunk of memory.blobs.get(cid)) out.write(chunk) // each chunk verified
 * memory.blobs.unpin(cid)
 * await memory.blobs.gc()
 * ```
 */
export class BlobStore extends TypedEventEmitter<BlobStoreEvents> {
  readonly chunkBytes: number
  private readonly env: DiskEnvironment
  private readonly lock = new GcLock()
  private readonly manifests = new LRUCache<string, Manifest>({ max: 64 })
  private readonly cache: RamTier | undefined
  private readonly now: () => number
  private closed = false
  private readonly droppingChunks = new Set<string>()
  private readonly markingIncomplete = new Set<string>()
  private chunksWritten = 0
  private chunksReused = 0
  private chunksRead = 0
  private cacheHits = 0
  private corruptedChunks = 0
  private gcRuns = 0
  private blobsEvicted = 0
  /** Disk budget of chunks (bytes of pages); Infinity: none. */
  readonly maxBytes: number
  readonly maxGetBytes: number
  /** Chunk writes sent to disk and not yet committed (bytes of pages). */
  private unsettledBytes = 0
  /** Chunks a running put holds (digest hex → count): never evicted. */
  private readonly chunksInUse = new Map<string, number>()
  /** Blobs being read (CID → count): never evicted. */
  private readonly reading = new Map<string, number>()
  /** Last use in this session (CID → sequence), for least-recently-used eviction. */
  private readonly lastUsed = new Map<string, number>()
  private useSeq = 0
  private evicting: Promise<unknown> = Promise.resolve()

  /** @internal use `memory.blobs` */
  constructor(env: DiskEnvironment, budget: MemoryBudget, options: BlobStoreOptions, now: () => number) {
    super()
    this.env = env
    this.now = now
    this.chunkBytes = assertInteger(
      'blobs.chunkBytes',
      options.chunkBytes ?? DEFAULT_CHUNK_BYTES,
      MIN_CHUNK_BYTES,
      MAX_CHUNK_BYTES,
    )
    this.maxBytes =
      options.maxBytes === undefined || options.maxBytes === Number.POSITIVE_INFINITY
        ? Number.POSITIVE_INFINITY
        : assertInteger('blobs.maxBytes', options.maxBytes, 0)
    this.maxGetBytes =
      options.maxGetBytes === undefined
        ? DEFAULT_MAX_GET_BYTES
        : options.maxGetBytes === Number.POSITIVE_INFINITY
          ? Number.POSITIVE_INFINITY
          : assertInteger('blobs.maxGetBytes', options.maxGetBytes, 0)
    const cacheBytes = assertInteger('blobs.cacheBytes', options.cacheBytes ?? 0, 0)
    if (cacheBytes > 0) {
      this.cache = new RamTier({
        label: `${env.path}#blob-chunks`,
        maxBytes: cacheBytes,
        reservedBytes: assertInteger('blobs.cacheReservedBytes', options.cacheReservedBytes ?? 0, 0, cacheBytes),
        budget,
        now,
        exactClock: false,
      })
    }
  }

  private assertOpen(): void {
    if (this.closed || this.env.isClosed) throw new StoreClosedError('the store is stopped')
  }

  private emit<K extends keyof BlobStoreEvents>(type: K, detail: BlobStoreEvents[K]['detail']): void {
    if (this.listenerCount(type) > 0) this.safeDispatchEvent(type, { detail } as any)
  }

  /**
   * Store a blob from bytes or a (sync or async) stream of bytes; resolves with its CID once
   * durable. Chunks already stored are not written again, so repeating an interrupted put
   * resumes it.
   *
   * @throws {InvalidArgumentError} for a source that is not bytes, or bad options
   * @throws {TruncatedError} when `size` was given and the source yields a different length
   * @throws {CidMismatchError} when `expectedCid` was given and the content differs
   * @throws {BudgetExceededError} when the disk budget is full (written chunks stay until `gc()`)
   * @example
   * ```ts
   * const { cid, size } = await memory.blobs.put(new Uint8Array(3 << 20))
   * console.log(cid.toString(), size) // bafyrei… 3145728
   * ```
   */
  async put(data: BlobSource, options: BlobPutOptions = {}): Promise<BlobPutResult> {
    this.assertOpen()
    if (!isBlobSource(data)) throw new InvalidArgumentError('put needs a Uint8Array or an (async) iterable of them')
    const pin = pinLabelOf(options.pin)
    const chunkBytes =
      options.chunkBytes === undefined
        ? this.chunkBytes
        : assertInteger('chunkBytes', options.chunkBytes, MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)
    const expected = options.expectedCid === undefined ? undefined : parseCid(options.expectedCid, 'blob')
    const expectedSize = options.size === undefined ? undefined : assertInteger('size', options.size, 0)
    const release = await this.lock.enter()
    const held: string[] = []
    try {
      const chunks: CID[] = []
      let size = 0
      let written = 0
      let reused = 0
      let failure: unknown
      const inflight: Promise<void>[] = []
      try {
        for await (const piece of rechunk(data, chunkBytes)) {
          options.signal?.throwIfAborted()
          if (failure !== undefined) break
          size += piece.byteLength
          if (expectedSize !== undefined && size > expectedSize) {
            throw new TruncatedError(`the source yields more than the announced ${expectedSize} bytes`)
          }
          const cid = chunkCid(piece)
          chunks.push(cid)
          const key = cid.multihash.digest
          held.push(this.holdChunk(key))
          if (this.chunkStored(key)) {
            reused++
            continue
          }
          const cost = this.pagesOf(piece.byteLength)
          await this.ensureRoom(cost)
          this.env.reserve(piece.byteLength + 64)
          this.unsettledBytes += cost
          inflight.push(
            this.env.chunks.put(key, Buffer.from(piece)).then(
              () => {
                this.unsettledBytes -= cost
              },
              (err: unknown) => {
                this.unsettledBytes -= cost
                failure ??= err
              },
            ),
          )
          written++
          if (inflight.length >= WRITES_IN_FLIGHT) await inflight.shift()
        }
      } finally {
        // chunks already sent to disk stay there (a repeated put reuses them): let them land
        await Promise.all(inflight)
      }
      if (failure !== undefined) throw new StorageError('writing a chunk failed', { cause: failure })
      if (expectedSize !== undefined && size !== expectedSize) {
        throw new TruncatedError(`the source ended after ${size} of ${expectedSize} bytes`)
      }
      const manifest = encodeManifest({ size, chunkBytes, chunks })
      const cid = manifestCid(manifest)
      if (expected !== undefined && expected.toString() !== cid.toString()) {
        throw new CidMismatchError(expected.toString(), cid.toString())
      }
      await this.writeRecord(cid, manifest, true, size, chunks.length, pin)
      this.touch(cid.toString())
      this.chunksWritten += written
      this.chunksReused += reused
      this.emit('blob:added', { cid, size })
      return { cid, size, chunks: chunks.length, chunksWritten: written, chunksReused: reused }
    } finally {
      for (const h of held) this.releaseChunk(h)
      release()
    }
  }

  private async writeRecord(
    cid: CID,
    manifest: Uint8Array,
    complete: boolean,
    size: number,
    chunks: number,
    pin: string | undefined,
  ): Promise<void> {
    const key = cid.toString()
    const existing = this.record(key)
    const record = encodeBlobRecord({
      manifest,
      complete: complete || existing?.complete === true,
      size,
      chunks,
      createdAt: existing?.createdAt ?? this.now(),
    })
    this.env.reserve(record.byteLength + manifest.byteLength)
    await this.env.settle(
      this.env.root.transaction(() => {
        void this.env.blobs.put(key, record as Buffer)
        if (pin !== undefined) this.addPin(key, pin)
      }),
    )
  }

  private addPin(key: string, label: string): void {
    const labels = decodePins(this.env.pins.get(key))
    if (!labels.includes(label)) void this.env.pins.put(key, encode([...labels, label]) as Buffer)
  }

  private record(key: string): BlobRecord | undefined {
    const bytes = this.env.blobs.get(key)
    return bytes === undefined ? undefined : decodeBlobRecord(bytes, key)
  }

  /**
   * The decoded manifest of a stored (complete or partial) blob.
   *
   * @throws {InvalidCidError} for a bad CID
   */
  manifest(cidInput: CID | string): Manifest | undefined {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    const key = cid.toString()
    const cached = this.manifests.get(key)
    if (cached !== undefined) return cached
    const record = this.record(key)
    if (record === undefined) return undefined
    // the manifest authenticates every chunk: it must still hash to the CID it is stored under
    if (!Buffer.from(sha256(record.manifest)).equals(cid.multihash.digest)) {
      throw new CorruptedValueError(`the stored manifest of ${key} does not hash to its CID`)
    }
    const manifest = decodeManifest(record.manifest)
    this.manifests.set(key, manifest)
    return manifest
  }

  /** The manifest bytes of a stored blob (what peers verify against the CID). */
  manifestBytes(cidInput: CID | string): Uint8Array | undefined {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    return this.record(cid.toString())?.manifest
  }

  /**
   * Stream a blob (or the range `offset`/`length` of it), one chunk at a time: each chunk is
   * hashed (sha2-256, against its CID in the manifest, which hashes to the blob CID) before any
   * of its bytes is yielded, and only the requested part of it is copied out. The bytes yielded
   * are counted against the length the manifest declares.
   *
   * @throws {BlobTooLargeError} when the read would return more than `maxBytes` (at call time, no chunk read)
   * @throws {InvalidCidError} for a bad CID (at call time)
   * @throws {BlobNotFoundError} when the blob is not stored here (at call time)
   * @throws {InvalidArgumentError} for a range outside the blob (at call time)
   * @throws {CorruptedChunkError} when a chunk on disk does not match its hash (while reading)
   * @throws {BlobIncompleteError} when a chunk is missing (while reading)
   * @example
   * ```ts
   * for await (const chunk of memory.blobs.get(cid, { offset: 0, length: 1024 })) console.log(chunk.byteLength)
   * ```
   */
  get(cidInput: CID | string, options: BlobGetOptions = {}): AsyncIterable<Uint8Array> {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    const manifest = this.manifest(cid)
    if (manifest === undefined) throw new BlobNotFoundError(cid.toString())
    const offset = assertInteger('offset', options.offset ?? 0, 0, manifest.size)
    const length = assertInteger('length', options.length ?? manifest.size - offset, 0, manifest.size - offset)
    this.checkLimit(cid, length, options.maxBytes, Number.POSITIVE_INFINITY)
    const signal = options.signal
    const self = this
    const key = cid.toString()
    return {
      async *[Symbol.asyncIterator]() {
        if (length === 0) return
        const first = Math.floor(offset / manifest.chunkBytes)
        const last = Math.floor((offset + length - 1) / manifest.chunkBytes)
        self.touch(key)
        self.reading.set(key, (self.reading.get(key) ?? 0) + 1)
        let yielded = 0
        try {
          for (let i = first; i <= last; i++) {
            signal?.throwIfAborted()
            const start = i === first ? offset - i * manifest.chunkBytes : 0
            const end = i === last ? offset + length - i * manifest.chunkBytes : chunkLength(manifest, i)
            const part = self.readVerified(cid, i, manifest, start, end)
            yielded += part.byteLength
            yield part
          }
        } finally {
          const n = (self.reading.get(key) ?? 1) - 1
          if (n === 0) self.reading.delete(key)
          else self.reading.set(key, n)
        }
        if (yielded !== length) throw new TruncatedError(`blob ${key}: read ${yielded} of ${length} bytes`)
      },
    }
  }

  private checkLimit(cid: CID, length: number, maxBytes: number | undefined, fallback: number): void {
    const limit =
      maxBytes === undefined
        ? fallback
        : maxBytes === Number.POSITIVE_INFINITY
          ? maxBytes
          : assertInteger('maxBytes', maxBytes, 0)
    if (length > limit) throw new BlobTooLargeError(cid.toString(), length, limit)
  }

  /**
   * Bytes `start`..`end` of chunk `index`, after hashing the whole chunk where it lies on disk
   * (no copy of it is made unless the chunk cache keeps it).
   */
  private readVerified(cid: CID, index: number, manifest: Manifest, start: number, end: number): Uint8Array {
    if (this.cache !== undefined) {
      const chunk = this.readChunk(cid, index, manifest)
      return start === 0 && end === chunk.byteLength ? chunk : chunk.subarray(start, end)
    }
    this.assertOpen()
    const chunk = manifest.chunks[index]!
    const digest = chunk.multihash.digest
    const view = this.droppingChunks.has(hex(digest)) ? undefined : peekValue(this.env.chunks, digest)
    if (view === undefined) {
      this.markIncomplete(cid)
      throw new BlobIncompleteError(cid.toString(), this.missingChunks(cid).length)
    }
    if (view.byteLength !== chunkLength(manifest, index) || !Buffer.from(sha256(view)).equals(digest)) {
      this.corrupted(cid, index, chunk)
    }
    this.chunksRead++
    // a copy of just the part asked for: the view is only valid until the next read
    return Uint8Array.prototype.slice.call(view, start, end)
  }

  private corrupted(cid: CID, index: number, chunk: CID): never {
    const cacheKey = chunk.toString()
    this.corruptedChunks++
    this.dropChunk(chunk.multihash.digest)
    this.markIncomplete(cid)
    this.emit('chunk:corrupted', { cid, index, chunk: cacheKey })
    throw new CorruptedChunkError(
      cacheKey,
      `chunk ${index} of ${cid} (${cacheKey}) on disk does not match its hash: dropped; fetch the blob again to repair it`,
    )
  }

  /**
   * A whole blob (or a range) in one buffer, refused from its manifest (before any chunk is
   * read, with `BlobTooLargeError`) when larger than `maxBytes` (default: the store's
   * `maxGetBytes`, 256 MiB). Pass the size you expect. Chunks are verified as they are copied in;
   * nothing but the result and one chunk is held.
   *
   * @throws {BlobTooLargeError} when the read would return more than `maxBytes`
   * @throws the same errors as {@link BlobStore.get}
   * @example
   * ```ts
   * const weights = await memory.blobs.getBytes(cid, { maxBytes: expectedBytes })
   * ```
   */
  async getBytes(cidInput: CID | string, options: BlobGetOptions = {}): Promise<Uint8Array> {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    const manifest = this.manifest(cid)
    if (manifest === undefined) throw new BlobNotFoundError(cid.toString())
    const offset = assertInteger('offset', options.offset ?? 0, 0, manifest.size)
    const length = assertInteger('length', options.length ?? manifest.size - offset, 0, manifest.size - offset)
    this.checkLimit(cid, length, options.maxBytes, this.maxGetBytes)
    const parts = this.get(cid, { ...options, offset, length, maxBytes: length })
    let out: Uint8Array | undefined
    let at = 0
    for await (const part of parts) {
      if (out === undefined && part.byteLength === length) return part // one chunk: already a copy of its own
      out ??= new Uint8Array(length)
      out.set(part, at)
      at += part.byteLength
    }
    return out ?? new Uint8Array(0)
  }

  /**
   * Chunk `index` of a blob, verified against its CID.
   *
   * @throws {BlobNotFoundError} when the blob is not stored here
   * @throws {InvalidArgumentError} for an index out of range
   * @throws {BlobIncompleteError} when the chunk is missing
   * @throws {CorruptedChunkError} when the stored chunk does not match its hash (it is dropped)
   */
  readChunk(cidInput: CID | string, index: number, known?: Manifest): Uint8Array {
    this.assertOpen()
    const cid = known === undefined ? parseCid(cidInput, 'blob') : (cidInput as CID)
    const manifest = known ?? this.manifest(cid)
    if (manifest === undefined) throw new BlobNotFoundError(cid.toString())
    assertInteger('chunk index', index, 0, manifest.chunks.length - 1)
    const chunk = manifest.chunks[index]!
    const cacheKey = chunk.toString()
    const cached = this.cache?.get(cacheKey)
    if (cached !== undefined) {
      this.cacheHits++
      return cached
    }
    const digest = chunk.multihash.digest
    const raw = this.droppingChunks.has(Buffer.from(digest).toString('hex'))
      ? undefined
      : this.env.chunks.getBinary(digest)
    if (raw === undefined) {
      this.markIncomplete(cid)
      throw new BlobIncompleteError(cid.toString(), this.missingChunks(cid).length)
    }
    const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)
    if (
      bytes.byteLength !== chunkLength(manifest, index) ||
      !Buffer.from(sha256(bytes)).equals(chunk.multihash.digest)
    ) {
      this.corrupted(cid, index, chunk)
    }
    this.chunksRead++
    this.cache?.set(cacheKey, bytes, 0)
    return bytes
  }

  /** True when a chunk is on disk and not being dropped. */
  private chunkStored(digest: Uint8Array): boolean {
    return !this.droppingChunks.has(Buffer.from(digest).toString('hex')) && this.env.chunks.doesExist(digest)
  }

  /** Remove a bad chunk; until the removal commits, it already counts as missing. */
  private dropChunk(digest: Uint8Array): void {
    const hex = Buffer.from(digest).toString('hex')
    this.droppingChunks.add(hex)
    void this.env.chunks.remove(digest).finally(() => this.droppingChunks.delete(hex))
  }

  private markIncomplete(cid: CID): void {
    const key = cid.toString()
    const record = this.record(key)
    if (record === undefined || !record.complete) return
    this.markingIncomplete.add(key)
    void this.env.blobs
      .put(key, encodeBlobRecord({ ...record, complete: false }) as Buffer)
      .finally(() => this.markingIncomplete.delete(key))
  }

  /** True when the blob is stored here completely. */
  has(cidInput: CID | string): boolean {
    this.assertOpen()
    const key = parseCid(cidInput, 'blob').toString()
    return !this.markingIncomplete.has(key) && this.record(key)?.complete === true
  }

  /** Indices of the chunks of a stored blob that are not on disk. */
  missingChunks(cidInput: CID | string): number[] {
    const manifest = this.manifest(cidInput)
    if (manifest === undefined) throw new BlobNotFoundError(String(cidInput))
    const missing: number[] = []
    manifest.chunks.forEach((chunk, i) => {
      if (!this.chunkStored(chunk.multihash.digest)) missing.push(i)
    })
    return missing
  }

  /**
   * What the store knows about a blob, or `undefined` when it has never seen it.
   *
   * @throws {InvalidCidError} for a bad CID
   */
  stat(cidInput: CID | string): BlobStat | undefined {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    const manifest = this.manifest(cid)
    if (manifest === undefined) return undefined
    const missing = this.missingChunks(cid).length
    return {
      cid,
      size: manifest.size,
      chunkBytes: manifest.chunkBytes,
      chunks: manifest.chunks.length,
      complete: missing === 0,
      missingChunks: missing,
      pins: this.pins(cid),
    }
  }

  /** Every stored blob: CID, size, completeness and pins (no chunk check; see {@link BlobStore.stat}). */
  list(): Array<{ cid: CID; size: number; complete: boolean; pins: string[] }> {
    this.assertOpen()
    const out: Array<{ cid: CID; size: number; complete: boolean; pins: string[] }> = []
    for (const { key, value } of this.env.blobs.getRange({})) {
      let record: BlobRecord
      try {
        record = decodeBlobRecord(value, key)
      } catch {
        continue
      }
      out.push({ cid: CID.parse(key), size: record.size, complete: record.complete, pins: this.pins(key) })
    }
    return out
  }

  /** Pin labels of a blob (empty: collectable). */
  pins(cidInput: CID | string): string[] {
    this.assertOpen()
    return decodePins(this.env.pins.get(parseCid(cidInput, 'blob').toString()))
  }

  /**
   * Pin a stored (complete or partial) blob under `label` so `gc()` keeps it.
   *
   * @throws {BlobNotFoundError} when the blob is not stored here
   * @throws {InvalidArgumentError} for a bad label
   */
  async pin(cidInput: CID | string, label = DEFAULT_PIN): Promise<void> {
    this.assertOpen()
    const key = parseCid(cidInput, 'blob').toString()
    assertPinLabel(label)
    if (this.env.blobs.get(key) === undefined) throw new BlobNotFoundError(key)
    await this.env.settle(this.env.root.transaction(() => this.addPin(key, label)))
  }

  /**
   * Remove the pin `label` (default `default`); the blob becomes collectable when no pin is left.
   * Resolves to whether the pin was there.
   */
  async unpin(cidInput: CID | string, label = DEFAULT_PIN): Promise<boolean> {
    this.assertOpen()
    const key = parseCid(cidInput, 'blob').toString()
    assertPinLabel(label)
    let removed = false
    await this.env.settle(
      this.env.root.transaction(() => {
        const labels = decodePins(this.env.pins.get(key))
        if (!labels.includes(label)) return
        removed = true
        const rest = labels.filter((l) => l !== label)
        if (rest.length === 0) void this.env.pins.remove(key)
        else void this.env.pins.put(key, encode(rest) as Buffer)
      }),
    )
    return removed
  }

  /**
   * Take a writer lease (puts and fetches hold one; `gc()` waits for none to be held).
   * @internal used by blob sharing
   */
  async lease(): Promise<() => void> {
    this.assertOpen()
    return this.lock.enter()
  }

  /**
   * Store a blob's manifest (a partial blob until all chunks are there), after checking it
   * hashes to `cid` and decodes. Call under a {@link BlobStore.lease}.
   *
   * @throws {CidMismatchError} when the bytes do not hash to `cid`
   * @throws {InvalidManifestError} when they do not decode
   */
  async importManifest(cidInput: CID | string, bytes: Uint8Array, pin?: string): Promise<Manifest> {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    const actual = manifestCid(bytes)
    if (actual.toString() !== cid.toString()) throw new CidMismatchError(cid.toString(), actual.toString())
    const manifest = decodeManifest(bytes)
    if (manifest.size > this.maxBytes) {
      throw new BudgetExceededError(
        'disk',
        manifest.size,
        this.maxBytes,
        `blob ${cid} declares ${manifest.size} bytes, more than the blob store's disk budget of ${this.maxBytes}`,
      )
    }
    const existing = this.record(cid.toString())
    if (existing === undefined || pin !== undefined) {
      await this.writeRecord(cid, bytes, false, manifest.size, manifest.chunks.length, pin)
    }
    return manifest
  }

  /**
   * Store chunk `index` of a blob whose manifest is stored, after checking its length and hash.
   * Call under a {@link BlobStore.lease}.
   *
   * @throws {CorruptedChunkError} when the bytes are not that chunk (nothing is stored)
   */
  async putChunk(cidInput: CID | string, index: number, bytes: Uint8Array): Promise<void> {
    this.assertOpen()
    const manifest = this.manifest(cidInput)
    if (manifest === undefined) throw new BlobNotFoundError(String(cidInput))
    assertInteger('chunk index', index, 0, manifest.chunks.length - 1)
    const chunk = manifest.chunks[index]!
    const expected = chunkLength(manifest, index)
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== expected) {
      throw new CorruptedChunkError(
        chunk.toString(),
        `chunk ${index}: ${bytes instanceof Uint8Array ? bytes.byteLength : 'no'} bytes, expected ${expected}`,
      )
    }
    if (!Buffer.from(sha256(bytes)).equals(chunk.multihash.digest)) {
      throw new CorruptedChunkError(chunk.toString(), `chunk ${index} does not hash to ${chunk}`)
    }
    if (this.chunkStored(chunk.multihash.digest)) return
    const held = this.holdChunk(chunk.multihash.digest)
    try {
      const cost = this.pagesOf(bytes.byteLength)
      await this.ensureRoom(cost)
      this.env.reserve(bytes.byteLength + 64)
      this.unsettledBytes += cost
      try {
        await this.env.settle(this.env.chunks.put(chunk.multihash.digest, Buffer.from(bytes)))
      } finally {
        this.unsettledBytes -= cost
      }
    } finally {
      this.releaseChunk(held)
    }
    this.chunksWritten++
  }

  /**
   * Mark a partial blob complete when every chunk is stored; resolves to whether it is complete.
   * Emits `blob:added` on the transition.
   */
  async completeIfDone(cidInput: CID | string): Promise<boolean> {
    this.assertOpen()
    const cid = parseCid(cidInput, 'blob')
    const key = cid.toString()
    const record = this.record(key)
    if (record === undefined) return false
    if (this.missingChunks(cid).length > 0) return false
    if (!record.complete) {
      await this.env.settle(this.env.blobs.put(key, encodeBlobRecord({ ...record, complete: true }) as Buffer))
      this.emit('blob:added', { cid, size: record.size })
    }
    return true
  }

  /**
   * Remove unpinned blobs and every chunk no pinned blob references. Waits for running puts and
   * fetches to finish; new ones wait for it.
   *
   * @example
   * ```ts
   * await memory.blobs.unpin(oldModel)
   * const { bytesFreed } = await memory.blobs.gc()
   * ```
   */
  async gc(): Promise<GcReport> {
    this.assertOpen()
    return this.lock.exclusive(async () => {
      this.assertOpen()
      const live = new Set<string>()
      const doomedBlobs: string[] = []
      for (const { key, value } of this.env.blobs.getRange({})) {
        const pinned = this.env.pins.doesExist(key)
        let manifest: Manifest | undefined
        try {
          manifest = decodeManifest(decodeBlobRecord(value, key).manifest)
        } catch {
          manifest = undefined
        }
        if (pinned && manifest !== undefined) {
          for (const c of manifest.chunks) live.add(Buffer.from(c.multihash.digest).toString('hex'))
        } else {
          doomedBlobs.push(key)
        }
      }
      const doomedChunks: Uint8Array[] = []
      let bytesFreed = 0
      for (const key of this.env.chunks.getKeys({})) {
        if (live.has(Buffer.from(key).toString('hex'))) continue
        doomedChunks.push(Buffer.from(key))
        bytesFreed += this.env.chunks.getBinaryFast(key)?.length ?? 0
      }
      await this.env.settle(
        this.env.root.transaction(() => {
          for (const key of doomedBlobs) {
            void this.env.blobs.remove(key)
            void this.env.pins.remove(key)
          }
          for (const key of doomedChunks) void this.env.chunks.remove(key)
        }),
      )
      this.gcRuns++
      this.cache?.clear()
      for (const key of doomedBlobs) {
        this.manifests.delete(key)
        this.emit('blob:removed', { cid: CID.parse(key) })
      }
      this.env.refreshUsage()
      return { blobsRemoved: doomedBlobs.length, chunksRemoved: doomedChunks.length, bytesFreed }
    })
  }

  /** Counters of the blob store. */
  stats(): BlobStoreStats {
    return {
      blobs: (this.env.blobs.getStats() as { entryCount: number }).entryCount,
      chunks: (this.env.chunks.getStats() as { entryCount: number }).entryCount,
      chunksWritten: this.chunksWritten,
      chunksReused: this.chunksReused,
      chunksRead: this.chunksRead,
      cacheHits: this.cacheHits,
      cacheBytes: this.cache?.bytes ?? 0,
      corruptedChunks: this.corruptedChunks,
      gcRuns: this.gcRuns,
      diskBytes: this.diskBytes(),
      blobsEvicted: this.blobsEvicted,
    }
  }

  private touch(key: string): void {
    this.lastUsed.delete(key)
    this.lastUsed.set(key, ++this.useSeq)
  }

  private holdChunk(digest: Uint8Array): string {
    const h = hex(digest)
    this.chunksInUse.set(h, (this.chunksInUse.get(h) ?? 0) + 1)
    return h
  }

  private releaseChunk(h: string): void {
    const n = (this.chunksInUse.get(h) ?? 1) - 1
    if (n === 0) this.chunksInUse.delete(h)
    else this.chunksInUse.set(h, n)
  }

  private pageSize(): number {
    return (this.env.chunks.getStats() as { pageSize: number }).pageSize || 4096
  }

  /** Bytes of disk pages a chunk of `bytes` takes (LMDB keeps a large value on its own pages). */
  private pagesOf(bytes: number): number {
    const page = this.pageSize()
    return Math.ceil((bytes + PAGE_HEADER_BYTES) / page) * page
  }

  /** Bytes of committed disk pages holding chunks. */
  private diskBytes(): number {
    const s = this.env.chunks.getStats() as {
      pageSize: number
      treeBranchPageCount: number
      treeLeafPageCount: number
      overflowPages: number
    }
    return (s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages) * s.pageSize
  }

  /**
   * Make room for `bytes` more under `maxBytes`: remove complete unpinned blobs, least recently
   * used first, keeping every chunk a pinned, partial, read or written blob uses.
   *
   * @throws {BudgetExceededError} when that is not enough
   */
  private async ensureRoom(bytes: number): Promise<void> {
    if (this.maxBytes === Number.POSITIVE_INFINITY) return
    const run = this.evicting.then(async () => {
      const used = this.diskBytes() + this.unsettledBytes
      if (used + bytes <= this.maxBytes) return
      await this.evict(used + bytes - this.maxBytes)
      const after = this.diskBytes() + this.unsettledBytes
      if (after + bytes > this.maxBytes) {
        throw new BudgetExceededError(
          'disk',
          bytes,
          Math.max(0, this.maxBytes - after),
          `blob store disk budget exceeded: ${bytes} bytes requested, ${Math.max(0, this.maxBytes - after)} of ${this.maxBytes} available after removing every unpinned blob not in use (pinned blobs are never removed: unpin some)`,
        )
      }
    })
    this.evicting = run.catch(() => {})
    return run
  }

  private async evict(needed: number): Promise<void> {
    const refs = new Map<string, number>()
    const candidates: Array<{ key: string; order: number; created: number; chunks: string[]; sizes: number[] }> = []
    for (const { key, value } of this.env.blobs.getRange({})) {
      let record: BlobRecord
      let manifest: Manifest
      try {
        record = decodeBlobRecord(value, key)
        manifest = decodeManifest(record.manifest)
      } catch {
        continue
      }
      const chunks = manifest.chunks.map((c) => hex(c.multihash.digest))
      for (const c of new Set(chunks)) refs.set(c, (refs.get(c) ?? 0) + 1)
      if (!record.complete || this.env.pins.doesExist(key) || this.reading.has(key)) continue
      if (this.markingIncomplete.has(key)) continue
      candidates.push({
        key,
        order: this.lastUsed.get(key) ?? 0,
        created: record.createdAt,
        chunks,
        sizes: manifest.chunks.map((_, i) => chunkLength(manifest, i)),
      })
    }
    // never used in this session: oldest first; then in the order of last use
    candidates.sort((a, b) => a.order - b.order || a.created - b.created || (a.key < b.key ? -1 : 1))
    const doomedBlobs: string[] = []
    const doomedChunks: string[] = []
    let freed = 0
    for (const c of candidates) {
      if (freed >= needed) break
      doomedBlobs.push(c.key)
      const seen = new Set<string>()
      c.chunks.forEach((h, i) => {
        if (seen.has(h)) return
        seen.add(h)
        const left = (refs.get(h) ?? 1) - 1
        refs.set(h, left)
        if (left === 0 && !this.chunksInUse.has(h)) {
          doomedChunks.push(h)
          freed += this.pagesOf(c.sizes[i]!)
        }
      })
    }
    if (doomedBlobs.length === 0) return
    await this.env.settle(
      this.env.root.transaction(() => {
        const removed = new Set<string>()
        for (const key of doomedBlobs) {
          // pinned or read meanwhile: keep it
          if (this.env.pins.doesExist(key) || this.reading.has(key)) continue
          removed.add(key)
          void this.env.blobs.remove(key)
        }
        // a chunk stays when a blob recorded since the scan (or kept) lists it
        const live = new Set<string>()
        for (const { key, value } of this.env.blobs.getRange({})) {
          if (removed.has(key)) continue
          try {
            for (const c of decodeManifest(decodeBlobRecord(value, key).manifest).chunks) {
              live.add(hex(c.multihash.digest))
            }
          } catch {}
        }
        for (const h of doomedChunks) {
          if (live.has(h) || this.chunksInUse.has(h)) continue
          void this.env.chunks.remove(Buffer.from(h, 'hex'))
        }
      }),
    )
    this.cache?.clear()
    this.env.refreshUsage()
    for (const key of doomedBlobs) {
      this.manifests.delete(key)
      this.lastUsed.delete(key)
      this.blobsEvicted++
      this.emit('blob:removed', { cid: CID.parse(key) })
    }
  }

  /** @internal called by the store's `stop()` */
  async close(): Promise<void> {
    this.closed = true
    this.cache?.close()
    this.manifests.clear()
  }
}
