/**
 * The embedded time-series store: per series, points are Gorilla-compressed into chunks
 * (delta-of-delta timestamps, XOR floats); every point is first written to a write-ahead log, and
 * acknowledged when {@link TimeSeriesStore.commit} returns (WAL written and fsynced). Sealed chunks
 * go to `chunks.log`; a checkpoint seals every open chunk and empties the WAL. Raw points are
 * rolled up into 1-minute and 1-hour min/max/sum/count series, and each resolution keeps its own
 * retention.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { ClockJumpError, OutOfOrderError, SeriesLimitError, StoreClosedError, StoreCorruptError } from '../errors.js'
import { decimalScale, decodeDecimal, encodeDecimal } from './decimal.js'
import { decodeChunk, GorillaEncoder } from './gorilla.js'
import { frame, LogFile } from './log-file.js'

const WAL_MAGIC = new TextEncoder().encode('VTSWAL01')
const CHUNKS_MAGIC = new TextEncoder().encode('VTSCHK01')
const MINUTE = 60_000
const HOUR = 3_600_000

/** A series' resolution: raw points, or 1-minute / 1-hour rollups. */
export type Resolution = 'raw' | '1m' | '1h'
type Agg = 'min' | 'max' | 'sum' | 'count'
const AGGS: Agg[] = ['min', 'max', 'sum', 'count']
const LEVELS: Resolution[] = ['raw', '1m', '1h']

/** Labels of a series. */
export type Labels = Record<string, string>

/** Options of {@link openStore}. */
export interface StoreInit {
  /** Folder of the store's files (created). */
  dir: string
  /** How long each resolution is kept (ms). Defaults: raw 2 days, 1 min 30 days, 1 h 400 days. */
  retention?: { raw?: number; '1m'?: number; '1h'?: number }
  /** Series (label sets) per metric name. Default 1,000. */
  maxSeriesPerMetric?: number
  /** Points per chunk before it is sealed. Default 720 (2 h at 10 s). */
  chunkPoints?: number
  /** Checkpoint (seal all chunks, empty the WAL) once the WAL holds this many bytes. Default 16 MiB. */
  walCheckpointBytes?: number
  /** Refuse points this far after `now()` (a clock that jumped forward). Default 10 min. */
  maxFutureMs?: number
  /** The clock (ms). Default `Date.now`. */
  now?: () => number
}

/** A raw point. */
export interface Point {
  t: number
  v: number
}

/** A rollup bucket: the points whose time falls in `[t, t + 1 min/1 h)`. */
export interface RollupPoint {
  t: number
  min: number
  max: number
  mean: number
  count: number
}

/** Options of {@link TimeSeriesStore.query}. */
export interface QueryOptions {
  from?: number
  to?: number
  /** Default `raw`; `auto` takes the finest resolution whose retention still covers `from`. */
  resolution?: Resolution | 'auto'
}

/** A handle on one series, from {@link TimeSeriesStore.series}. */
export interface SeriesHandle {
  readonly id: number
  readonly name: string
  readonly labels: Readonly<Labels>
}

interface Chunk {
  /** -1: Gorilla XOR values; 0–6: decimal-scaled integers (see ./decimal.ts). */
  scale: number
  minT: number
  maxT: number
  count: number
  bytes: Uint8Array
}

interface Acc {
  bucket: number
  min: number
  max: number
  sum: number
  count: number
}

interface Series extends SeriesHandle {
  key: string
  level: 0 | 1 | 2
  agg: Agg | undefined
  enc: GorillaEncoder
  lastT: number
  sealed: Chunk[]
  defined: boolean
  /** The raw series this one belongs to (itself for a raw series). */
  family?: Series
  /** raw series: their rollup series [level][agg] and open buckets */
  rollups?: [Record<Agg, Series>, Record<Agg, Series>]
  acc1m?: Acc
  acc1h?: Acc
}

