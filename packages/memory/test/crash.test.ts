/**
 * Crash safety: a child process streams writes into a store and prints an acknowledgement after
 * each one resolves; it is killed with SIGKILL in the middle of the stream. The store must then
 * reopen cleanly with every acknowledged write, and no value that is torn (part old, part new).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemory } from '../src/index.js'
import { crashValue } from './fixtures/crash-values.js'
import { removeTempDirs, tempDir } from './fixtures/tmp.js'

afterAll(removeTempDirs)

const packageDir = join(import.meta.dirname, '..')

/** Byte equality (vitest's deep equality walks typed arrays element by element: too slow here). */
const same = (a: Uint8Array | undefined, b: Uint8Array) =>
  a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

interface Acks {
  kv: Set<number>
  hot: number[]
  state: number[]
  blobs: Map<number, string>
}

/** Run the writer until it has acknowledged `killAfter` key/value writes, then SIGKILL it. */
async function writeAndKill(path: string, first: number, killAfter: number): Promise<Acks> {
  const acks: Acks = { kv: new Set(), hot: [], state: [], blobs: new Map() }
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=vain-source', '--import', 'tsx', 'test/fixtures/crash-writer.ts', path, 'commit', String(first)],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr!.on('data', (d) => {
    stderr += String(d)
  })
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  )
  let buffered = ''
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop()!
    for (const line of lines) {
      const [word, kind, n, cid] = line.split(' ')
      if (word !== 'ack') continue
      const i = Number(n)
      if (kind === 'kv') acks.kv.add(i)
      else if (kind === 'hot') acks.hot.push(i)
      else if (kind === 'state') acks.state.push(i)
      else if (kind === 'blob') acks.blobs.set(i, cid!)
      // kill in the middle of the stream, with writes of every kind in flight
      if (acks.kv.size >= killAfter && child.exitCode === null && !child.killed) child.kill('SIGKILL')
    }
  })
  const how = await exited
  expect(how, `writer exited on its own: ${stderr}`).toBe('SIGKILL')
  return acks
}

describe('crash safety (kill -9 in the middle of a stream of writes)', () => {
  it('reopens with every acknowledged write and no torn value, twice in a row', { timeout: 60_000 }, async () => {
    const path = tempDir('crash')
    const all: Acks[] = []
    let first = 0
    for (const killAfter of [400, 250]) {
      const acks = await writeAndKill(path, first, killAfter)
      all.push(acks)
      expect(acks.kv.size).toBeGreaterThanOrEqual(killAfter)

      const memory = createMemory({ path })
      await memory.start() // no recovery step: LMDB reopens at the last committed transaction
      try {
        const kv = memory.namespace('kv')
        // every acknowledged write, of this and earlier runs, is there, byte for byte
        for (const run of all) {
          for (const i of run.kv) expect(same(kv.get(`k${i}`), crashValue(i)), `k${i}`).toBe(true)
        }
        // a write in flight at the kill is either absent or whole, never torn
        const keys = kv.keys()
        expect(keys.length).toBeGreaterThanOrEqual(all.reduce((n, r) => n + r.kv.size, 0))
        for (const key of keys) {
          if (key === 'after-crash') continue
          const i = Number(key.slice(1))
          expect(same(kv.get(key), crashValue(i)), key).toBe(true)
        }
        // the hot key holds one whole value, at least as new as the last acknowledged one
        const hot = memory.namespace('hot').get('counter')!
        const seen = new DataView(hot.buffer, hot.byteOffset).getUint32(0)
        expect(same(hot, crashValue(seen, 4096))).toBe(true)
        expect(seen).toBeGreaterThanOrEqual(first)
        // acknowledged state snapshots restore and pass the schema check
        const state = memory.state('progress', {
          schema: z.object({ i: z.number().int(), weights: z.instanceof(Float32Array) }),
          version: 1,
        })
        const latest = state.restore('job')!
        expect(latest.value.weights).toEqual(new Float32Array(2048).fill(latest.value.i))
        // every acknowledged save made a revision (unacknowledged ones may have too)
        expect(latest.revision).toBeGreaterThanOrEqual(all.reduce((n, r) => n + r.state.length, 0))
        expect(state.revisions('job').length).toBeGreaterThan(0)
        // acknowledged blobs are complete and verify
        for (const run of all) {
          for (const [i, cid] of run.blobs)
            expect(same(await memory.blobs.getBytes(cid), crashValue(i, 100_000))).toBe(true)
        }
        // and the store takes new writes
        await kv.put('after-crash', new Uint8Array([1]))
        expect(kv.get('after-crash')).toEqual(new Uint8Array([1]))
        first = Math.max(...keys.map((k) => Number(k.slice(1))).filter(Number.isFinite)) + 1000
      } finally {
        await memory.stop()
      }
    }
    const total = all.reduce((n, a) => n + a.kv.size, 0)
    expect(total).toBeGreaterThanOrEqual(650)
  })
})
