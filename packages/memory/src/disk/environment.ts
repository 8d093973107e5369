/**
 * The persistent tier: one LMDB environment (a memory-mapped B+tree with copy-on-write
 * transactions) holding a few named databases. LMDB commits whole transactions or nothing, so a
 * crash leaves the previous committed state and needs no recovery step on reopen.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Database, open, type RootDatabase } from 'lmdb'
import { BudgetExceededError, StorageError } from '../errors.js'
import { applyDamagePolicy, checkDataFile, type DamagedStoreReport, type OnDamaged } from './damage.js'
import { markClosed, markOpen, type VerifyPolicy, verifyDataFile, wasLeftOpen } from './verify.js'

/** When a write counts as acknowledged. */
export type Durability = 'commit' | 'flush'

/** Options of {@link DiskEnvironment}. */
export interface DiskEnvironmentInit {
  /** Directory of the store (created if missing). */
  path: string
  /** Most bytes of live data (B+tree pages of all databases). `Infinity` for no limit. */
  maxBytes: number
  /**
   * `flush` (default): a write resolves once it is committed and fsync'ed — it survives a
   * process kill and a power loss. `commit`: once committed to the OS — it survives a process
   * kill (kill -9, OOM, a crash) but possibly not a power loss; faster.
   */
  durability: Durability
  /** A damaged data file: refuse it (`fail`, default) or move it aside and start empty (`set-aside`). */
  onDamaged?: OnDamaged
  /**
   * When {@link DiskEnvironment.open} reads the whole data file in a child process before mapping it
   * (damage inside data pages crashes LMDB natively): `after-crash` (default) when the last run did
   * not close the store cleanly, `always`, or `never`. The constructor never does.
   */
  verify?: VerifyPolicy
  /** Called with the result of a full check ({@link DiskEnvironment.open}). */
  onVerified?: (result: { file: string; entries: number; bytes: number }) => void
  /** Called when a damaged data file was moved aside. */
  onSetAside?: (report: DamagedStoreReport) => void
  /** Clock for the timestamp of a file set aside. */
  now?: () => number
}

type Bytes = Buffer

const open_paths = new Set<string>()
const NOOP = (): void => undefined

/**
 * The LMDB environment of one store and its databases:
 * - `kv`: `namespace/key` → record (header + value);
 * - `expiry`: `[expiresAt, namespace/key]` → empty (index for the TTL sweeper);
 * - `state`: `[store, key, revision]` → state snapshot;
 * - `chunks`: sha2-256 digest → chunk bytes;
 * - `blobs`: CID string → blob record (manifest, completeness);
 * - `pins`: CID string → pin labels (CBOR list).
 */
export class DiskEnvironment {
  readonly path: string
  readonly maxBytes: number
  readonly durability: Durability
  readonly root: RootDatabase<Bytes, string>
  readonly kv: Database<Bytes, string>
  readonly expiry: Database<Bytes, [number, string]>
  readonly state: Database<Bytes, [string, string, number]>
  readonly chunks: Database<Bytes, Uint8Array>
  readonly blobs: Database<Bytes, string>
  readonly pins: Database<Bytes, string>
  private readonly all: Array<Database<Bytes, any>>
  private statsBytes = 0
  private writtenSinceStats = 0
  private readonly refreshEvery: number
  private closed = false
  private readonly file: string

  /**
   * Open (or create) the environment, first reading its whole data file in a child process when
   * `verify` asks for it (by default: when the last run did not close it cleanly). A file that
   * crashes the check or that LMDB reports damaged is refused or set aside per `onDamaged`.
   *
   * @throws {StoreDamagedError} when the data file is damaged and `onDamaged` is `fail`
   * @throws {StorageError} when it cannot be opened, or the check could not run
   */
  static async open(init: DiskEnvironmentInit): Promise<DiskEnvironment> {
    const path = resolve(init.path)
    if (open_paths.has(path)) {
      throw new StorageError(`a store at ${path} is already open in this process: stop it first`)
    }
    const file = join(path, 'memory.mdb')
    const onDamaged = init.onDamaged ?? 'fail'
    const now = init.now ?? Date.now
    const policy = init.verify ?? 'after-crash'
    if (policy !== 'never' && existsSync(file)) {
      // the cheap meta-page check first: it names truncation and header damage precisely
      const report = checkDataFile(file, onDamaged, now)
      if (report !== undefined) init.onSetAside?.(report)
      else if (policy === 'always' || wasLeftOpen(file)) {
        const result = await verifyDataFile(file)
        if (result.ok) init.onVerified?.({ file, entries: result.entries, bytes: result.bytes })
        else init.onSetAside?.(applyDamagePolicy(file, result.damage, onDamaged, now))
      }
    }
    return new DiskEnvironment(init)
  }

