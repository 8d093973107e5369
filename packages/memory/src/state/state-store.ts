/**
 * Versioned snapshots of structured state (a training job's round, optimizer state, peer
 * tables): each `save` adds a revision under a key and keeps the last `history` revisions; each
 * `restore` checks the snapshot's schema version (running migrations from older versions) and
 * validates it with the zod schema before handing it out.
 *
 * Values are encoded as CBOR with JavaScript type fidelity (typed arrays such as `Float32Array`,
 * `Map`, `Set`, `Date`, `bigint` round-trip).
 * @module
 */
import { depthLimitedTokenizer } from '@vain/net/wire'
import { decode, encode } from 'cborg/extended'
import type { z } from 'zod'
import type { DiskEnvironment } from '../disk/environment.js'
import { CorruptedValueError, InvalidArgumentError, SchemaMismatchError, ValueTooLargeError } from '../errors.js'
import { assertInteger, assertKey } from '../keys.js'

/**
 * Deepest nesting of a state record: arrays, maps and tags (a typed array is 1 level, a `Map`
 * or `Set` 2) each count one, the record itself one. `save` refuses state nested deeper, so what
 * is saved can be restored; restore refuses deeper bytes before decoding them that deep.
 */
export const MAX_STATE_DEPTH = 128

/** Options of {@link Memory.state}. */
export interface StateStoreOptions<S extends z.ZodType> {
  /** The zod schema every saved and restored snapshot must satisfy. */
  schema: S
  /** Version of `schema` (an integer ≥ 1); stored with every snapshot. */
  version: number
  /**
   * `migrations[n]` turns a snapshot of schema version `n` into one of version `n + 1`; restore
   * chains them up to `version`.
   */
  migrations?: Record<number, (state: unknown) => unknown>
  /** Revisions kept per key (oldest dropped). Default 10. */
  history?: number
  /** Largest encoded snapshot. Default 64 MiB (put larger data in blobs and save the CID). */
  maxBytes?: number
  /**
   * `true`: `save`, `delete` and `move` resolve only once the write is fsync'ed (it survives a
   * power loss), even in a store opened with `disk.durability: 'commit'`. Default `false`: the
   * store's durability applies (`flush`, its default, is already fsync'ed).
   */
  durable?: boolean
}

/** One saved revision. */
export interface StateRevision {
  key: string
  revision: number
  /** Schema version it was saved with. */
  version: number
  /** ms since the epoch. */
  savedAt: number
  bytes: number
}

/** A restored snapshot. */
export interface StateSnapshot<T> extends StateRevision {
  value: T
}

interface StateRecord {
  s: number
  t: number
  d: unknown
}

/**
 * Encode a state record: schema version, save time and the value, as CBOR with JavaScript type
 * fidelity (cborg/extended).
 *
 * @example
 * ```ts
 * const bytes = encodeStateRecord(1, Date.now(), { round: 3, momentum: new Float32Array(4) })
 * ```
 */
export function encodeStateRecord(version: number, savedAt: number, value: unknown): Uint8Array {
  return encode({ s: version, t: savedAt, d: value })
}

/**
 * Decode a state record (the schema check happens in {@link StateStore.restore}).
 *
 * @throws {CorruptedValueError} when the bytes are not a state record (or nest deeper than
 *   {@link MAX_STATE_DEPTH})
 * @example
 * ```ts
 * decodeStateRecord(bytes).s // the schema version it was saved with
 * ```
 */
export function decodeStateRecord(bytes: Uint8Array, label = 'state record'): StateRecord {
  let raw: unknown
  try {
    raw = decode(bytes, {
      rejectDuplicateMapKeys: true,
      tokenizer: depthLimitedTokenizer(bytes, MAX_STATE_DEPTH, { rejectDuplicateMapKeys: true }),
    })
  } catch (cause) {
    throw new CorruptedValueError(`${label} is damaged: ${(cause as Error)?.message ?? cause}`, { cause })
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || raw instanceof Map) {
    throw new CorruptedValueError(`${label} is damaged: not a record`)
  }
  const r = raw as Record<string, unknown>
  if (typeof r.s !== 'number' || !Number.isInteger(r.s) || r.s < 1 || typeof r.t !== 'number' || !('d' in r)) {
    throw new CorruptedValueError(`${label} is damaged: missing version, time or data`)
  }
  return { s: r.s, t: r.t, d: r.d }
}

