/**
 * `createMemory(init)`: the hybrid store of a node — namespaces over a RAM tier and an LMDB
 * tier, versioned state, content-addressed blobs — with one lifecycle.
 * @module
 */
import { TypedEventEmitter } from 'main-event'
import type { z } from 'zod'
import { type BlobPutResult, BlobStore, type BlobStoreOptions, type BlobStoreStats } from '../blobs/blob-store.js'
import type { CID } from '../blobs/cid.js'
import { createMemoryBudget, type MemoryBudget, type MemoryBudgetStats } from '../budget/memory-budget.js'
import type { DamagedStoreReport, OnDamaged } from '../disk/damage.js'
import { DiskEnvironment, type Durability, peekValue } from '../disk/environment.js'
import { decodeRecord } from '../disk/record.js'
import type { VerifyPolicy } from '../disk/verify.js'
import { InvalidArgumentError, StoreClosedError, ValueTooLargeError } from '../errors.js'
import { assertInteger, assertKey, assertNamespace, assertTtl } from '../keys.js'
import { type EvictionReason, RamTier } from '../ram/ram-tier.js'
import { StateStore, type StateStoreOptions } from '../state/state-store.js'
import { Namespace, type NamespaceHost, type NamespaceOptions, type NamespaceStats, NS_SEPARATOR } from './namespace.js'
import { decodeNamespaceExport, type ExportedEntry, encodeNamespaceExport } from './namespace-export.js'

/** Options of {@link createMemory}. */
export interface MemoryInit {
  /** Directory of the persistent tier (created if missing). */
  path: string
  /**
   * RAM byte budget shared with other stores. Without it the store gets its own budget of
   * `ram.maxBytes`.
   */
  budget?: MemoryBudget
  ram?: {
    /** Size of the store's own RAM budget when no shared `budget` is given. Default 64 MiB. */
    maxBytes?: number
  }
  disk?: {
    /** Most bytes of live data on disk. Default: no limit. */
    maxBytes?: number
    /** When a write is acknowledged: `flush` (default, survives power loss) or `commit` (survives a process crash). */
    durability?: Durability
    /**
     * A damaged data file (truncated, overwritten, emptied) found on `start()`: `fail` (default)
     * rejects with `StoreDamagedError`, naming the file; `set-aside` renames it to
     * `<file>.damaged-<timestamp>`, starts with an empty store and emits `disk:damaged` (a
     * warning is logged when nothing listens). The store is never reset silently.
     */
    onDamaged?: OnDamaged
    /**
     * When `start()` first reads the whole data file — every page of every database — in a child
     * process, so that damage inside a data page (which makes LMDB crash the process with
     * SIGSEGV/SIGBUS when the page is read) is found without risking this process: `after-crash`
     * (default) when the previous run did not stop the store cleanly (a `<file>-open` marker is
     * written on `start()` and removed by `stop()`), `always`, or `never`. Damage found is handled
     * per `onDamaged`; a check that cannot run rejects `start()` with `StorageError`.
     */
    verify?: VerifyPolicy
  }
  /** How often expired entries are swept from both tiers (ms). Default 30 000; 0 = only lazily on read. */
  sweepIntervalMs?: number
  /** Content-addressed blob options. */
  blobs?: BlobStoreOptions
  /** Clock (ms since the epoch). Default `Date.now`; tests pass a fake. */
  now?: () => number
}

/** An entry left the RAM tier to make room. */
export interface EvictEvent {
  namespace: string
  key: string
  bytes: number
  /** `capacity`: the namespace's own RAM cap; `budget`: the shared RAM budget took it back. */
  reason: EvictionReason
}

/** An entry expired (found on read or by the sweeper). */
export interface ExpireEvent {
  namespace: string
  key: string
  tier: 'ram' | 'disk'
}

/** A write-back write failed after `put` had resolved. */
export interface WriteErrorEvent {
  namespace: string
  key: string
  error: unknown
}

