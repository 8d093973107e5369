import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppConfig } from '../src/config.js'
import { createLogger, type Logger } from '../src/logger.js'
import { DataDirLockedError, type RunningNode, startVainNode } from '../src/runtime.js'

const config = (dataDir: string): AppConfig => ({
  dataDir,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: [],
  profile: 'loopback',
  roles: ['validator'],
  apiPort: null,
  logLevel: 'error',
  json: false,
})

/** A logger that keeps its lines. */
function recording(): Logger & { lines: string[] } {
  const lines: string[] = []
  const keep = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`)
  }
  return { lines, error: keep('error'), warn: keep('warn'), info: keep('info'), debug: keep('debug') }
}

/** The pid of a process that has exited (so it is not alive). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(r.stdout)
}

describe('data dir lock', () => {
  let dir: string
  const log = createLogger({ level: 'error', json: false })
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vain-lock-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('a second node on the same data dir fails while the first runs, and starts once it stopped', async () => {
    const first = await startVainNode(config(dir), log)
    let second: RunningNode | undefined
    try {
      expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid))
      const err = await startVainNode(config(dir), log).then(
        (n) => {
          second = n
          return undefined
        },
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(DataDirLockedError)
      expect((err as Error).name).toBe('DataDirLockedError')
      expect((err as Error).message).toContain(dir)
      expect((err as Error).message).toContain(String(process.pid))
      // the failed start left the first node's lock alone
      expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid))
    } finally {
      await second?.stop()
      await first.stop()
    }
    await expect(stat(join(dir, 'LOCK'))).rejects.toThrow(/ENOENT/)
    const again = await startVainNode(config(dir), log)
    expect(again.node.peerId.toString()).toBe(first.node.peerId.toString())
    await again.stop()
  })

  it('takes over a stale lock (its pid is dead), and says so', async () => {
    const pid = deadPid()
    expect(pid).toBeGreaterThan(0)
    await writeFile(join(dir, 'LOCK'), `${pid}\n`)
    const rec = recording()
    const node = await startVainNode(config(dir), rec)
    try {
      expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid))
      expect(rec.lines.some((l) => l.startsWith('warn') && /stale/.test(l) && l.includes(String(pid)))).toBe(true)
    } finally {
      await node.stop()
    }
  })
})