/** Refuse to save state that {@link decodeStateRecord} would refuse as too deep (one pass over its tokens). */
function assertRestorableDepth(bytes: Uint8Array, label: string): void {
  const tokens = depthLimitedTokenizer(bytes, MAX_STATE_DEPTH)
  try {
    while (!tokens.done()) tokens.next()
  } catch (cause) {
    throw new InvalidArgumentError(`${label}: state nested deeper than ${MAX_STATE_DEPTH} levels cannot be saved`, {
      cause,
    })
  }
}

const MAX_REVISION = Number.MAX_SAFE_INTEGER

/**
 * Snapshots of one kind of state (`memory.state(name, options)`).
 *
 * @example
 * ```ts
 * const Round = z.object({ job: z.string(), round: z.number().int(), momentum: z.instanceof(Float32Array) })
 * const rounds = memory.state('rounds', { schema: Round, version: 1, history: 5 })
 * await rounds.save('job-7', { job: 'job-7', round: 12, momentum: new Float32Array(1024) })
 * const latest = rounds.restore('job-7') // validated against Round
 * ```
 */
export class StateStore<S extends z.ZodType> {
  readonly name: string
  readonly schema: S
  readonly version: number
  readonly history: number
  readonly maxBytes: number
  /** Writes wait for the fsync whatever the store's durability (see {@link StateStoreOptions.durable}). */
  readonly durable: boolean
  private readonly migrations: Record<number, (state: unknown) => unknown>
  private readonly env: DiskEnvironment
  private readonly now: () => number
  private readonly assertOpen: () => void

  /** @internal use `memory.state()` */
  constructor(
    name: string,
    options: StateStoreOptions<S>,
    env: DiskEnvironment,
    now: () => number,
    assertOpen: () => void,
  ) {
    if (options === null || typeof options !== 'object' || typeof options.schema?.safeParse !== 'function') {
      throw new InvalidArgumentError('a state store needs a zod schema')
    }
    this.name = name
    this.schema = options.schema
    this.version = assertInteger('version', options.version, 1, 1_000_000)
    this.history = assertInteger('history', options.history ?? 10, 1, 100_000)
    this.maxBytes = assertInteger('maxBytes', options.maxBytes ?? 64 * 1024 * 1024, 1)
    this.durable = options.durable === true
    this.migrations = options.migrations ?? {}
    this.env = env
    this.now = now
    this.assertOpen = assertOpen
  }

  /**
   * Validate `value` against the schema and save it as the next revision of `key` (dropping
   * revisions beyond `history`); resolves once durable.
   *
   * @throws {SchemaMismatchError} when `value` does not satisfy the schema (nothing is saved)
   * @throws {InvalidKeyError} for a bad key
   * @throws {ValueTooLargeError} when the encoded snapshot exceeds `maxBytes`
   */
  async save(key: string, value: z.input<S>): Promise<StateRevision> {
    this.assertOpen()
    assertKey(key)
    const checked = this.schema.safeParse(value)
    if (!checked.success) {
      throw new SchemaMismatchError(
        `${this.name}/${key}: refusing to save state that does not match the schema`,
        issues(checked.error),
      )
    }
    const savedAt = this.now()
    let bytes: Uint8Array
    try {
      bytes = encodeStateRecord(this.version, savedAt, value)
    } catch (cause) {
      throw new InvalidArgumentError(`${this.name}/${key}: state cannot be encoded: ${(cause as Error)?.message}`, {
        cause,
      })
    }
    if (bytes.byteLength > this.maxBytes) throw new ValueTooLargeError(bytes.byteLength, this.maxBytes)
    assertRestorableDepth(bytes, `${this.name}/${key}`)
    this.env.reserve(bytes.byteLength + key.length + this.name.length)
    const env = this.env
    const name = this.name
    const history = this.history
    let revision = 0
    await this.settle(
      env.root.transaction(() => {
        revision = latestRevision(env, name, key) + 1
        void env.state.put([name, key, revision], bytes as Buffer)
        const oldest = revision - history + 1
        if (oldest > 1) {
          const doomed = [...env.state.getKeys({ start: [name, key, 0], end: [name, key, oldest] })]
          for (const k of doomed) void env.state.remove(k)
        }
      }),
    )
    return { key, revision, version: this.version, savedAt, bytes: bytes.byteLength }
  }