/** Events of a {@link Memory}. */
export interface MemoryEvents {
  evict: CustomEvent<EvictEvent>
  expire: CustomEvent<ExpireEvent>
  'write:error': CustomEvent<WriteErrorEvent>
  /** `start()` found the data file damaged and moved it aside (`disk.onDamaged: 'set-aside'`); the store started empty. */
  'disk:damaged': CustomEvent<DamagedStoreReport>
  /** `start()` read the whole data file in a child process (`disk.verify`) and found it sound. */
  'disk:verified': CustomEvent<{ file: string; entries: number; bytes: number }>
}

/** Counters and sizes of a store. */
export interface MemoryStats {
  ram: {
    bytes: number
    entries: number
    hits: number
    evictions: number
    expirations: number
    budget: MemoryBudgetStats
  }
  disk: {
    /** Live bytes (B+tree pages) of all databases; the file itself does not shrink. */
    bytes: number
    maxBytes: number
    /** Key/value entries on disk (expired ones not yet swept included). */
    entries: number
    hits: number
    expirations: number
  }
  misses: number
  namespaces: Record<string, NamespaceStats>
  blobs: BlobStoreStats
}

const DEFAULT_RAM_BYTES = 64 * 1024 * 1024
const SWEEP_BATCH = 10_000

/**
 * A hybrid store. Create with {@link createMemory}; `start()` opens it, `stop()` flushes and
 * closes it.
 *
 * @example
 * ```ts
 * const memory = createMemory({ path: './data/memory' })
 * await memory.start()
 * const cache = memory.namespace('cache', { ttlMs: 60_000 })
 * await cache.put('a', new Uint8Array([1, 2, 3]))
 * console.log(cache.get('a'), memory.stats().ram.bytes)
 * await memory.stop()
 * ```
 */
export class Memory extends TypedEventEmitter<MemoryEvents> {
  readonly path: string
  readonly budget: MemoryBudget
  readonly now: () => number
  private readonly exactClock: boolean
  private readonly diskMaxBytes: number
  private readonly durability: Durability
  private readonly onDamaged: OnDamaged
  private readonly verify: VerifyPolicy
  private starting: Promise<void> | undefined
  private readonly sweepIntervalMs: number
  private readonly blobOptions: BlobStoreOptions
  private environment: DiskEnvironment | undefined
  private readonly namespaces = new Map<string, Namespace>()
  private readonly namespaceOptions = new Map<string, string>()
  private readonly stateStores = new Map<string, StateStore<any>>()
  private blobStore: BlobStore | undefined
  private sweepTimer: ReturnType<typeof setInterval> | undefined
  private readonly expiring = new Map<string, { namespace: string; key: string; expiresAt: number }>()
  private expiryFlush: Promise<void> | undefined
  private running = false
  private readonly host: NamespaceHost

  /** @internal use {@link createMemory} */
  constructor(init: MemoryInit) {
    super()
    if (init === null || typeof init !== 'object')
      throw new InvalidArgumentError('createMemory needs an options object')
    if (typeof init.path !== 'string' || init.path.length === 0) {
      throw new InvalidArgumentError('path must be a non-empty string')
    }
    this.path = init.path
    this.now = init.now ?? Date.now
    this.exactClock = init.now !== undefined
    this.budget =
      init.budget ??
      createMemoryBudget({ maxBytes: assertInteger('ram.maxBytes', init.ram?.maxBytes ?? DEFAULT_RAM_BYTES, 0) })
    this.diskMaxBytes =
      init.disk?.maxBytes === undefined
        ? Number.POSITIVE_INFINITY
        : assertInteger('disk.maxBytes', init.disk.maxBytes, 0)
    const durability = init.disk?.durability ?? 'flush'
    if (durability !== 'flush' && durability !== 'commit') {
      throw new InvalidArgumentError(`disk.durability must be 'flush' or 'commit', got ${String(durability)}`)
    }
    this.durability = durability
    const onDamaged = init.disk?.onDamaged ?? 'fail'
    if (onDamaged !== 'fail' && onDamaged !== 'set-aside') {
      throw new InvalidArgumentError(`disk.onDamaged must be 'fail' or 'set-aside', got ${String(onDamaged)}`)
    }
    this.onDamaged = onDamaged
    const verify = init.disk?.verify ?? 'after-crash'
    if (verify !== 'always' && verify !== 'after-crash' && verify !== 'never') {
      throw new InvalidArgumentError(`disk.verify must be 'always', 'after-crash' or 'never', got ${String(verify)}`)
    }
    this.verify = verify
    this.sweepIntervalMs = assertInteger('sweepIntervalMs', init.sweepIntervalMs ?? 30_000, 0, 24 * 3600_000)
    this.blobOptions = init.blobs ?? {}
    this.host = {
      open: false,
      env: undefined,
      now: this.now,
      expiredOnDisk: (namespace, key, ck, expiresAt) => this.expiredOnDisk(namespace, key, ck, expiresAt),
      writeBackFailed: (namespace, key, error) => this.safeDispatch('write:error', { namespace, key, error }),
    }
  }