/** What {@link TimeSeriesStore.stats} reports. */
export interface StoreStats {
  series: number
  points: number
  /** Bytes of `chunks.log` (sealed, compressed points and series definitions). */
  chunkBytes: number
  /** Points in sealed chunks. */
  sealedPoints: number
  walBytes: number
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** A growable byte buffer with LEB128 and float64 writers. */
class Bytes {
  buf = new Uint8Array(1 << 16)
  view = new DataView(this.buf.buffer)
  len = 0
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n))
    next.set(this.buf.subarray(0, this.len))
    this.buf = next
    this.view = new DataView(next.buffer)
  }
  varint(n: number): void {
    this.ensure(10)
    while (n >= 0x80) {
      this.buf[this.len++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 128)
    }
    this.buf[this.len++] = n
  }
  f64(x: number): void {
    this.ensure(8)
    this.view.setFloat64(this.len, x, true)
    this.len += 8
  }
  raw(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }
  take(): Uint8Array {
    const out = this.buf.slice(0, this.len)
    this.len = 0
    return out
  }
}

class Reader {
  pos = 0
  readonly view: DataView
  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  get done(): boolean {
    return this.pos >= this.buf.length
  }
  varint(): number {
    let n = 0
    let mul = 1
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.buf.length) throw new RangeError('varint past the end')
      const b = this.buf[this.pos++] as number
      n += (b & 0x7f) * mul
      if (b < 0x80) return n
      mul *= 128
    }
    throw new RangeError('varint too long')
  }
  f64(): number {
    if (this.pos + 8 > this.buf.length) throw new RangeError('float past the end')
    const x = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return x
  }
  bytes(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) throw new RangeError('bytes past the end')
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}

const REC_SERIES = 1
const REC_POINTS = 2
const REC_CHUNK = 3
const REC_CHUNK_DECIMAL = 4

function chunkRecord(id: number, c: Chunk): Uint8Array {
  const b = new Bytes()
  b.varint(c.scale < 0 ? REC_CHUNK : REC_CHUNK_DECIMAL)
  b.varint(id)
  if (c.scale >= 0) b.varint(c.scale)
  b.varint(c.count)
  b.f64(c.minT)
  b.f64(c.maxT)
  b.raw(c.bytes)
  return frame(b.take())
}

function decodeAny(c: Chunk, ts: number[], vs: number[]): void {
  if (c.scale < 0) decodeChunk(c.bytes, c.count, ts, vs)
  else decodeDecimal(c.bytes, c.count, c.scale, ts, vs)
}

function defRecord(s: Series): Uint8Array {
  const b = new Bytes()
  b.varint(REC_SERIES)
  b.varint(s.id)
  b.raw(enc.encode(s.key))
  return b.take()
}

function seriesKey(name: string, labels: Labels, level: number, agg: Agg | undefined): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k] as string])
  return JSON.stringify(level === 0 ? [name, pairs] : [name, pairs, level, agg])
}

/**
 * A time-series store in a folder: open it with {@link openStore}.
 *
 * Appends are synchronous and buffered; {@link commit} makes them durable. Per series, times are
 * integer ms and strictly increasing: a point at or before the last one is an
 * {@link OutOfOrderError} (a clock that jumped back), one too far ahead of the clock a
 * {@link ClockJumpError}; neither is acknowledged, and nothing acknowledged before is affected.
 */
export class TimeSeriesStore {
  /** Files found damaged at open: each was set aside and the store went on without it. */
  readonly damaged: StoreCorruptError[] = []
  private readonly byKey = new Map<string, Series>()
  private readonly byId: Series[] = []
  private readonly perMetric = new Map<string, number>()
  private readonly walBuf = new Bytes()
  private readonly chunkBuf = new Bytes()
  private pendingChunks = 0
  private closed = false
  private replaying = false
  private readonly retention: Record<Resolution, number>
  private readonly maxSeriesPerMetric: number
  private readonly chunkPoints: number
  private readonly walCheckpointBytes: number
  private readonly maxFutureMs: number
  private readonly now: () => number
  private wal!: LogFile
  private chunks!: LogFile

  /** @internal use {@link openStore} */
  constructor(private readonly init: StoreInit) {
    this.retention = {
      raw: init.retention?.raw ?? 2 * 24 * HOUR,
      '1m': init.retention?.['1m'] ?? 30 * 24 * HOUR,
      '1h': init.retention?.['1h'] ?? 400 * 24 * HOUR,
    }
    this.maxSeriesPerMetric = init.maxSeriesPerMetric ?? 1000
    this.chunkPoints = init.chunkPoints ?? 720
    this.walCheckpointBytes = init.walCheckpointBytes ?? 16 * 1024 * 1024
    this.maxFutureMs = init.maxFutureMs ?? 10 * MINUTE
    this.now = init.now ?? Date.now
  }