  /**
   * The latest snapshot of `key` (or revision `revision`), migrated to the current schema
   * version and validated; `undefined` when there is none.
   *
   * @throws {SchemaMismatchError} when the snapshot is of a newer schema version, a migration is
   *   missing or fails, or the (migrated) value does not satisfy the schema
   * @throws {CorruptedValueError} when the stored bytes are damaged
   * @throws {InvalidKeyError} for a bad key
   */
  restore(key: string, options: { revision?: number } = {}): StateSnapshot<z.output<S>> | undefined {
    this.assertOpen()
    assertKey(key)
    const revision =
      options.revision === undefined
        ? latestRevision(this.env, this.name, key)
        : assertInteger('revision', options.revision, 1, MAX_REVISION)
    if (revision === 0) return undefined
    const bytes = this.env.state.get([this.name, key, revision])
    if (bytes === undefined) return undefined
    const label = `${this.name}/${key}@${revision}`
    const record = decodeStateRecord(bytes, label)
    if (record.s > this.version) {
      throw new SchemaMismatchError(
        `${label} was saved with schema version ${record.s}, newer than this code's version ${this.version}`,
      )
    }
    let value = record.d
    for (let v = record.s; v < this.version; v++) {
      const migrate = this.migrations[v]
      if (migrate === undefined) {
        throw new SchemaMismatchError(`${label}: no migration from schema version ${v} to ${v + 1}`)
      }
      try {
        value = migrate(value)
      } catch (cause) {
        throw new SchemaMismatchError(
          `${label}: migration from version ${v} failed: ${(cause as Error)?.message}`,
          [],
          {
            cause,
          },
        )
      }
    }
    const checked = this.schema.safeParse(value)
    if (!checked.success) {
      throw new SchemaMismatchError(`${label} does not match schema version ${this.version}`, issues(checked.error))
    }
    return { key, revision, version: record.s, savedAt: record.t, bytes: bytes.byteLength, value: checked.data }
  }

  /** Saved revisions of `key`, newest first (not decoded beyond the header). */
  revisions(key: string): StateRevision[] {
    this.assertOpen()
    assertKey(key)
    const out: StateRevision[] = []
    for (const { key: k, value } of this.env.state.getRange({
      start: [this.name, key, MAX_REVISION],
      end: [this.name, key, 0],
      reverse: true,
    })) {
      let version = 0
      let savedAt = 0
      try {
        const r = decodeStateRecord(value)
        version = r.s
        savedAt = r.t
      } catch {}
      out.push({ key, revision: k[2], version, savedAt, bytes: value.byteLength })
    }
    return out
  }

  /** Keys that have at least one revision. */
  keys(): string[] {
    this.assertOpen()
    const out: string[] = []
    for (const k of this.env.state.getKeys({ start: [this.name] })) {
      if (k[0] !== this.name) break
      if (out[out.length - 1] !== k[1]) out.push(k[1])
    }
    return out
  }

  /** Delete every revision of `key`; resolves once durable. */
  async delete(key: string): Promise<void> {
    this.assertOpen()
    assertKey(key)
    const env = this.env
    const name = this.name
    await this.settle(
      env.root.transaction(() => {
        const doomed = [...env.state.getKeys({ start: [name, key, 0], end: [name, key, MAX_REVISION] })]
        for (const k of doomed) void env.state.remove(k)
      }),
    )
  }

  /**
   * Move every revision of `key` under `to` (after the revisions `to` already has), in one
   * transaction, without decoding them: sets a snapshot that does not restore aside, kept for
   * inspection and never loaded under `key` again. Resolves to the number of revisions moved
   * once durable.
   *
   * @throws {InvalidKeyError} for a bad key
   * @throws {InvalidArgumentError} when `to` is `key`
   * @example
   * ```ts
   * await rounds.move('job-7', 'quarantine.job-7') // rounds.restore('job-7') is now undefined
   * ```
   */
  async move(key: string, to: string): Promise<number> {
    this.assertOpen()
    assertKey(key)
    assertKey(to)
    if (key === to) throw new InvalidArgumentError(`${this.name}: cannot move ${key} onto itself`)
    const env = this.env
    const name = this.name
    let moved = 0
    await this.settle(
      env.root.transaction(() => {
        let next = latestRevision(env, name, to) + 1
        const entries = [...env.state.getRange({ start: [name, key, 0], end: [name, key, MAX_REVISION] })]
        for (const { key: k, value } of entries) {
          void env.state.put([name, to, next++], Buffer.from(value))
          void env.state.remove(k)
        }
        moved = entries.length
      }),
    )
    return moved
  }

  private async settle(write: Promise<unknown>): Promise<void> {
    await this.env.settle(write)
    // `flush` already waited for the fsync; `commit` did not: a durable store waits for it here
    if (this.durable && this.env.durability !== 'flush') await this.env.root.flushed
  }
}

function latestRevision(env: DiskEnvironment, name: string, key: string): number {
  for (const k of env.state.getKeys({
    start: [name, key, MAX_REVISION],
    end: [name, key, 0],
    reverse: true,
    limit: 1,
  })) {
    return k[2]
  }
  return 0
}

function issues(error: z.ZodError): string[] {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
}
