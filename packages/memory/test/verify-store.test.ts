/**
 * Damage inside a data page (not a meta page) is invisible to the meta-page check, and LMDB dies
 * natively (SIGSEGV/SIGBUS) when it reads such a page. After an unclean stop (and with
 * `disk.verify: 'always'`) `start()` reads the whole file in a child process first: the node must
 * not die by signal; the damage is refused with `StoreDamagedError` or set aside per `onDamaged`.
 * Every store is opened in a child process, so a crash fails the test instead of ending vitest.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemory, InvalidArgumentError } from '../src/index.js'
import { pseudoRandomBytes, removeTempDirs, tempDir } from './fixtures/tmp.js'

afterAll(removeTempDirs)

const packageDir = join(import.meta.dirname, '..')
const FILE = 'memory.mdb'
const MARKER = 'memory.mdb-open'
const KEYS = 2000

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  output: string
}

/** Run test/fixtures/verify-store.ts on `path` in a child process. */
function inChild(
  path: string,
  opts: {
    onDamaged?: 'fail' | 'set-aside'
    verify?: 'always' | 'after-crash' | 'never'
    action?: 'read' | 'crash'
  } = {},
): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=vain-source',
      '--import',
      'tsx',
      'test/fixtures/verify-store.ts',
      path,
      opts.onDamaged ?? '-',
      opts.verify ?? '-',
      opts.action ?? 'read',
    ],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (d) => {
    output += String(d)
  })
  child.stderr.on('data', (d) => {
    output += String(d)
  })
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, output })))
}

let pristine: string

beforeAll(async () => {
  pristine = tempDir('verify-pristine')
  const memory = createMemory({ path: pristine, sweepIntervalMs: 0 })
  await memory.start()
  for (let i = 0; i < 4; i++) await memory.blobs.put(pseudoRandomBytes(512 * 1024, i + 1), { pin: 'model' })
  const kv = memory.namespace('kv')
  for (let i = 0; i < KEYS; i++) await kv.put(`k${i}`, pseudoRandomBytes(300, i + 100))
  await memory.stop()
}, 120_000)

/** A copy of the pristine store, left by a process killed (SIGKILL) while it had the store open. */
async function afterCrash(label: string): Promise<string> {
  const path = tempDir(label)
  cpSync(pristine, path, { recursive: true })
  const run = await inChild(path, { action: 'crash' })
  expect(run.signal, run.output).toBe('SIGKILL')
  expect(existsSync(join(path, MARKER))).toBe(true) // the crash left the marker
  return path
}

/**
 * Overwrite the node offsets of every B+tree leaf page (a page whose header names its own page
 * number and has `P_LEAF`), leaving both meta pages (pages 0 and 1) alone: the meta-page check
 * passes, and LMDB reads outside its map when it follows such a page's offsets.
 */
function damageLeafPages(file: string): number {
  const bytes = readFileSync(file)
  const psize = bytes.readUInt32LE(48)
  const noise = pseudoRandomBytes(40, 7)
  let damaged = 0
  for (let page = 2; page < bytes.byteLength / psize; page++) {
    const at = page * psize
    if (bytes.readBigUInt64LE(at) !== BigInt(page) || (bytes.readUInt16LE(at + 18) & 0x02) === 0) continue
    bytes.set(noise, at + 24)
    damaged++
  }
  writeFileSync(file, bytes)
  return damaged
}

async function damagedAfterCrash(label: string): Promise<{ path: string; before: Buffer }> {
  const path = await afterCrash(label)
  expect(damageLeafPages(join(path, FILE))).toBeGreaterThan(10)
  return { path, before: readFileSync(join(path, FILE)) }
}

