/**
 * A namespace of the hybrid store: keys → bytes in a RAM tier (LRU by bytes, TTL) over the
 * persistent LMDB tier.
 * @module
 */
import { type DiskEnvironment, peekValue } from '../disk/environment.js'
import { decodeRecord, encodeRecord } from '../disk/record.js'
import {
  BudgetExceededError,
  CorruptedValueError,
  InvalidArgumentError,
  StorageError,
  StoreClosedError,
  ValueTooLargeError,
} from '../errors.js'
import { assertBytes, assertInteger, assertKey, assertTtl, MAX_KEY_BYTES } from '../keys.js'
import { entryBytes, type RamTier } from '../ram/ram-tier.js'

/** Which tiers a namespace uses. */
export type Tiers = 'ram+disk' | 'ram' | 'disk'

/**
 * `through` (default): `put` resolves once the value is durable on disk. `back`: `put` resolves
 * at once and the disk write follows (a crash may lose the last writes; `flush()` waits for them).
 */
export type WriteMode = 'through' | 'back'

/** Options of {@link Memory.namespace}. */
export interface NamespaceOptions {
  /** Default `ram+disk`. */
  tiers?: Tiers
  /** Default `through`. Only meaningful with a disk tier. */
  writeMode?: WriteMode
  /** Default TTL of entries in ms (0 or absent: no expiry). A `put` can override it. */
  ttlMs?: number
  /** RAM tier of this namespace: its own cap and its guaranteed share of the store's RAM budget. */
  ram?: { maxBytes?: number; reservedBytes?: number }
  /** Largest value accepted. Default 16 MiB (put larger things in `memory.blobs`). */
  maxValueBytes?: number
  /**
   * RAM-only namespaces: keep a copy of each value `put` is given (default `true`), so a caller
   * that reuses its buffer cannot change what is stored. `false` stores the caller's array
   * itself (faster; the caller must not mutate it afterwards). Tiers with a disk always copy.
   */
  copyValues?: boolean
}

/** Options of {@link Namespace.put}. */
export interface PutOptions {
  /** TTL of this entry in ms; 0 for none. Default: the namespace's `ttlMs`. */
  ttlMs?: number
}

/** Counters of one namespace. */
export interface NamespaceStats {
  /** Reads answered from RAM. */
  ramHits: number
  /** Reads answered from disk (then promoted into RAM when the namespace has a RAM tier). */
  diskHits: number
  misses: number
  ramBytes: number
  ramEntries: number
  /** Entries dropped from RAM for room (own cap or shared budget). */
  evictions: number
  /** Entries found expired, in RAM and on disk. */
  ramExpirations: number
  diskExpirations: number
  writes: number
  deletes: number
}

/** What a namespace needs from its store (fields, not getters: read on every operation). */
export interface NamespaceHost {
  /** True between the store's `start()` and `stop()`. */
  open: boolean
  env: DiskEnvironment | undefined
  readonly now: () => number
  /** Report a disk expiry and queue its removal. */
  expiredOnDisk(namespace: string, key: string, compositeKey: string, expiresAt: number): void
  /** A write-back write failed. */
  writeBackFailed(namespace: string, key: string, err: unknown): void
}

const RESOLVED: Promise<void> = Promise.resolve()

/** Separator between namespace and key in the disk key (namespace names never contain it). */
export const NS_SEPARATOR = '/'

/**
 * A namespace: `get`/`put`/`delete`/`has`/`keys`/`clear` over bytes. Get it from
 * {@link Memory.namespace}.
 *
 * Values are bytes. `put` keeps its own copy; `get` may return the instance held in the RAM tier,
 * so treat it as read-only (copy before mutating).
 *
 * @example
 * ```ts
 * const peers = memory.namespace('peers', { ttlMs: 60_000 })
 * await peers.put('12D3KooW…', new TextEncoder().encode('{"rtt":12}'))
 * const bytes = peers.get('12D3KooW…')
 * ```
 */
export class Namespace {
  readonly name: string
  readonly tiers: Tiers
  readonly writeMode: WriteMode
  readonly defaultTtlMs: number
  readonly maxValueBytes: number
  readonly copyValues: boolean
  /** @internal */
  readonly ram: RamTier | undefined
  private readonly host: NamespaceHost
  private readonly prefix: string
  private readonly pending = new Set<Promise<void>>()
  private ramHits = 0
  private diskHits = 0
  private misses = 0
  private diskExpirations = 0
  private writes = 0
  private deletes = 0

