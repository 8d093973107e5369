import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'vain-tsdb-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const T0 = Date.UTC(2026, 0, 1)

describe('time-series store', () => {
  it('gives back exactly the points appended, across chunks and restarts', () => {
    const dir = tmp()
    const now = T0 + 86_400_000
    let store = openStore({ dir, chunkPoints: 100, now: () => now })
    const s = store.series('vain_rtt_ms', { peer: 'a' })
    const want: Array<{ t: number; v: number }> = []
    for (let i = 0; i < 1000; i++) {
      const t = T0 + i * 10_000 + (i % 7 === 0 ? 3 : 0)
      const v = i % 3 === 0 ? Math.random() * 100 : i % 3 === 1 ? -0 : Number.NaN
      store.append(s, t, v)
      want.push({ t, v })
    }
    store.commit()
    expect(store.query(s)).toEqual(want)
    store.close()
    store = openStore({ dir, chunkPoints: 100, now: () => now })
    expect(store.damaged).toEqual([])
    const back = store.query(store.series('vain_rtt_ms', { peer: 'a' }))
    expect(back).toEqual(want)
    expect(store.query(s, { from: T0 + 100_000, to: T0 + 200_000 })).toEqual(
      want.filter((p) => p.t >= T0 + 100_000 && p.t <= T0 + 200_000),
    )
    store.close()
  })

  it('rolls raw points up into 1-minute and 1-hour min/max/mean/count, also after a restart', () => {
    const dir = tmp()
    const now = T0 + 86_400_000
    let store = openStore({ dir, now: () => now })
    let s = store.series('vain_peers')
    // 2.5 h at 10 s: value = minute index
    const n = 900
    for (let i = 0; i < n / 2; i++) store.append(s, T0 + i * 10_000, Math.floor(i / 6))
    store.close()
    store = openStore({ dir, now: () => now })
    s = store.series('vain_peers')
    for (let i = n / 2; i < n; i++) store.append(s, T0 + i * 10_000, Math.floor(i / 6))
    store.commit()
    const minutes = store.query(s, { resolution: '1m' })
    expect(minutes.length).toBe(n / 6 - 1) // the last minute is still open
    expect(minutes[3]).toEqual({ t: T0 + 3 * 60_000, min: 3, max: 3, mean: 3, count: 6 })
    const hours = store.query(s, { resolution: '1h' })
    expect(hours).toEqual([
      { t: T0, min: 0, max: 59, mean: 29.5, count: 360 },
      { t: T0 + 3_600_000, min: 60, max: 119, mean: 89.5, count: 360 },
    ])
    store.close()
  })

  it('drops chunks past their retention at a checkpoint', () => {
    const dir = tmp()
    let now = T0
    const store = openStore({ dir, chunkPoints: 10, retention: { raw: 60_000 }, now: () => now })
    const s = store.series('x')
    for (let i = 0; i < 100; i++) store.append(s, T0 + i * 1000, i)
    now = T0 + 100_000
    store.checkpoint()
    const left = store.query(s)
    expect(left[0]?.t).toBeGreaterThanOrEqual(T0 + 30_000)
    expect(left.at(-1)?.t).toBe(T0 + 99_000)
    expect(store.query(s, { resolution: '1m' }).length).toBe(1) // rollups keep their own retention
    store.close()
    const again = openStore({ dir, now: () => now })
    expect(again.query(again.series('x'))).toEqual(left)
    again.close()
  })

  it('refuses a clock that jumps back or far ahead with typed errors; nothing acknowledged is lost', () => {
    const dir = tmp()
    const now = T0 + 1000
    const store = openStore({ dir, now: () => now })
    const s = store.series('x')
    store.append(s, T0, 1)
    store.commit()
    expect(() => store.append(s, T0 - 5000, 2)).toThrow(expect.objectContaining({ name: 'OutOfOrderError' }))
    expect(() => store.append(s, T0, 2)).toThrow(expect.objectContaining({ name: 'OutOfOrderError' }))
    expect(() => store.append(s, T0 + 86_400_000, 2)).toThrow(expect.objectContaining({ name: 'ClockJumpError' }))
    expect(() => store.append(s, T0 + 0.5, 2)).toThrow(expect.objectContaining({ name: 'ClockJumpError' }))
    store.append(s, T0 + 500, 3)
    store.commit()
    expect(store.query(s)).toEqual([
      { t: T0, v: 1 },
      { t: T0 + 500, v: 3 },
    ])
    store.close()
  })

  it('caps series per metric (label explosion) with SeriesLimitError', () => {
    const store = openStore({ dir: tmp(), maxSeriesPerMetric: 3 })
    for (let i = 0; i < 3; i++) store.series('vain_requests', { peer: String(i) })
    expect(() => store.series('vain_requests', { peer: 'x' })).toThrow(
      expect.objectContaining({ name: 'SeriesLimitError', limit: 3 }),
    )
    store.series('vain_requests', { peer: '1' }) // an existing one is fine
    store.close()
  })

  it('sets a damaged file aside with a typed error and goes on, never a crash', () => {
    const dir = tmp()
    const now = T0 + 100_000
    const store = openStore({ dir, chunkPoints: 10, now: () => now })
    const s = store.series('x')
    for (let i = 0; i < 50; i++) store.append(s, T0 + i * 1000, i)
    store.close()
    const file = join(dir, 'chunks.log')
    const bytes = readFileSync(file)
    bytes[40] = (bytes[40] as number) ^ 0xff // inside the first records
    writeFileSync(file, bytes)
    const again = openStore({ dir, now: () => now })
    expect(again.damaged.map((e) => e.name)).toEqual(['StoreCorruptError'])
    expect(again.damaged[0]?.message).toMatch(/checksum mismatch/)
    expect(readdirSync(dir).some((f) => f.startsWith('chunks.log.corrupt-'))).toBe(true)
    const x = again.series('x')
    again.append(x, T0 + 60_000, 1)
    again.commit()
    expect(again.query(x)).toEqual([{ t: T0 + 60_000, v: 1 }])
    again.close()
    // garbage magic
    writeFileSync(join(dir, 'wal.log'), 'not a wal at all')
    const third = openStore({ dir, now: () => now })
    expect(third.damaged.map((e) => e.message)).toEqual([expect.stringMatching(/wal\.log.*bad magic/)])
    third.close()
  })

  it('cuts off a torn tail (a crash mid-write) without calling it damage', () => {
    const dir = tmp()
    const now = T0 + 100_000
    const store = openStore({ dir, now: () => now })
    const s = store.series('x')
    store.append(s, T0, 1)
    store.commit()
    store.append(s, T0 + 1000, 2)
    store.commit()
    // simulate a crash: the WAL as it is, plus half a record
    const wal = readFileSync(join(dir, 'wal.log'))
    const copy = tmp()
    writeFileSync(join(copy, 'wal.log'), Buffer.concat([wal, wal.subarray(8, 20)]))
    const again = openStore({ dir: copy, now: () => now })
    expect(again.damaged).toEqual([])
    expect(again.query(again.series('x'))).toEqual([
      { t: T0, v: 1 },
      { t: T0 + 1000, v: 2 },
    ])
    again.close()
    store.close()
  })
})
