/**
 * A damaged data file must not kill the process natively (SIGBUS on a truncated LMDB file,
 * SIGSEGV on a damaged meta page) nor be silently replaced by an empty store. Each damaged store
 * is opened in a child process, so a native crash fails the test instead of ending vitest.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemory } from '../src/index.js'
import { pseudoRandomBytes, removeTempDirs, tempDir } from './fixtures/tmp.js'

afterAll(removeTempDirs)

const packageDir = join(import.meta.dirname, '..')
const FILE = 'memory.mdb'

/** Open the store at `path` in a child process; its exit code or signal, and its output. */
function openInChild(path: string, onDamaged?: 'fail' | 'set-aside') {
  const child = spawn(
    process.execPath,
    [
      '--conditions=vain-source',
      '--import',
      'tsx',
      'test/fixtures/open-store.ts',
      path,
      ...(onDamaged === undefined ? [] : [onDamaged]),
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
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, output })),
  )
}

let pristine: string

beforeAll(async () => {
  pristine = tempDir('pristine')
  const memory = createMemory({ path: pristine, sweepIntervalMs: 0 })
  await memory.start()
  for (let i = 0; i < 4; i++) await memory.blobs.put(pseudoRandomBytes(512 * 1024, i + 1), { pin: 'model' })
  const kv = memory.namespace('kv')
  for (let i = 0; i < 200; i++) await kv.put(`k${i}`, pseudoRandomBytes(300, i + 100))
  await memory.stop()
})

/** A copy of the pristine store with `damage` applied to its data file. */
function damaged(label: string, damage: (file: string) => void): string {
  const path = tempDir(label)
  cpSync(pristine, path, { recursive: true })
  damage(join(path, FILE))
  return path
}

const pageSize = (file: string) => readFileSync(file).readUInt32LE(48)

const damages: Array<[string, (file: string) => void]> = [
  ['truncated to half its size', (file) => truncateSync(file, Math.floor(statSync(file).size / 2))],
  ['truncated by whole pages', (file) => truncateSync(file, statSync(file).size - 64 * pageSize(file))],
  [
    'header bytes flipped',
    (file) => {
      const bytes = readFileSync(file)
      const psize = bytes.readUInt32LE(48)
      for (const page of [0, psize]) for (let i = 16; i < 200; i++) bytes[page + i]! ^= 0xa5
      writeFileSync(file, bytes)
    },
  ],
  [
    'root page pointers flipped',
    (file) => {
      const bytes = readFileSync(file)
      const psize = bytes.readUInt32LE(48)
      // the main database's root page number in both meta pages
      for (const page of [0, psize]) for (let i = 136; i < 144; i++) bytes[page + i]! ^= 0x5a
      writeFileSync(file, bytes)
    },
  ],
  ['emptied (0 bytes)', (file) => truncateSync(file, 0)],
]

describe('a damaged store file (opened in a child process)', () => {
  it('the pristine store opens with its contents', { timeout: 120_000 }, async () => {
    const path = damaged('intact', () => {})
    const run = await openInChild(path)
    expect(run, run.output).toMatchObject({ code: 0, signal: null })
    expect(run.output).toContain('opened {"blobs":4,"keys":200}')
  })

  for (const [what, damage] of damages) {
    it(`${what}: refused with StoreDamagedError naming the file, not a crash`, { timeout: 120_000 }, async () => {
      const path = damaged('damaged', damage)
      const before = readFileSync(join(path, FILE))
      const run = await openInChild(path)
      expect(run.signal, run.output).toBeNull()
      expect(run.code, run.output).toBe(2)
      expect(run.output).toContain('error StoreDamagedError')
      expect(run.output).toContain(join(path, FILE))
      expect(run.output).toContain("onDamaged: 'set-aside'") // says how to recover
      // nothing was changed: the file is still there, as it was
      expect(readFileSync(join(path, FILE)).equals(before)).toBe(true)
    })

    it(`${what}: set-aside moves it aside, reports it and starts empty`, { timeout: 120_000 }, async () => {
      const path = damaged('set-aside', damage)
      const before = readFileSync(join(path, FILE))
      const run = await openInChild(path, 'set-aside')
      expect(run, run.output).toMatchObject({ code: 0, signal: null })
      expect(run.output).toContain('damaged {')
      expect(run.output).toContain('opened {"blobs":0,"keys":0}')
      const asides = readdirSync(path).filter((f) => f.startsWith(`${FILE}.damaged-`))
      expect(asides).toHaveLength(1)
      expect(readFileSync(join(path, asides[0]!)).equals(before)).toBe(true) // the damaged file is kept
      expect(existsSync(join(path, FILE))).toBe(true)
      // and the new store reopens normally
      const again = await openInChild(path)
      expect(again, again.output).toMatchObject({ code: 0, signal: null })
    })
  }

  it('no file at all is a new store, not a damaged one', async () => {
    const path = tempDir('fresh')
    const memory = createMemory({ path, sweepIntervalMs: 0 })
    await memory.start()
    expect(memory.blobs.list()).toEqual([])
    await memory.stop()
  })
})