  /** @internal use {@link Memory.namespace} */
  constructor(
    name: string,
    options: Required<Pick<NamespaceOptions, 'tiers' | 'writeMode' | 'ttlMs' | 'maxValueBytes' | 'copyValues'>>,
    ram: RamTier | undefined,
    host: NamespaceHost,
  ) {
    this.name = name
    this.tiers = options.tiers
    this.writeMode = options.writeMode
    this.defaultTtlMs = options.ttlMs
    this.maxValueBytes = options.maxValueBytes
    this.copyValues = options.copyValues
    this.ram = ram
    this.host = host
    this.prefix = name + NS_SEPARATOR
  }

  /**
   * The value under `key`, or `undefined` when absent or expired. Reads RAM first, then disk
   * (promoting what it finds into RAM). Synchronous: LMDB reads are memory-mapped.
   *
   * @throws {InvalidKeyError} for a key that breaks the rules
   * @throws {CorruptedValueError} when the stored record is damaged
   * @throws {StoreClosedError} before `start()` / after `stop()`
   */
  get(key: string): Uint8Array | undefined {
    const host = this.host
    if (!host.open) throw closed()
    // the common key passes without measuring its UTF-8 length; others get the full check
    if (typeof key !== 'string' || key.length === 0 || key.length > FAST_KEY_CHARS) assertKey(key)
    const ram = this.ram
    if (ram !== undefined) {
      const hit = ram.get(key)
      if (hit !== undefined) {
        this.ramHits++
        return hit
      }
    }
    const env = host.env
    if (env === undefined || this.tiers === 'ram') {
      this.misses++
      return undefined
    }
    // a lone surrogate is never stored (put refuses it) but would alias U+FFFD on disk
    if (!key.isWellFormed()) assertKey(key)
    const ck = this.prefix + key
    // lmdb's shared read buffer, with a patched `length`; valid until the next read
    const raw = env.kv.getBinaryFast(ck)
    if (raw === undefined) {
      this.misses++
      return undefined
    }
    const length = raw.length
    let offset = 2
    let expiresAt = 0
    if (length < 2 || raw[0] !== 1 || raw[1] !== 0) {
      const view = decodeRecord(raw.subarray(0, length), `${this.name}: ${JSON.stringify(key.slice(0, 80))}`)
      offset = view.offset
      expiresAt = view.expiresAt
    }
    let ttl = 0
    if (expiresAt !== 0) {
      const left = expiresAt - host.now()
      if (left <= 0) {
        this.misses++
        host.expiredOnDisk(this.name, key, ck, expiresAt)
        return undefined
      }
      ttl = Math.ceil(left)
    }
    const value = new Uint8Array(length - offset)
    value.set(new Uint8Array(raw.buffer, raw.byteOffset + offset, length - offset))
    this.diskHits++
    ram?.set(key, value, ttl)
    return value
  }

  /**
   * True when `key` holds a live (not expired) value.
   *
   * @throws {InvalidKeyError} for a key that breaks the rules
   */
  has(key: string): boolean {
    if (!this.host.open) throw closed()
    assertKey(key)
    if (this.ram?.has(key) === true) return true
    const env = this.host.env
    if (env === undefined || this.tiers === 'ram') return false
    const raw = peekValue(env.kv, this.prefix + key)
    if (raw === undefined) return false
    const view = decodeRecord(raw)
    return view.expiresAt === 0 || view.expiresAt > this.host.now()
  }