  /** @internal */
  load(): void {
    mkdirSync(this.init.dir, { recursive: true })
    const c = LogFile.open(join(this.init.dir, 'chunks.log'), CHUNKS_MAGIC, this.now)
    this.chunks = c.log
    if (c.damaged !== undefined) this.damaged.push(c.damaged)
    const w = LogFile.open(join(this.init.dir, 'wal.log'), WAL_MAGIC, this.now)
    this.wal = w.log
    if (w.damaged !== undefined) this.damaged.push(w.damaged)
    try {
      for (const rec of c.records) this.loadChunkRecord(rec)
    } catch (err) {
      // a record whose checksum holds but whose content does not: the file is damaged
      this.setAside(this.chunks, CHUNKS_MAGIC, (err as Error).message)
      this.resetAll()
    }
    for (const s of this.byId) if (s !== undefined) s.defined = true
    for (const s of this.byId) if (s !== undefined && s.level === 0) this.linkRollups(s)
    this.rebuildRollups()
    this.replaying = true
    try {
      for (const rec of w.records) this.replayWalRecord(rec)
    } catch (err) {
      this.replaying = false
      this.setAside(this.wal, WAL_MAGIC, (err as Error).message)
    }
    this.replaying = false
    // the WAL stays as it is (its points are in open chunks now); series defined only there are
    // defined again in chunks.log at the next checkpoint
  }

  private resetAll(): void {
    this.byKey.clear()
    this.byId.length = 0
    this.perMetric.clear()
  }

  private setAside(log: LogFile, magic: Uint8Array, reason: string): void {
    const aside = `${log.path}.corrupt-${this.now()}`
    log.close()
    renameSync(log.path, aside)
    this.damaged.push(new StoreCorruptError(log.path, reason, aside))
    const fresh = LogFile.open(log.path, magic, this.now).log
    if (log === this.wal) this.wal = fresh
    else this.chunks = fresh
  }

  private loadChunkRecord(rec: Uint8Array): void {
    const r = new Reader(rec)
    const type = r.varint()
    if (type === REC_SERIES) {
      const id = r.varint()
      const key = dec.decode(r.bytes(rec.length - r.pos))
      this.defineFromKey(id, key)
    } else if (type === REC_CHUNK || type === REC_CHUNK_DECIMAL) {
      const id = r.varint()
      const s = this.byId[id]
      if (s === undefined) throw new RangeError(`a chunk of undefined series ${id}`)
      const scale = type === REC_CHUNK ? -1 : r.varint()
      if (scale > 6) throw new RangeError(`bad decimal scale ${scale}`)
      const count = r.varint()
      const minT = r.f64()
      const maxT = r.f64()
      const bytes = rec.slice(r.pos)
      if (!(maxT >= minT) || count < 1 || minT <= s.lastT) throw new RangeError(`chunk of series ${id} out of order`)
      s.sealed.push({ scale, minT, maxT, count, bytes })
      s.lastT = maxT
    } else throw new RangeError(`unknown record type ${type}`)
  }

  private replayWalRecord(rec: Uint8Array): void {
    const r = new Reader(rec)
    const type = r.varint()
    if (type === REC_SERIES) {
      const id = r.varint()
      const key = dec.decode(r.bytes(rec.length - r.pos))
      const existing = this.byKey.get(key)
      if (existing === undefined) this.defineFromKey(id, key)
      else if (existing.id !== id) throw new RangeError(`series ${key} has two ids`)
      return
    }
    if (type !== REC_POINTS) throw new RangeError(`unknown WAL record type ${type}`)
    while (!r.done) {
      const id = r.varint()
      const t = r.f64()
      const v = r.f64()
      const s = this.byId[id]
      if (s === undefined) throw new RangeError(`a point of undefined series ${id}`)
      if (t <= s.lastT) continue // already in a sealed chunk (a checkpoint before the crash)
      this.appendInternal(s, t, v)
    }
  }

