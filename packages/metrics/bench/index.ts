/**
 * `pnpm bench` in packages/metrics: the time-series store's size per point and ingest rate, each
 * beside a baseline measured in the same run.
 *
 * - size: a day of one node's history (bench/workload.ts, 10 s samples) in the store's
 *   `chunks.log` vs 16 bytes per raw point (float64 time + float64 value) and vs JSON lines;
 * - ingest: points/s through `append` + `commit` (WAL written and fsynced every BATCH points) on
 *   one core vs writing the same points as JSON lines to a file with the same fsync cadence, and
 *   vs copying raw 16-byte points into a buffer (no encoding, no file).
 *
 * `-- --quick`: fewer points.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs'
import { arch, cpus, platform, release, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { openStore } from '../src/index.js'
import { nodeDay } from './workload.js'

const quick = process.argv.includes('--quick')
const BATCH = Number(process.env.BENCH_COMMIT_EVERY ?? 100_000)
const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'vain-metrics-bench-'))
  dirs.push(d)
  return d
}
const gc = () => (globalThis as { gc?: () => void }).gc?.()
const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`)

console.log(
  `machine: ${cpus()[0]?.model} ×${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()} ${arch()}, node ${process.version}`,
)

// ---- size ----------------------------------------------------------------------------------
const days = quick ? 1 : 3
const day = nodeDay(8640 * days)
const nPoints = day.series.length * (day.series[0]?.values.length ?? 0)
{
  const dir = tmp()
  const end = day.start + day.stepMs * 8640 * days
  const store = openStore({ dir, now: () => end, retention: { raw: 30 * 86_400_000 } })
  const handles = day.series.map((s) => store.series(s.name, s.labels))
  const len = day.series[0]?.values.length ?? 0
  for (let i = 0; i < len; i++) {
    const t = day.start + i * day.stepMs
    for (let k = 0; k < handles.length; k++) store.append(handles[k]!, t, day.series[k]!.values[i]!)
    if (i % 360 === 359) store.commit()
  }
  store.close()
  // chunks.log holds raw chunks and the 1 min / 1 h rollups: count raw points' bytes alone too
  const total = statSync(join(dir, 'chunks.log')).size
  let json = 0
  for (const s of day.series) {
    for (let i = 0; i < s.values.length; i++)
      json += JSON.stringify({ t: day.start + i * day.stepMs, v: s.values[i] }).length + 1
  }
  const reopened = openStore({ dir, now: () => end, retention: { raw: 30 * 86_400_000 } })
  const back = reopened.list().reduce((n, h) => n + reopened.query(h).length, 0)
  const rawBytes = rawChunkBytes(reopened)
  reopened.close()
  if (back !== nPoints) throw new Error(`read back ${back} of ${nPoints} points`)
  console.log(
    `\nsize: ${day.series.length} series × ${len} samples (${days} day(s) at 10 s) = ${nPoints} points, read back intact`,
  )
  console.log(`  store, raw chunks only        ${(rawBytes / nPoints).toFixed(3)} B/point   (goal ≤ 1.37)`)
  console.log(`  store, chunks.log with 1m/1h rollups ${(total / nPoints).toFixed(3)} B/point`)
  console.log(`  baseline raw float64 pairs    16.000 B/point  → ×${(16 / (rawBytes / nPoints)).toFixed(1)} smaller`)
  console.log(
    `  baseline JSON lines           ${(json / nPoints).toFixed(3)} B/point  → ×${(json / rawBytes).toFixed(1)} smaller`,
  )
}

function rawChunkBytes(store: ReturnType<typeof openStore>): number {
  // the encoded bytes of the raw series' sealed chunks, plus their 8-byte record frames and headers
  const internals = store as unknown as { byId: Array<{ level: number; sealed: Array<{ bytes: Uint8Array }> }> }
  let n = 0
  for (const s of internals.byId) {
    if (s === undefined || s.level !== 0) continue
    for (const c of s.sealed) n += c.bytes.length + 8 + 1 + 2 + 2 + 16
  }
  return n
}

// ---- ingest --------------------------------------------------------------------------------
const INGEST = quick ? 1_000_000 : 4_000_000
{
  const series = day.series
  const len = series[0]?.values.length ?? 0
  const runs = 3
  const storeRates: number[] = []
  const jsonRates: number[] = []
  const rawRates: number[] = []
  const storeCpu: number[] = []
  const jsonCpu: number[] = []
  const rawCpu: number[] = []
  const cpuSeconds = (since: NodeJS.CpuUsage) => {
    const u = process.cpuUsage(since)
    return (u.user + u.system) / 1e6
  }
  for (let run = 0; run < runs; run++) {
    // store
    gc()
    {
      const dir = tmp()
      const end = day.start + day.stepMs * (INGEST / series.length + 10)
      const store = openStore({ dir, now: () => end, walCheckpointBytes: 64 * 1024 * 1024 })
      const handles = series.map((s) => store.series(s.name, s.labels))
      let n = 0
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; n < INGEST; i++) {
        const t = day.start + i * day.stepMs
        const j = i % len
        for (let k = 0; k < handles.length; k++) {
          store.append(handles[k]!, t, series[k]!.values[j]!)
          if (++n % BATCH === 0) store.commit()
        }
      }
      store.commit()
      storeRates.push(n / ((performance.now() - t0) / 1000))
      storeCpu.push(n / cpuSeconds(c0))
      store.close()
    }
    // JSON lines with the same fsync cadence
    gc()
    {
      const dir = tmp()
      const fd = openSync(join(dir, 'points.jsonl'), 'w')
      let n = 0
      let lines: string[] = []
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; n < INGEST; i++) {
        const t = day.start + i * day.stepMs
        const j = i % len
        for (let k = 0; k < series.length; k++) {
          lines.push(JSON.stringify({ s: k, t, v: series[k]!.values[j] }))
          if (++n % BATCH === 0) {
            writeSync(fd, `${lines.join('\n')}\n`)
            fsyncSync(fd)
            lines = []
          }
        }
      }
      jsonRates.push(n / ((performance.now() - t0) / 1000))
      jsonCpu.push(n / cpuSeconds(c0))
      closeSync(fd)
    }
    // raw 16-byte points into memory
    gc()
    {
      const buf = new Float64Array(INGEST * 2)
      let n = 0
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      for (let i = 0; n < INGEST; i++) {
        const t = day.start + i * day.stepMs
        const j = i % len
        for (let k = 0; k < series.length && n < INGEST; k++) {
          buf[2 * n] = t
          buf[2 * n + 1] = series[k]!.values[j]!
          n++
        }
      }
      rawRates.push(n / ((performance.now() - t0) / 1000))
      rawCpu.push(n / cpuSeconds(c0))
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const s = med(storeRates)
  const j = med(jsonRates)
  const r = med(rawRates)
  const sc = med(storeCpu)
  const jc = med(jsonCpu)
  const rc = med(rawCpu)
  console.log(
    `\ningest: ${fmt(INGEST)} points over ${series.length} series, commit (fsync) every ${BATCH / 1000} k, one thread, median of ${runs}`,
  )
  console.log('  per wall second, and per CPU second of this process (the one-core rate on a shared machine):')
  console.log(`  store (Gorilla + WAL)         ${fmt(s)}/s wall   ${fmt(sc)}/s CPU   (goal ≥ 1 M)`)
  console.log(
    `  baseline JSON lines + fsync   ${fmt(j)}/s wall   ${fmt(jc)}/s CPU   → store ×${(s / j).toFixed(2)} wall, ×${(sc / jc).toFixed(2)} CPU`,
  )
  console.log(
    `  baseline raw 16 B into RAM    ${fmt(r)}/s wall   ${fmt(rc)}/s CPU   → store ×${(s / r).toFixed(2)} wall, ×${(sc / rc).toFixed(2)} CPU (no encoding, no file: an upper bound)`,
  )
}

for (const d of dirs) rmSync(d, { recursive: true, force: true })