  /**
   * Store `value` under `key`. With write-through (default) it resolves once the value is
   * durable (per the store's `durability`); the value is readable at once.
   *
   * @throws {InvalidKeyError} for a key that breaks the rules
   * @throws {InvalidArgumentError} when `value` is not a Uint8Array or the TTL is invalid
   * @throws {ValueTooLargeError} when `value` exceeds `maxValueBytes`
   * @throws {BudgetExceededError} when the disk budget (or, RAM-only, the RAM budget) is full
   * @throws {StorageError} when the disk write fails (the RAM copy is dropped then)
   */
  put(key: string, value: Uint8Array, options?: PutOptions): Promise<void> {
    try {
      return this.putNow(key, value, options)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  private putNow(key: string, value: Uint8Array, options: PutOptions | undefined): Promise<void> {
    if (!this.host.open) throw closed()
    if (typeof key !== 'string' || key.length === 0 || key.length > FAST_KEY_CHARS || !key.isWellFormed()) {
      assertKey(key)
    }
    if (!(value instanceof Uint8Array)) assertBytes('value', value)
    if (value.byteLength > this.maxValueBytes) throw new ValueTooLargeError(value.byteLength, this.maxValueBytes)
    const ttl = options?.ttlMs === undefined ? this.defaultTtlMs : assertTtl(options.ttlMs)
    const env = this.host.env
    if (env === undefined || this.tiers === 'ram') {
      const ram = this.ram!
      const size = entryBytes(key, value)
      if (size > ram.maxBytes) throw new ValueTooLargeError(size, ram.maxBytes)
      if (!ram.set(key, this.copyValues ? new Uint8Array(value) : value, ttl, size)) {
        throw new BudgetExceededError(
          'ram',
          size,
          0,
          `${this.name}: the shared RAM budget has no room for ${size} bytes`,
        )
      }
      this.writes++
      return RESOLVED
    }
    const expiresAt = ttl > 0 ? this.host.now() + ttl : 0
    const ck = this.prefix + key
    // a RAM tier keeps a view of the record: give it its own allocation, not a slice of a shared pool
    const record = encodeRecord(value, expiresAt, this.ram === undefined)
    env.reserve(record.byteLength + ck.length)
    const write = env.kv.put(ck, record as Buffer)
    if (expiresAt > 0) void env.expiry.put([expiresAt, ck], EMPTY)
    this.ram?.set(
      key,
      new Uint8Array(record.buffer, record.byteOffset + record.byteLength - value.byteLength, value.byteLength),
      ttl,
    )
    this.writes++
    const settled = env.settle(write, (cause: unknown) => {
      this.ram?.delete(key)
      throw new StorageError(`${this.name}: write of ${JSON.stringify(key.slice(0, 80))} failed`, { cause })
    })
    if (this.writeMode === 'through') return settled
    const tracked = settled.catch((err: unknown) => this.host.writeBackFailed(this.name, key, err))
    this.pending.add(tracked)
    void tracked.finally(() => this.pending.delete(tracked))
    return RESOLVED
  }

  /**
   * Remove `key` from both tiers; resolves once the removal is durable.
   *
   * @throws {InvalidKeyError} for a key that breaks the rules
   */
  delete(key: string): Promise<void> {
    try {
      if (!this.host.open) throw closed()
      assertKey(key)
      this.ram?.delete(key)
      this.deletes++
      const env = this.host.env
      if (env === undefined || this.tiers === 'ram') return RESOLVED
      // a stale expiry-index entry is dropped by the sweeper
      return env.settle(env.kv.remove(this.prefix + key))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Live keys (sorted, for namespaces with a disk tier), optionally only those starting with
   * `prefix`, at most `limit`.
   *
   * @throws {InvalidArgumentError} for a non-string prefix or a bad limit
   */
  keys(options: { prefix?: string; limit?: number } = {}): string[] {
    if (!this.host.open) throw closed()
    const prefix = options.prefix ?? ''
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix must be a string')
    const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : assertInteger('limit', options.limit, 0)
    const out: string[] = []
    const env = this.host.env
    if (env === undefined || this.tiers === 'ram') {
      for (const key of this.ram!.keys()) {
        if (out.length >= limit) break
        if (key.startsWith(prefix)) out.push(key)
      }
      return out.sort()
    }
    const start = this.prefix + prefix
    const now = this.host.now()
    for (const { key, value } of env.kv.getRange({ start })) {
      if (out.length >= limit || !key.startsWith(start)) break
      let view: { expiresAt: number }
      try {
        view = decodeRecord(value)
      } catch (err) {
        if (err instanceof CorruptedValueError) continue
        throw err
      }
      if (view.expiresAt === 0 || view.expiresAt > now) out.push(key.slice(this.prefix.length))
    }
    return out
  }

  /** Remove every key of this namespace; resolves once durable. */
  async clear(): Promise<void> {
    if (!this.host.open) throw closed()
    this.ram?.clear()
    const env = this.host.env
    if (env === undefined || this.tiers === 'ram') return
    const start = this.prefix
    await env.settle(
      env.root.transaction(() => {
        const doomed: string[] = []
        for (const key of env.kv.getKeys({ start })) {
          if (!key.startsWith(start)) break
          doomed.push(key)
        }
        for (const key of doomed) void env.kv.remove(key)
      }),
    )
  }

  /** Wait for write-back writes issued so far. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }

  /** Counters of this namespace. */
  stats(): NamespaceStats {
    return {
      ramHits: this.ramHits,
      diskHits: this.diskHits,
      misses: this.misses,
      ramBytes: this.ram?.bytes ?? 0,
      ramEntries: this.ram?.entries ?? 0,
      evictions: this.ram?.evictions ?? 0,
      ramExpirations: this.ram?.expirations ?? 0,
      diskExpirations: this.diskExpirations,
      writes: this.writes,
      deletes: this.deletes,
    }
  }

  /** @internal counted by the sweeper */
  countDiskExpiration(): void {
    this.diskExpirations++
  }
}

const EMPTY = Buffer.alloc(0)

/** Keys up to this many UTF-16 units are at most MAX_KEY_BYTES in UTF-8 (3 bytes per unit). */
const FAST_KEY_CHARS = Math.floor(MAX_KEY_BYTES / 3)

function closed(): StoreClosedError {
  return new StoreClosedError('the store is not started: call start() first')
}