  private defineFromKey(id: number, key: string): Series {
    const parsed = JSON.parse(key) as [string, [string, string][], number?, Agg?]
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string' || !Array.isArray(parsed[1])) {
      throw new RangeError('bad series key')
    }
    const labels: Labels = {}
    for (const [k, v] of parsed[1]) labels[k] = v
    const level = (parsed[2] ?? 0) as 0 | 1 | 2
    return this.define(parsed[0], labels, level, parsed[3], id)
  }

  private define(name: string, labels: Labels, level: 0 | 1 | 2, agg: Agg | undefined, id?: number): Series {
    const key = seriesKey(name, labels, level, agg)
    const found = this.byKey.get(key)
    if (found !== undefined) return found
    const sid = id ?? this.byId.length
    if (this.byId[sid] !== undefined) throw new RangeError(`series id ${sid} defined twice`)
    if (!Number.isSafeInteger(sid) || sid > 10_000_000) throw new RangeError(`bad series id ${sid}`)
    const s: Series = {
      id: sid,
      name,
      labels: Object.freeze({ ...labels }),
      key,
      level,
      agg,
      enc: new GorillaEncoder(),
      lastT: Number.NEGATIVE_INFINITY,
      sealed: [],
      defined: false,
    }
    this.byKey.set(key, s)
    this.byId[sid] = s
    if (sid >= this.nextId) this.nextId = sid + 1
    if (level === 0) {
      this.perMetric.set(name, (this.perMetric.get(name) ?? 0) + 1)
      s.family = s
      // a new series (not one loaded from a file) gets its rollup series at once, logged together
      if (id === undefined) {
        this.linkRollups(s)
        this.flushWalPoints()
        for (const m of this.familyOf(s)) this.walBuf.raw(frame(defRecord(m)))
      }
    }
    return s
  }

  private nextId = 0
  private futureLimit = Number.NEGATIVE_INFINITY

  /** The series of `raw`'s rollups, found by key (loaded) or created. */
  private linkRollups(raw: Series): [Record<Agg, Series>, Record<Agg, Series>] {
    if (raw.rollups !== undefined) return raw.rollups
    const r1 = {} as Record<Agg, Series>
    const r2 = {} as Record<Agg, Series>
    for (const a of AGGS) {
      r1[a] = this.define(
        raw.name,
        raw.labels,
        1,
        a,
        this.byKey.get(seriesKey(raw.name, raw.labels, 1, a))?.id ?? this.nextId,
      )
      r2[a] = this.define(
        raw.name,
        raw.labels,
        2,
        a,
        this.byKey.get(seriesKey(raw.name, raw.labels, 2, a))?.id ?? this.nextId,
      )
      r1[a].family = raw
      r2[a].family = raw
    }
    raw.rollups = [r1, r2]
    return raw.rollups
  }

  private familyOf(raw: Series): Series[] {
    const [r1, r2] = this.linkRollups(raw)
    return [raw, ...AGGS.map((a) => r1[a]), ...AGGS.map((a) => r2[a])]
  }

  private walPointsOpen = false
  /** Where the open points record's 8-byte header is reserved in `walBuf`. */
  private walPointsAt = 0

  /** Close the open points record: its length and checksum into the header reserved for them. */
  private flushWalPoints(): void {
    if (!this.walPointsOpen) return
    const b = this.walBuf
    const start = this.walPointsAt + 8
    b.view.setUint32(this.walPointsAt, b.len - start, true)
    b.view.setUint32(this.walPointsAt + 4, crc32(b.buf.subarray(start, b.len)), true)
    this.walPointsOpen = false
  }

  /**
   * The handle of series `name{labels}` (created on first use).
   *
   * @throws {SeriesLimitError} when `name` already has `maxSeriesPerMetric` series
   */
  series(name: string, labels: Labels = {}): SeriesHandle {
    this.assertOpen()
    const key = seriesKey(name, labels, 0, undefined)
    const found = this.byKey.get(key)
    if (found !== undefined) return found
    if ((this.perMetric.get(name) ?? 0) >= this.maxSeriesPerMetric) {
      throw new SeriesLimitError(name, this.maxSeriesPerMetric)
    }
    return this.define(name, labels, 0, undefined)
  }

  /**
   * Append a point (buffered: durable once {@link commit} returns).
   *
   * @throws {OutOfOrderError} when `t` is not after the series' last point
   * @throws {ClockJumpError} when `t` is not an integer ≥ 0 or is too far after `now()`
   */
  append(handle: SeriesHandle, t: number, v: number): void {
    if (this.closed) throw new StoreClosedError('the store is closed')
    const s = this.byId[handle.id] as Series
    if (s === undefined || s.key !== (handle as Series).key) throw new TypeError('not a series of this store')
    if (!(t > s.lastT)) {
      if (Number.isSafeInteger(t) && t >= 0) throw new OutOfOrderError(s.name, t, s.lastT)
      throw new ClockJumpError(s.name, t, this.now())
    }
    if (!Number.isSafeInteger(t) || t < 0) throw new ClockJumpError(s.name, t, this.now())
    // the clock is read again only when a point passes the last limit computed
    if (t > this.futureLimit) {
      this.futureLimit = this.now() + this.maxFutureMs
      if (t > this.futureLimit) throw new ClockJumpError(s.name, t, this.now())
    }
    if (typeof v !== 'number') throw new TypeError('a value is a number')
    this.appendInternal(s, t, v)
    const b = this.walBuf
    if (!this.walPointsOpen) {
      this.walPointsAt = b.len
      b.f64(0) // the header, filled by flushWalPoints
      b.varint(REC_POINTS)
      this.walPointsOpen = true
    }
    b.varint(s.id)
    b.f64(t)
    b.f64(v)
  }

  private appendInternal(s: Series, t: number, v: number): void {
    const e = s.enc
    if (e.count >= this.chunkPoints || !e.fits(t)) this.seal(s)
    s.enc.append(t, v)
    s.lastT = t
    if (s.level === 0) this.rollup(s, t, v)
  }

  private rollup(s: Series, t: number, v: number): void {
    const bucket = t - (t % MINUTE)
    const acc = s.acc1m
    if (acc !== undefined && acc.bucket === bucket) {
      if (v < acc.min) acc.min = v
      if (v > acc.max) acc.max = v
      acc.sum += v
      acc.count++
      return
    }
    if (acc !== undefined) this.closeMinute(s, acc)
    s.acc1m = { bucket, min: v, max: v, sum: v, count: 1 }
  }

  private closeMinute(s: Series, acc: Acc): void {
    this.emitRollup(s, 0, acc)
    this.feedHour(s, acc)
  }

  private feedHour(s: Series, m: Acc): void {
    const bucket = m.bucket - (m.bucket % HOUR)
    const h = s.acc1h
    if (h !== undefined && h.bucket === bucket) {
      if (m.min < h.min) h.min = m.min
      if (m.max > h.max) h.max = m.max
      h.sum += m.sum
      h.count += m.count
      return
    }
    if (h !== undefined) this.emitRollup(s, 1, h)
    s.acc1h = { bucket, min: m.min, max: m.max, sum: m.sum, count: m.count }
  }

  private emitRollup(s: Series, level: 0 | 1, acc: Acc): void {
    const r = this.linkRollups(s)[level]
    for (const a of AGGS) {
      const target = r[a]
      if (acc.bucket <= target.lastT) continue // recomputed at open: already there
      this.appendInternal(target, acc.bucket, acc[a])
    }
  }

  /**
   * After loading the sealed chunks: recompute rollups the crash may have lost (those emitted
   * but not sealed), and the open minute's and hour's buckets, from the sealed raw points.
   */
  private rebuildRollups(): void {
    for (const s of this.byId) {
      if (s === undefined || s.level !== 0 || s.sealed.length === 0) continue
      const [r1, r2] = this.linkRollups(s)
      const hourFrom = r2.count.lastT + HOUR
      const minuteFrom = r1.count.lastT + MINUTE
      // 1-minute buckets emitted after the last hour: the open hour
      const mins = this.readSeries(r1.sum, hourFrom, Number.POSITIVE_INFINITY)
      const counts = this.readSeries(r1.count, hourFrom, Number.POSITIVE_INFINITY)
      const mn = this.readSeries(r1.min, hourFrom, Number.POSITIVE_INFINITY)
      const mx = this.readSeries(r1.max, hourFrom, Number.POSITIVE_INFINITY)
      for (let i = 0; i < counts.length; i++) {
        const c = counts[i] as Point
        this.feedHour(s, {
          bucket: c.t,
          count: c.v,
          sum: (mins[i] as Point).v,
          min: (mn[i] as Point).v,
          max: (mx[i] as Point).v,
        })
      }
      for (const p of this.readSeries(s, Number.isFinite(minuteFrom) ? minuteFrom : 0, Number.POSITIVE_INFINITY)) {
        this.rollup(s, p.t, p.v)
      }
    }
  }

  private readSeries(s: Series, from: number, to: number): Point[] {
    const out: Point[] = []
    const ts: number[] = []
    const vs: number[] = []
    for (const c of s.sealed) {
      if (c.maxT < from || c.minT > to) continue
      ts.length = 0
      vs.length = 0
      decodeAny(c, ts, vs)
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i] as number
        if (t >= from && t <= to) out.push({ t, v: vs[i] as number })
      }
    }
    if (s.enc.count > 0 && s.enc.lastT >= from && s.enc.firstT <= to) {
      ts.length = 0
      vs.length = 0
      decodeChunk(s.enc.bytes(), s.enc.count, ts, vs)
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i] as number
        if (t >= from && t <= to) out.push({ t, v: vs[i] as number })
      }
    }
    return out
  }

  private seal(s: Series): void {
    const e = s.enc
    if (e.count === 0) return
    let chunk: Chunk = { scale: -1, minT: e.firstT, maxT: e.lastT, count: e.count, bytes: e.bytes() }
    // values that are integers at some decimal scale (counters, byte counts…) are usually far
    // smaller as integer deltas-of-deltas: keep whichever encoding is smaller
    const { ts, vs } = e.decimal >= 0 ? decodeChunk(chunk.bytes, chunk.count) : { ts: [], vs: [] }
    const scale = e.decimal >= 0 ? decimalScale(vs) : -1
    if (scale >= 0) {
      const alt = encodeDecimal(ts, vs, scale)
      if (alt !== undefined && alt.length < chunk.bytes.length) chunk = { ...chunk, scale, bytes: alt }
    }
    s.sealed.push(chunk)
    s.enc = new GorillaEncoder()
    if (this.replaying) {
      // WAL replay: the chunk goes to chunks.log at the next commit, like any other
    }
    this.writeChunk(s, chunk)
  }

  private writeChunk(s: Series, c: Chunk): void {
    const raw = s.family as Series
    if (!raw.defined) {
      // a series' family (raw and rollups) is defined together, before its first chunk
      for (const m of this.familyOf(raw)) {
        this.chunkBuf.raw(frame(defRecord(m)))
        m.defined = true
      }
    }
    this.chunkBuf.raw(chunkRecord(s.id, c))
    this.pendingChunks++
  }

  /**
   * Make every point appended so far durable: sealed chunks to `chunks.log`, the rest to the WAL,
   * both fsynced. Points are acknowledged when this returns. Checkpoints when the WAL is large.
   */
  commit(): void {
    this.assertOpen()
    if (this.pendingChunks > 0) {
      this.chunks.append(this.chunkBuf.take())
      this.chunks.sync()
      this.pendingChunks = 0
    }
    this.flushWalPoints()
    if (this.walBuf.len > 0) {
      this.wal.append(this.walBuf.buf.subarray(0, this.walBuf.len))
      this.walBuf.len = 0
      this.wal.sync()
    }
    if (this.wal.size >= this.walCheckpointBytes) this.checkpoint()
  }

  /**
   * Seal every open chunk into `chunks.log`, empty the WAL, and drop chunks past their
   * resolution's retention (rewriting `chunks.log` when that frees space).
   */
  checkpoint(): void {
    this.assertOpen()
    for (const s of this.byId) if (s !== undefined) this.seal(s)
    for (const s of this.byId) {
      // series with no chunk yet: their definitions must outlive the WAL
      if (s === undefined || s.level !== 0 || s.defined) continue
      for (const m of this.familyOf(s)) {
        this.chunkBuf.raw(frame(defRecord(m)))
        m.defined = true
      }
      this.pendingChunks++
    }
    this.walBuf.len = 0
    this.walPointsOpen = false
    if (this.pendingChunks > 0) {
      this.chunks.append(this.chunkBuf.take())
      this.chunks.sync()
      this.pendingChunks = 0
    }
    this.wal.truncate(WAL_MAGIC.length)
    this.applyRetention()
  }

  private applyRetention(): void {
    const now = this.now()
    let dropped = 0
    for (const s of this.byId) {
      if (s === undefined) continue
      const keep = this.retention[LEVELS[s.level] as Resolution]
      const before = s.sealed.length
      s.sealed = s.sealed.filter((c) => c.maxT >= now - keep)
      dropped += before - s.sealed.length
    }
    if (dropped === 0) return
    // rewrite chunks.log without them: a new file, synced, renamed over the old one
    const b = new Bytes()
    b.raw(CHUNKS_MAGIC)
    for (const s of this.byId) {
      if (s === undefined) continue
      const d = new Bytes()
      d.varint(REC_SERIES)
      d.varint(s.id)
      d.raw(enc.encode(s.key))
      b.raw(frame(d.take()))
      for (const c of s.sealed) b.raw(chunkRecord(s.id, c))
      s.defined = true
    }
    const path = this.chunks.path
    const tmp = `${path}.tmp`
    writeFileSync(tmp, b.take())
    const fd = openSync(tmp, 'r+')
    fsyncSync(fd)
    closeSync(fd)
    this.chunks.close()
    renameSync(tmp, path)
    const dfd = openSync(this.init.dir, 'r')
    fsyncSync(dfd)
    closeSync(dfd)
    this.chunks = LogFile.open(path, CHUNKS_MAGIC, this.now).log
  }

  /** The raw series in the store (optionally of one metric). */
  list(name?: string): SeriesHandle[] {
    return this.byId.filter((s) => s !== undefined && s.level === 0 && (name === undefined || s.name === name))
  }

  /** Raw points of a series in `[from, to]`. */
  query(handle: SeriesHandle, options?: QueryOptions & { resolution?: 'raw' }): Point[]
  /** Rollup buckets of a series in `[from, to]` (closed buckets only). */
  query(handle: SeriesHandle, options: QueryOptions & { resolution: '1m' | '1h' }): RollupPoint[]
  query(handle: SeriesHandle, options?: QueryOptions): Point[] | RollupPoint[]
  query(handle: SeriesHandle, options: QueryOptions = {}): Point[] | RollupPoint[] {
    this.assertOpen()
    const s = this.byKey.get(seriesKey(handle.name, handle.labels, 0, undefined))
    if (s === undefined) return []
    const from = options.from ?? 0
    const to = options.to ?? Number.POSITIVE_INFINITY
    let res = options.resolution ?? 'raw'
    if (res === 'auto') {
      const age = this.now() - from
      res = age <= this.retention.raw ? 'raw' : age <= this.retention['1m'] ? '1m' : '1h'
    }
    if (res === 'raw') return this.readSeries(s, from, to)
    const r = this.linkRollups(s)[res === '1m' ? 0 : 1]
    const cols = AGGS.map((a) => this.readSeries(r[a], from, to))
    const [mn, mx, sum, count] = cols as [Point[], Point[], Point[], Point[]]
    return count.map((c, i) => ({
      t: c.t,
      min: (mn[i] as Point).v,
      max: (mx[i] as Point).v,
      mean: (sum[i] as Point).v / c.v,
      count: c.v,
    }))
  }

  /** Counts and sizes. */
  stats(): StoreStats {
    let points = 0
    let sealedPoints = 0
    let series = 0
    for (const s of this.byId) {
      if (s === undefined) continue
      if (s.level === 0) series++
      for (const c of s.sealed) sealedPoints += c.count
      points += s.enc.count
    }
    return {
      series,
      points: points + sealedPoints,
      sealedPoints,
      chunkBytes: this.chunks.size,
      walBytes: this.wal.size,
    }
  }

  /** Checkpoint and close the files. */
  close(): void {
    if (this.closed) return
    this.checkpoint()
    this.closed = true
    this.wal.close()
    this.chunks.close()
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError('the store is closed')
  }
}

/**
 * Open (or create) a store in `init.dir`. A torn tail (a crash mid-write) is cut off; a damaged
 * file is set aside (renamed `<file>.corrupt-<ms>`), reported in `store.damaged` as a
 * {@link StoreCorruptError}, and the store goes on without it — opening never throws for damage.
 *
 * @example
 * ```ts
 * const store = openStore({ dir: './history' })
 * const peers = store.series('vain_peers', { kind: 'authenticated' })
 * store.append(peers, Date.now(), 4)
 * store.commit() // acknowledged: survives a crash from here on
 * store.close()
 * ```
 */
export function openStore(init: StoreInit): TimeSeriesStore {
  const store = new TimeSeriesStore(init)
  store.load()
  return store
}
