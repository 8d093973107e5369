/**
 * A check of the LMDB data file before it is memory-mapped. LMDB trusts its file: a truncated
 * file ends the process with SIGBUS on the first read past its end, a damaged meta page with
 * SIGSEGV, and an empty (0-byte) file is silently initialised as a new, empty store. This module
 * reads the two meta pages with ordinary file reads and refuses what LMDB would crash on.
 *
 * Layout (lmdb-js 3.x, LMDB 1.0 format): each page starts with a 24-byte header (`pgno` u64,
 * `txnid` u64, `pad` u16, `flags` u16, `lower` u16, `upper` u16); the meta pages are pages 0 and
 * 1, flag `P_META` (0x08), and hold after the header: `magic` u32 (0xBEEFC0DE), `version` u32
 * (low 16 bits: 2), `address` u64, `mapsize` u64, two `MDB_db` records of 48 bytes (free-page DB,
 * whose first u32 is the page size; main DB, whose root page is at +40), `last_pg` u64, `txnid` u64.
 * @module
 */
import { closeSync, existsSync, openSync, readSync, renameSync, statSync } from 'node:fs'
import { StorageError } from '../errors.js'

/** What to do with a store whose data file is damaged: refuse it (default) or move it aside and start empty. */
export type OnDamaged = 'fail' | 'set-aside'

/** A damaged data file was moved aside and the store started empty. */
export interface DamagedStoreReport {
  /** The damaged file (where it was). */
  file: string
  /** Where it is now (`<file>.damaged-<timestamp>`). */
  movedTo: string
  /** What was wrong with it. */
  reason: string
}

/**
 * The store's data file is damaged (truncated, overwritten, emptied): it was not opened, since
 * LMDB would crash the process on it or silently start over. `file` names it; recover by
 * restoring a backup, or by moving it aside (`disk: { onDamaged: 'set-aside' }`) to start empty.
 */
export class StoreDamagedError extends StorageError {
  static override name = 'StoreDamagedError'
  override name = 'StoreDamagedError'
  readonly file: string
  readonly reason: string
  constructor(file: string, reason: string, options: { cause?: unknown } = {}) {
    super(
      `the store file ${file} is damaged (${reason}); it was not opened. To recover: restore ${file} from a backup, ` +
        `or move it aside and start with an empty store (createMemory({ disk: { onDamaged: 'set-aside' } }) ` +
        `renames it to ${file}.damaged-<timestamp>; models and other blobs can then be fetched again from peers by CID)`,
      options,
    )
    this.file = file
    this.reason = reason
  }
}

export const MDB_MAGIC = 0xbeefc0de
export const MDB_DATA_VERSION = 2
const PAGE_HEADER = 24
const P_META = 0x08
const META_FLAGS = 18
const META_MAGIC = PAGE_HEADER
const META_VERSION = PAGE_HEADER + 4
const META_PSIZE = PAGE_HEADER + 24
const META_DBS = PAGE_HEADER + 24
const DB_BYTES = 48
const DB_BRANCH = 8
const DB_LEAF = 16
const DB_OVERFLOW = 24
const DB_ROOT = 40
const META_LAST_PG = META_DBS + 2 * DB_BYTES
const META_TXNID = META_LAST_PG + 8
const META_END = META_TXNID + 8
const P_INVALID = 0xffff_ffff_ffff_ffffn

interface Meta {
  psize: number
  lastPg: bigint
  txnid: bigint
  dbs: Array<{ branch: bigint; leaf: bigint; overflow: bigint; root: bigint }>
}

function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length)
  let got = 0
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got)
    if (n === 0) break
    got += n
  }
  return buf.subarray(0, got)
}

/** Parse a meta page, or say what is wrong with it. */
function parseMeta(page: Buffer, which: number): Meta | string {
  if (page.byteLength < META_END) return `meta page ${which} is cut short`
  if ((page.readUInt16LE(META_FLAGS) & P_META) === 0) return `page ${which} is not a meta page`
  const magic = page.readUInt32LE(META_MAGIC)
  if (magic !== MDB_MAGIC) {
    return `meta page ${which} has magic 0x${magic.toString(16).padStart(8, '0')}, not 0x${MDB_MAGIC.toString(16)}`
  }
  const version = page.readUInt32LE(META_VERSION) & 0xffff
  if (version !== MDB_DATA_VERSION) return `meta page ${which} has data version ${version}, not ${MDB_DATA_VERSION}`
  const psize = page.readUInt32LE(META_PSIZE)
  if (psize < 512 || psize > 65536 || (psize & (psize - 1)) !== 0) {
    return `meta page ${which} has an implausible page size ${psize}`
  }
  const dbs = [0, 1].map((i) => {
    const at = META_DBS + i * DB_BYTES
    return {
      branch: page.readBigUInt64LE(at + DB_BRANCH),
      leaf: page.readBigUInt64LE(at + DB_LEAF),
      overflow: page.readBigUInt64LE(at + DB_OVERFLOW),
      root: page.readBigUInt64LE(at + DB_ROOT),
    }
  })
  return { psize, lastPg: page.readBigUInt64LE(META_LAST_PG), txnid: page.readBigUInt64LE(META_TXNID), dbs }
}