  /** True between `start()` and `stop()`. */
  get isStarted(): boolean {
    return this.running
  }

  /**
   * Open the persistent tier and start the TTL sweeper. A store that was killed mid-write
   * reopens with every acknowledged write and no torn value.
   *
   * When the previous run did not stop cleanly (or with `disk.verify: 'always'`), the whole data
   * file is read in a child process first.
   *
   * @throws {StoreDamagedError} when the data file is damaged and `disk.onDamaged` is `fail` (the default)
   * @throws {StorageError} when the store cannot be opened, or its data file could not be checked
   */
  async start(): Promise<void> {
    if (this.running) return
    this.starting ??= this.open().finally(() => {
      this.starting = undefined
    })
    return this.starting
  }

  private async open(): Promise<void> {
    this.environment = await DiskEnvironment.open({
      path: this.path,
      maxBytes: this.diskMaxBytes,
      durability: this.durability,
      onDamaged: this.onDamaged,
      verify: this.verify,
      now: this.now,
      onVerified: (result) => this.safeDispatch('disk:verified', result),
      onSetAside: (report) => {
        if (this.listenerCount('disk:damaged') > 0) this.safeDispatch('disk:damaged', report)
        else {
          console.warn(
            `@vain/memory: the store file ${report.file} was damaged (${report.reason}); moved aside to ${report.movedTo}, starting with an empty store`,
          )
        }
      },
    })
    this.blobStore = new BlobStore(this.environment, this.budget, this.blobOptions, this.now)
    this.running = true
    this.host.env = this.environment
    this.host.open = true
    if (this.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => void this.sweep().catch(() => {}), this.sweepIntervalMs)
      this.sweepTimer.unref?.()
    }
  }

  /** Flush write-back writes, stop the sweeper, release RAM and close the disk tier. Safe to call twice. */
  async stop(): Promise<void> {
    if (!this.running) return
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    await Promise.allSettled([...this.namespaces.values()].map((ns) => ns.flush()))
    await this.expiryFlush?.catch(() => {})
    this.running = false
    this.host.open = false
    await this.blobStore?.close()
    for (const ns of this.namespaces.values()) ns.ram?.close()
    this.namespaces.clear()
    this.namespaceOptions.clear()
    this.stateStores.clear()
    await this.environment?.close()
    this.environment = undefined
    this.host.env = undefined
    this.blobStore = undefined
  }

  private assertOpen(): void {
    if (!this.running) throw new StoreClosedError('the store is not started: call start() first')
  }

  private safeDispatch<K extends keyof MemoryEvents>(type: K, detail: MemoryEvents[K]['detail']): void {
    if (this.listenerCount(type) === 0) return
    this.safeDispatchEvent(type, { detail } as any)
  }

  /**
   * A namespace of this store (created on first use; the same instance afterwards).
   *
   * @throws {InvalidKeyError} for a name that breaks the rules
   * @throws {InvalidArgumentError} for invalid options, or options that differ from the first call's
   * @throws {BudgetExceededError} when its RAM reservation does not fit in the budget
   * @example
   * ```ts
   * const models = memory.namespace('models', { ram: { maxBytes: 256 << 20 } })
   * const peers = memory.namespace('peers', { ttlMs: 600_000, ram: { reservedBytes: 8 << 20 } })
   * const scratch = memory.namespace('scratch', { tiers: 'ram' })
   * ```
   */
  namespace(name: string, options?: NamespaceOptions): Namespace {
    this.assertOpen()
    assertNamespace(name)
    return this.openNamespace(name, options)
  }

  /** @internal namespaces whose names start with `_` (used by this package). */
  internalNamespace(name: string, options?: NamespaceOptions): Namespace {
    this.assertOpen()
    assertNamespace(name, { internal: true })
    return this.openNamespace(name, options)
  }

  private openNamespace(name: string, options: NamespaceOptions | undefined): Namespace {
    const existing = this.namespaces.get(name)
    const signature = JSON.stringify(options ?? null)
    if (existing !== undefined) {
      if (options !== undefined && this.namespaceOptions.get(name) !== signature) {
        throw new InvalidArgumentError(`namespace ${name} is already open with other options`)
      }
      return existing
    }
    const opts = options ?? {}
    const tiers = opts.tiers ?? 'ram+disk'
    if (tiers !== 'ram+disk' && tiers !== 'ram' && tiers !== 'disk') {
      throw new InvalidArgumentError(`tiers must be 'ram+disk', 'ram' or 'disk', got ${String(tiers)}`)
    }
    const writeMode = opts.writeMode ?? 'through'
    if (writeMode !== 'through' && writeMode !== 'back') {
      throw new InvalidArgumentError(`writeMode must be 'through' or 'back', got ${String(writeMode)}`)
    }
    const ttlMs = assertTtl(opts.ttlMs)
    const maxValueBytes = assertInteger('maxValueBytes', opts.maxValueBytes ?? 16 * 1024 * 1024, 0, 1024 * 1024 * 1024)
    let ram: RamTier | undefined
    if (tiers !== 'disk') {
      const maxBytes = assertInteger('ram.maxBytes', opts.ram?.maxBytes ?? this.budget.maxBytes, 0)
      const reservedBytes = assertInteger('ram.reservedBytes', opts.ram?.reservedBytes ?? 0, 0, maxBytes)
      ram = new RamTier({
        label: `${this.path}#${name}`,
        maxBytes,
        reservedBytes,
        budget: this.budget,
        now: this.now,
        exactClock: this.exactClock,
        onEvict: (key, bytes, reason) => this.safeDispatch('evict', { namespace: name, key, bytes, reason }),
        onExpire: (key) => this.safeDispatch('expire', { namespace: name, key, tier: 'ram' }),
      })
    }
    const copyValues = opts.copyValues ?? true
    if (typeof copyValues !== 'boolean') throw new InvalidArgumentError('copyValues must be a boolean')
    const ns = new Namespace(name, { tiers, writeMode, ttlMs, maxValueBytes, copyValues }, ram, this.host)
    this.namespaces.set(name, ns)
    this.namespaceOptions.set(name, signature)
    return ns
  }

  /**
   * A versioned state store: snapshots of structured state under keys, with a history and a
   * schema check (and migrations) on restore. See {@link StateStore}.
   *
   * @throws {InvalidKeyError} for a name that breaks the namespace rules
   * @example
   * ```ts
   * const rounds = memory.state('rounds', { schema: z.object({ round: z.number() }), version: 1 })
   * await rounds.save('job-1', { round: 3 })
   * rounds.restore('job-1')?.value // { round: 3 }
   * ```
   */
  state<S extends z.ZodType>(name: string, options: StateStoreOptions<S>): StateStore<S> {
    this.assertOpen()
    assertNamespace(name)
    const existing = this.stateStores.get(name)
    if (existing !== undefined) {
      if (existing.schema !== options.schema || existing.version !== options.version) {
        throw new InvalidArgumentError(`state store ${name} is already open with another schema or version`)
      }
      return existing
    }
    const store = new StateStore<S>(name, options, this.environment!, this.now, () => this.assertOpen())
    this.stateStores.set(name, store)
    return store
  }

  /**
   * Store the live entries of a namespace (with their expiry times) as one blob, to replicate it
   * or move it to another node ({@link Memory.importNamespace}). Pinned under `pin` (default
   * `namespace:<name>`).
   *
   * @throws {InvalidKeyError} for a bad name
   * @throws {InvalidArgumentError} for a RAM-only namespace (nothing durable to export)
   * @example
   * ```ts
   * const { cid } = await memory.exportNamespace('peers')
   * ```
   */
  async exportNamespace(name: string, options: { pin?: boolean | string } = {}): Promise<BlobPutResult> {
    this.assertOpen()
    assertNamespace(name, { internal: true })
    const ns = this.namespaces.get(name)
    if (ns?.tiers === 'ram') throw new InvalidArgumentError(`namespace ${name} is RAM-only: nothing durable to export`)
    await ns?.flush()
    const env = this.environment!
    const prefix = name + NS_SEPARATOR
    const now = this.now()
    function* entries(): Generator<ExportedEntry> {
      for (const { key, value } of env.kv.getRange({ start: prefix })) {
        if (!key.startsWith(prefix)) break
        let view: { expiresAt: number; offset: number }
        try {
          view = decodeRecord(value)
        } catch {
          continue // a damaged record is not exported
        }
        if (view.expiresAt !== 0 && view.expiresAt <= now) continue
        yield { key: key.slice(prefix.length), value: value.subarray(view.offset), expiresAt: view.expiresAt }
      }
    }
    return this.blobs.put(encodeNamespaceExport(entries()), { pin: options.pin ?? `namespace:${name}` })
  }

  /**
   * Write the entries of an exported namespace (a blob stored here) into namespace `name`,
   * keeping their expiry times (entries already expired are skipped). The whole export is
   * checked first: a damaged or invalid export changes nothing.
   *
   * @throws {BlobNotFoundError} / {BlobIncompleteError} / {CorruptedChunkError} for the blob
   * @throws {CorruptedValueError} when the blob is not a well-formed namespace export
   * @throws {InvalidKeyError} / {ValueTooLargeError} when an entry breaks the namespace's rules
   * @example
   * ```ts
   * await sharing.fetch(cid)
   * await memory.importNamespace('peers', cid)
   * ```
   */
  async importNamespace(
    name: string,
    cid: CID | string,
    options?: NamespaceOptions,
  ): Promise<{ imported: number; expired: number }> {
    const ns = this.namespace(name, options)
    const maxValueBytes = ns.maxValueBytes
    // pass 1: the whole export is valid, or nothing is written
    for await (const entry of decodeNamespaceExport(this.blobs.get(cid))) {
      assertKey(entry.key)
      if (entry.value.byteLength > maxValueBytes) throw new ValueTooLargeError(entry.value.byteLength, maxValueBytes)
    }
    let imported = 0
    let expired = 0
    let batch: Promise<void>[] = []
    for await (const { key, value, expiresAt } of decodeNamespaceExport(this.blobs.get(cid))) {
      const ttlMs = expiresAt === 0 ? 0 : Math.ceil(expiresAt - this.now())
      if (expiresAt !== 0 && ttlMs <= 0) {
        expired++
        continue
      }
      batch.push(ns.put(key, value, { ttlMs }))
      imported++
      if (batch.length >= 1_000) {
        await Promise.all(batch)
        batch = []
      }
    }
    await Promise.all(batch)
    return { imported, expired }
  }

  /** Content-addressed blobs of this store. */
  get blobs(): BlobStore {
    this.assertOpen()
    return this.blobStore!
  }

  private expiredOnDisk(namespace: string, key: string, ck: string, expiresAt: number): void {
    this.expiring.set(ck, { namespace, key, expiresAt })
    if (this.expiryFlush === undefined) {
      this.expiryFlush = Promise.resolve().then(async () => {
        try {
          await this.removeExpired()
        } finally {
          this.expiryFlush = undefined
        }
      })
    }
  }

  /**
   * Remove entries that were seen expired — in one transaction, each only if its record still
   * carries the expiry that was seen (a newer write of the key wins).
   */
  private async removeExpired(): Promise<void> {
    const env = this.environment
    if (env === undefined || this.expiring.size === 0) return
    const batch = [...this.expiring]
    this.expiring.clear()
    const removed: Array<{ namespace: string; key: string }> = []
    await env.settle(
      env.root.transaction(() => {
        for (const [ck, seen] of batch) {
          void env.expiry.remove([seen.expiresAt, ck])
          const raw = peekValue(env.kv, ck)
          if (raw === undefined) continue
          let expiresAt: number
          try {
            expiresAt = decodeRecord(raw).expiresAt
          } catch {
            continue
          }
          if (expiresAt === seen.expiresAt) {
            void env.kv.remove(ck)
            removed.push(seen)
          }
        }
      }),
    )
    for (const { namespace, key } of removed) {
      this.namespaces.get(namespace)?.countDiskExpiration()
      this.safeDispatch('expire', { namespace, key, tier: 'disk' })
    }
  }

  /**
   * Drop expired entries from both tiers now (the sweeper calls this every `sweepIntervalMs`).
   * Returns how many disk entries were removed.
   */
  async sweep(): Promise<number> {
    this.assertOpen()
    for (const ns of this.namespaces.values()) ns.ram?.purgeExpired()
    const env = this.environment!
    const now = this.now()
    let found = 0
    for (const { key } of env.expiry.getRange({ end: [now, '\u{10FFFF}'], limit: SWEEP_BATCH })) {
      const [expiresAt, ck] = key
      if (expiresAt > now) break
      const sep = ck.indexOf(NS_SEPARATOR)
      this.expiring.set(ck, { namespace: ck.slice(0, sep), key: ck.slice(sep + 1), expiresAt })
      found++
    }
    if (found === 0) return 0
    const before = this.expiring.size
    await this.expiryFlush
    await this.removeExpired()
    return before
  }

  /** Wait for every write-back write issued so far. */
  async flush(): Promise<void> {
    await Promise.all([...this.namespaces.values()].map((ns) => ns.flush()))
  }

  /** Counters and sizes of both tiers, per namespace, and of the blob store. */
  stats(): MemoryStats {
    this.assertOpen()
    const namespaces: Record<string, NamespaceStats> = {}
    let ramBytes = 0
    let ramEntries = 0
    let ramHits = 0
    let diskHits = 0
    let misses = 0
    let evictions = 0
    let ramExpirations = 0
    let diskExpirations = 0
    for (const [name, ns] of this.namespaces) {
      const s = ns.stats()
      namespaces[name] = s
      ramBytes += s.ramBytes
      ramEntries += s.ramEntries
      ramHits += s.ramHits
      diskHits += s.diskHits
      misses += s.misses
      evictions += s.evictions
      ramExpirations += s.ramExpirations
      diskExpirations += s.diskExpirations
    }
    const env = this.environment!
    return {
      ram: {
        bytes: ramBytes,
        entries: ramEntries,
        hits: ramHits,
        evictions,
        expirations: ramExpirations,
        budget: this.budget.stats(),
      },
      disk: {
        bytes: env.refreshUsage(),
        maxBytes: env.maxBytes,
        entries: env.kvEntries,
        hits: diskHits,
        expirations: diskExpirations,
      },
      misses,
      namespaces,
      blobs: this.blobStore!.stats(),
    }
  }
}

export { type DamagedStoreReport, type OnDamaged, StoreDamagedError } from '../disk/damage.js'
export type { VerifyPolicy } from '../disk/verify.js'

/**
 * Create a hybrid store over a directory. Call `start()` before use.
 *
 * @throws {InvalidArgumentError} for invalid options
 * @example
 * ```ts
 * import { createMemory } from '@vain/memory'
 * const memory = createMemory({ path: './data/memory', ram: { maxBytes: 128 << 20 } })
 * await memory.start()
 * ```
 */
export function createMemory(init: MemoryInit): Memory {
  return new Memory(init)
}