describe('damage inside data pages (opened in a child process)', () => {
  it('without the check, LMDB dies natively on it: the damage is of the kind this guards against', {
    timeout: 120_000,
  }, async () => {
    const { path } = await damagedAfterCrash('unchecked')
    const run = await inChild(path, { verify: 'never' })
    expect(run.signal, run.output).not.toBeNull()
  })

  it('after an unclean stop: refused with StoreDamagedError naming the file, the node does not crash', {
    timeout: 120_000,
  }, async () => {
    const { path, before } = await damagedAfterCrash('refused')
    const run = await inChild(path)
    expect(run.signal, run.output).toBeNull()
    expect(run.code, run.output).toBe(2)
    expect(run.output).toContain('error StoreDamagedError')
    expect(run.output).toContain(join(path, FILE))
    expect(run.output).toContain("onDamaged: 'set-aside'") // says how to recover
    expect(run.output).toMatch(/crashed a check process with SIG|MDB_|out of order|entries/)
    expect(readFileSync(join(path, FILE)).equals(before)).toBe(true) // left as it was
    // refused again on the next start: the marker stays until a clean stop
    const again = await inChild(path)
    expect(again.signal, again.output).toBeNull()
    expect(again.output).toContain('error StoreDamagedError')
  })

  it('after an unclean stop with set-aside: moved aside, reported, a fresh store opens', {
    timeout: 120_000,
  }, async () => {
    const { path, before } = await damagedAfterCrash('set-aside')
    const run = await inChild(path, { onDamaged: 'set-aside' })
    expect(run, run.output).toMatchObject({ code: 0, signal: null })
    expect(run.output).toContain('damaged {')
    expect(run.output).toContain('opened {"blobs":0,"keys":0}')
    const asides = readdirSync(path).filter((f) => f.startsWith(`${FILE}.damaged-`))
    expect(asides).toHaveLength(1)
    expect(readFileSync(join(path, asides[0]!)).equals(before)).toBe(true) // the damaged file is kept
    expect(existsSync(join(path, MARKER))).toBe(false) // the fresh store was stopped cleanly
    const again = await inChild(path)
    expect(again, again.output).toMatchObject({ code: 0, signal: null })
    expect(again.output).not.toContain('verified')
  })

  it('an undamaged store after an unclean stop passes the check and keeps its data', {
    timeout: 120_000,
  }, async () => {
    const path = await afterCrash('sound')
    const run = await inChild(path)
    expect(run, run.output).toMatchObject({ code: 0, signal: null })
    expect(run.output).toMatch(/verified \{"file":"[^"]+","entries":\d+,"bytes":\d+\}/)
    expect(run.output).toContain(`opened {"blobs":4,"keys":${KEYS + 1}}`) // the write before the crash too
    expect(existsSync(join(path, MARKER))).toBe(false)
    // stopped cleanly: the next start does not check again
    const again = await inChild(path)
    expect(again, again.output).toMatchObject({ code: 0, signal: null })
    expect(again.output).not.toContain('verified')
  })

  it("verify: 'always' finds damage in a store that was stopped cleanly", { timeout: 120_000 }, async () => {
    const path = tempDir('always')
    cpSync(pristine, path, { recursive: true })
    expect(existsSync(join(path, MARKER))).toBe(false)
    damageLeafPages(join(path, FILE))
    const run = await inChild(path, { verify: 'always' })
    expect(run.signal, run.output).toBeNull()
    expect(run.code, run.output).toBe(2)
    expect(run.output).toContain('error StoreDamagedError')
    expect(run.output).toContain(join(path, FILE))
  })

  it("verify: 'always' on a sound store passes it, in this process", async () => {
    const path = tempDir('always-sound')
    cpSync(pristine, path, { recursive: true })
    const memory = createMemory({ path, sweepIntervalMs: 0, disk: { verify: 'always' } })
    const verified: Array<{ entries: number; bytes: number }> = []
    memory.addEventListener('disk:verified', (e) => verified.push(e.detail))
    await memory.start()
    expect(existsSync(join(path, MARKER))).toBe(true)
    expect(memory.namespace('kv').keys()).toHaveLength(KEYS)
    await memory.stop()
    expect(existsSync(join(path, MARKER))).toBe(false)
    expect(verified).toHaveLength(1)
    expect(verified[0]!.entries).toBeGreaterThan(KEYS)
    expect(verified[0]!.bytes).toBeGreaterThan(2 * 1024 * 1024)
  })

  it('a bad verify option is refused', () => {
    expect(() => createMemory({ path: tempDir('bad'), disk: { verify: 'sometimes' as 'always' } })).toThrow(
      InvalidArgumentError,
    )
  })
})
