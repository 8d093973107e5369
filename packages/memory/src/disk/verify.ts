/**
 * A full read of the LMDB data file in a child process. The meta-page check ({@link inspectDataFile})
 * cannot see damage inside the B+tree pages: a leaf page whose node offsets or sizes were
 * overwritten makes LMDB read outside its map, and the process dies with SIGSEGV/SIGBUS the first
 * time that page is read, with no JavaScript error to catch. So the check is run where a native
 * crash costs nothing: a child Node process opens the file read-only with the same `lmdb` package,
 * walks every named database and reads every key and value (every branch, leaf and overflow page of
 * every tree), and reports. A child that dies by such a signal, or that LMDB reports an error to
 * (`MDB_CORRUPTED`, `MDB_PAGE_NOTFOUND`…), or that finds entries out of order or not matching the
 * database's own count, means the file is damaged.
 *
 * The child script is a string run with `node --input-type=module -e` and imports `lmdb` by the
 * absolute location this module resolves it to, so it runs the same from the TypeScript sources
 * (tsx, vitest) and from the built `dist/` without a separate entry file or a loader.
 *
 * A *dirty marker* (`<file>-open`) is written when the store is opened and removed when it is
 * closed cleanly; a marker found at open means the previous run did not stop cleanly (a crash, a
 * kill, a power loss), which is when pages are most likely to be torn, so the check runs then.
 * @module
 */
