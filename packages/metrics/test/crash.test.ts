import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

// the writer: appends to 3 series as fast as it can, commits every 500 points, and prints
// "acked <i>" after each commit returns: point i of every series is then acknowledged
const WRITER = `
import { openStore } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.ts'))}
const store = openStore({ dir: process.argv[2], chunkPoints: 200, walCheckpointBytes: 200_000, now: () => 1.7e12 + 1e8 })
const s = ['a', 'b', 'c'].map((x) => store.series('crash_' + x, { n: x }))
const T0 = 1.7e12
for (let i = 0; ; i++) {
  for (const h of s) store.append(h, T0 + i * 1000, i * 0.5)
  if (i % 500 === 499) { store.commit(); process.stdout.write('acked ' + i + '\\n') }
}
`

describe('crash safety', () => {
  it('kill -9 mid-write: every acknowledged point is there and the store opens', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const dir = mkdtempSync(join(tmpdir(), 'vain-tsdb-crash-'))
      dirs.push(dir)
      const script = join(dir, 'writer.ts')
      writeFileSync(script, WRITER)
      const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, join(dir, 'store')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      let acked = -1
      const killAfter = 5 + attempt * 7 // commits
      let commits = 0
      await new Promise<void>((resolve) => {
        createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
          const m = /^acked (\d+)$/.exec(line)
          if (m === null) return
          acked = Number(m[1])
          if (++commits === killAfter) child.kill('SIGKILL')
        })
        child.on('exit', () => resolve())
      })
      expect(acked).toBeGreaterThan(0)
      const store = openStore({ dir: join(dir, 'store'), now: () => 1.7e12 + 1e8 })
      expect(store.damaged).toEqual([])
      for (const x of ['a', 'b', 'c']) {
        const points = store.query(store.series(`crash_${x}`, { n: x }))
        expect(points.length).toBeGreaterThanOrEqual(acked + 1)
        // exactly the sequence written, no gaps, no duplicates
        points.forEach((p, i) => {
          expect(p).toEqual({ t: 1.7e12 + i * 1000, v: i * 0.5 })
        })
      }
      // and it takes new points
      const h = store.series('crash_a', { n: 'a' })
      const last = store.query(h).at(-1)?.t as number
      store.append(h, last + 1000, 1)
      store.commit()
      store.close()
    }
  })
})