  /**
   * Open (or create) the environment. Checks the meta pages only: {@link DiskEnvironment.open}
   * also reads every page when `verify` asks for it.
   *
   * @throws {StoreDamagedError} when the data file is damaged (truncated, overwritten, emptied) and `onDamaged` is `fail`
   * @throws {StorageError} when it cannot be opened (permissions, another open in this process)
   */
  constructor(init: DiskEnvironmentInit) {
    this.path = resolve(init.path)
    this.maxBytes = init.maxBytes
    this.durability = init.durability
    if (open_paths.has(this.path)) {
      throw new StorageError(`a store at ${this.path} is already open in this process: stop it first`)
    }
    mkdirSync(this.path, { recursive: true })
    const file = join(this.path, 'memory.mdb')
    this.file = file
    // checked before LMDB maps it: LMDB crashes the process (SIGBUS/SIGSEGV) on a damaged file
    const report = checkDataFile(file, init.onDamaged ?? 'fail', init.now ?? Date.now)
    if (report !== undefined) init.onSetAside?.(report)
    try {
      this.root = open<Bytes, string>({
        path: file,
        noSubdir: true,
        maxDbs: 16,
        encoding: 'binary',
        compression: false,
        cache: false,
      })
      const db = <K extends Key>(name: string, keyEncoding?: 'binary') =>
        this.root.openDB<Bytes, K>(name, {
          encoding: 'binary',
          compression: false,
          cache: false,
          ...(keyEncoding !== undefined ? { keyEncoding } : {}),
        })
      this.kv = db<string>('kv')
      this.expiry = db<[number, string]>('expiry')
      this.state = db<[string, string, number]>('state')
      this.chunks = db<Uint8Array>('chunks', 'binary')
      this.blobs = db<string>('blobs')
      this.pins = db<string>('pins')
    } catch (cause) {
      throw new StorageError(`cannot open the store at ${this.path}: ${(cause as Error)?.message}`, { cause })
    }
    try {
      // removed by a clean close(): found at the next open, it means this run did not stop cleanly
      markOpen(file)
    } catch (cause) {
      void this.root.close()
      throw new StorageError(`cannot write the marker file next to ${file}: ${(cause as Error)?.message}`, { cause })
    }
    open_paths.add(this.path)
    this.all = [this.kv, this.expiry, this.state, this.chunks, this.blobs, this.pins]
    this.refreshEvery = Number.isFinite(this.maxBytes) ? Math.max(1 << 20, Math.floor(this.maxBytes / 100)) : 64 << 20
    this.refreshUsage()
  }

  /** Live bytes (B+tree pages of every database) as of the last committed transaction. */
  refreshUsage(): number {
    let pages = 0
    let pageSize = 4096
    for (const db of this.all) {
      const s = db.getStats() as {
        pageSize: number
        treeBranchPageCount: number
        treeLeafPageCount: number
        overflowPages: number
      }
      pageSize = s.pageSize
      pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages
    }
    this.statsBytes = pages * pageSize
    this.writtenSinceStats = 0
    return this.statsBytes
  }

  /** Estimated live bytes: the last measurement plus what was written since. */
  get usedBytes(): number {
    return this.statsBytes + this.writtenSinceStats
  }

  /**
   * Account a write of `bytes` against the disk budget.
   *
   * @throws {BudgetExceededError} when it does not fit (nothing is written)
   */
  reserve(bytes: number): void {
    if (this.writtenSinceStats > this.refreshEvery) this.refreshUsage()
    if (this.statsBytes + this.writtenSinceStats + bytes > this.maxBytes) {
      this.refreshUsage()
      if (this.statsBytes + bytes > this.maxBytes) {
        throw new BudgetExceededError('disk', bytes, Math.max(0, this.maxBytes - this.statsBytes))
      }
    }
    this.writtenSinceStats += bytes
  }

  /**
   * A promise that resolves (to undefined) once `write` is acknowledged per the durability
   * setting; a failure goes to `onError` when given. One derived promise per write: this is on
   * the hot path of every put.
   */
  settle(write: Promise<unknown>, onError?: (err: unknown) => never): Promise<void> {
    const acknowledged = this.durability === 'flush' ? this.afterFlush : NOOP
    return write.then(acknowledged, onError) as Promise<void>
  }

  private readonly afterFlush = (): Promise<void> => this.root.flushed.then(NOOP)

  /** Entries in the key/value database. */
  get kvEntries(): number {
    return (this.kv.getStats() as { entryCount: number }).entryCount
  }

  get isClosed(): boolean {
    return this.closed
  }

  /** Wait for pending writes, then close the environment. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.root.committed
      await this.root.flushed
      await this.root.close()
      markClosed(this.file)
    } finally {
      open_paths.delete(this.path)
    }
  }
}

type Key = Key[] | string | symbol | number | boolean | Uint8Array

/**
 * Read a value without copying it: a view that is valid only until the next read of this
 * environment. (lmdb's `getBinaryFast` returns its whole shared read buffer with a patched
 * `length`; this returns a view of exactly the value.)
 */
export function peekValue<K extends Key>(db: Database<Bytes, K>, key: K): Buffer | undefined {
  const bytes = db.getBinaryFast(key)
  return bytes === undefined ? undefined : bytes.subarray(0, bytes.length)
}