import { spawn } from 'node:child_process'
import { closeSync, existsSync, fsyncSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { pathToFileURL } from 'node:url'
import { StorageError } from '../errors.js'

/**
 * When {@link verifyDataFile} runs on `start()`: `after-crash` (default) when the previous run did
 * not close the store cleanly; `always`; or `never`.
 */
export type VerifyPolicy = 'always' | 'after-crash' | 'never'

/** What the child reported about the file. */
export type VerifyResult =
  | { ok: true; databases: number; entries: number; bytes: number }
  | { ok: false; damage: string }

/** The dirty marker of the data file `file`. */
export function dirtyMarkerPath(file: string): string {
  return `${file}-open`
}

/** True when the data file's dirty marker is there: the last run that opened it did not close it cleanly. */
export function wasLeftOpen(file: string): boolean {
  return existsSync(dirtyMarkerPath(file))
}

/** Write the dirty marker (flushed to disk, so a power loss right after still leaves it). */
export function markOpen(file: string): void {
  const marker = dirtyMarkerPath(file)
  const fd = openSync(marker, 'w')
  try {
    writeSync(fd, `${JSON.stringify({ pid: process.pid, openedAt: new Date().toISOString() })}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  syncDirectory(dirname(marker))
}

/** Remove the dirty marker after a clean close. */
export function markClosed(file: string): void {
  rmSync(dirtyMarkerPath(file), { force: true })
  syncDirectory(dirname(file))
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // not every platform can fsync a directory; the marker file itself is flushed
  }
}

/**
 * The child: argv[1] is the `lmdb` module URL, argv[2] the data file. It prints JSON lines:
 * `{"opened":true}` once the file is open, then `{"ok":true,…}`, `{"damage":"…"}` (LMDB reported
 * an error, or the entries are inconsistent) or `{"error":"…"}` (the check could not run: lmdb did
 * not load, the file could not be opened for a reason other than its contents). A native crash
 * ends it by signal before the last line.
 */
const CHILD = `
const [lmdbUrl, file] = process.argv.slice(1)
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const isLmdbError = (e) => typeof e?.code === 'number' && e.code <= -30600 && e.code >= -30800
const done = (o) => { say(o); process.exitCode = 0 }
let lmdb
try {
  lmdb = await import(lmdbUrl)
} catch (e) {
  done({ error: 'cannot load lmdb: ' + (e?.message ?? e) })
}
if (lmdb !== undefined) {
  let root
  try {
    root = (lmdb.open ?? lmdb.default.open)({
      path: file, noSubdir: true, readOnly: true, maxDbs: 128,
      encoding: 'binary', keyEncoding: 'binary', compression: false, cache: false,
    })
    say({ opened: true })
  } catch (e) {
    if (isLmdbError(e)) done({ damage: 'LMDB cannot open it: ' + e.message })
    else done({ error: 'cannot open it: ' + (e?.message ?? e) })
  }
  if (root !== undefined) {
    try {
      const names = []
      let previous
      for (const { key, value } of root.getRange({})) {
        if (previous !== undefined && Buffer.compare(previous, key) >= 0) throw new Error('the database names are out of order')
        previous = key
        names.push(String(key).replace(/\\0+$/, ''))
        if (value.length !== 48) throw new Error('the record of database ' + JSON.stringify(names.at(-1)) + ' has ' + value.length + ' bytes, not 48')
        if (names.length > 100) throw new Error('the main database lists more than 100 databases')
      }
      let entries = 0
      let bytes = 0
      for (const name of names) {
        const db = root.openDB(name, { encoding: 'binary', keyEncoding: 'binary', compression: false, cache: false })
        const counted = db.getStats().entryCount
        let seen = 0
        previous = undefined
        for (const { key, value } of db.getRange({})) {
          // a value is a copy: every byte of its page (or overflow pages) is read
          if (previous !== undefined && Buffer.compare(previous, key) >= 0) throw new Error('database ' + JSON.stringify(name) + ' has keys out of order after entry ' + seen)
          previous = key
          seen++
          bytes += value.length
          if (seen > counted) throw new Error('database ' + JSON.stringify(name) + ' yields more entries than the ' + counted + ' it counts')
        }
        if (seen !== counted) throw new Error('database ' + JSON.stringify(name) + ' yields ' + seen + ' entries, it counts ' + counted)
        entries += seen
      }
      done({ ok: true, databases: names.length, entries, bytes })
    } catch (e) {
      done({ damage: e?.message ?? String(e) })
    }
  }
}
`

/** Signals that mean the child read something LMDB crashed on (SIGABRT: LMDB's own assertions). */
const CRASH_SIGNALS = new Set<NodeJS.Signals>(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT', 'SIGSYS'])
const MAX_OUTPUT = 64 * 1024

let lmdbUrl: string | undefined

function resolveLmdb(): string {
  lmdbUrl ??= pathToFileURL(createRequire(import.meta.url).resolve('lmdb')).href
  return lmdbUrl
}

/** Options of {@link verifyDataFile}. */
export interface VerifyOptions {
  /** Give up (a `StorageError`, not damage) after this long. Default: 2 minutes plus 1 s per MiB of file. */
  timeoutMs?: number
}

/**
 * Read every page of the LMDB data file `file` in a child process.
 *
 * @returns `{ ok: true, … }`, or `{ ok: false, damage }` when the file is damaged (the child died by
 *   a crash signal, LMDB reported an error, or the entries are inconsistent)
 * @throws {StorageError} when the check could not be run or did not finish (the file is not known to be damaged)
 */
export function verifyDataFile(file: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const size = statSync(file).size
  const timeoutMs = options.timeoutMs ?? 120_000 + Math.ceil(size / (1 << 20)) * 1000
  let url: string
  try {
    url = resolveLmdb()
  } catch (cause) {
    return Promise.reject(
      new StorageError(`cannot check the store file ${file}: lmdb not found (${(cause as Error)?.message})`, { cause }),
    )
  }
  const env = { ...process.env }
  delete env.NODE_OPTIONS // the parent's loaders and inspector flags are not the child's business
  return new Promise<VerifyResult>((resolve, reject) => {
    const cannot = (why: string, cause?: unknown) =>
      reject(
        new StorageError(
          `cannot check the store file ${file} (${why}); it was not opened. Retry, or skip the check with ` +
            `createMemory({ disk: { verify: 'never' } })`,
          { cause },
        ),
      )
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, url, file], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
        windowsHide: true,
      })
    } catch (cause) {
      cannot(`the check process did not start: ${(cause as Error)?.message}`, cause)
      return
    }
    let stdout = ''
    let stderr = ''
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += d
    })
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += d
    })
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', (cause) => {
      clearTimeout(timer)
      cannot(`the check process failed: ${cause.message}`, cause)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>
          } catch {
            return {}
          }
        })
      const opened = lines.some((l) => l.opened === true)
      const last = lines.at(-1) ?? {}
      const tail = stderr.trim().split('\n').slice(-3).join(' | ')
      if (timedOut) return cannot(`the check did not finish in ${Math.round(timeoutMs / 1000)} s`)
      if (signal !== null) {
        if (CRASH_SIGNALS.has(signal) && !/heap out of memory/i.test(stderr)) {
          const where = opened ? 'reading its pages' : 'opening it'
          return resolve({ ok: false, damage: `${where} crashed a check process with ${signal}` })
        }
        return cannot(`the check process was ended by ${signal}${tail ? `: ${tail}` : ''}`)
      }
      if (typeof last.damage === 'string') return resolve({ ok: false, damage: last.damage })
      if (last.ok === true && code === 0) {
        return resolve({
          ok: true,
          databases: Number(last.databases),
          entries: Number(last.entries),
          bytes: Number(last.bytes),
        })
      }
      if (typeof last.error === 'string') return cannot(last.error)
      return cannot(`the check process exited with code ${code}${tail ? `: ${tail}` : ''}`)
    })
  })
}