/**
 * Check the LMDB data file at `file`: `'missing'` when there is none (a new store), `'ok'` when
 * its meta pages are sound and it holds every page they refer to, else a description of the damage.
 */
export function inspectDataFile(file: string): 'missing' | 'ok' | { damage: string } {
  if (!existsSync(file)) return 'missing'
  const size = statSync(file).size
  if (size === 0) return { damage: 'the file is empty (0 bytes), a store that existed has lost its contents' }
  const fd = openSync(file, 'r')
  try {
    const first = parseMeta(readAt(fd, META_END, 0), 0)
    if (typeof first === 'string') return { damage: first }
    const psize = first.psize
    if (size < 2 * psize) return { damage: `the file has ${size} bytes, less than its two ${psize}-byte meta pages` }
    if (size % psize !== 0) return { damage: `the file has ${size} bytes, not a multiple of its page size ${psize}` }
    const second = parseMeta(readAt(fd, META_END, psize), 1)
    if (typeof second === 'string') return { damage: second }
    if (second.psize !== psize)
      return { damage: `the meta pages disagree on the page size (${psize}, ${second.psize})` }
    // LMDB maps the meta page with the newer transaction: everything it refers to must be in the file
    const current = second.txnid > first.txnid ? second : first
    const pages = BigInt(size / psize)
    if (current.lastPg + 1n > pages) {
      return {
        damage: `the file is truncated: ${pages} pages of ${psize} bytes, the last committed transaction uses ${current.lastPg + 1n}`,
      }
    }
    for (const [i, db] of current.dbs.entries()) {
      if (db.root !== P_INVALID && (db.root < 2n || db.root > current.lastPg)) {
        return { damage: `the ${i === 0 ? 'free-page' : 'main'} database's root page ${db.root} is outside the file` }
      }
      if (db.branch + db.leaf + db.overflow > current.lastPg + 1n) {
        return { damage: `the ${i === 0 ? 'free-page' : 'main'} database counts more pages than the file has` }
      }
    }
    return 'ok'
  } finally {
    closeSync(fd)
  }
}

/**
 * Refuse a damaged data file, or (with `set-aside`) rename it to `<file>.damaged-<timestamp>` so
 * the store starts empty. Returns the report of a file set aside, or `undefined` when the file is
 * sound or missing.
 *
 * @throws {StoreDamagedError} for a damaged file with `onDamaged: 'fail'`
 */
export function checkDataFile(file: string, onDamaged: OnDamaged, now: () => number): DamagedStoreReport | undefined {
  let result: ReturnType<typeof inspectDataFile>
  try {
    result = inspectDataFile(file)
  } catch (cause) {
    throw new StorageError(`cannot read the store file ${file}: ${(cause as Error)?.message}`, { cause })
  }
  if (result === 'missing' || result === 'ok') return undefined
  return applyDamagePolicy(file, result.damage, onDamaged, now)
}

/**
 * The data file `file` is damaged (`reason`): refuse it, or (with `set-aside`) rename it to
 * `<file>.damaged-<timestamp>` so the store starts empty, and return the report.
 *
 * @throws {StoreDamagedError} with `onDamaged: 'fail'`, or when it cannot be moved aside
 */
export function applyDamagePolicy(
  file: string,
  reason: string,
  onDamaged: OnDamaged,
  now: () => number,
): DamagedStoreReport {
  if (onDamaged !== 'set-aside') throw new StoreDamagedError(file, reason)
  const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-')
  let movedTo = `${file}.damaged-${stamp}`
  for (let i = 1; existsSync(movedTo); i++) movedTo = `${file}.damaged-${stamp}-${i}`
  try {
    renameSync(file, movedTo)
  } catch (cause) {
    throw new StoreDamagedError(file, `${reason}; moving it aside failed: ${(cause as Error)?.message}`, {
      cause,
    })
  }
  return { file, movedTo, reason }
}
