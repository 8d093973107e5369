/**
 * An append-only file of framed records: an 8-byte magic, then `[u32 length][u32 crc32][payload]`
 * records. Reading stops cleanly at a torn tail (a crash mid-write: the tail is cut off); a bad
 * record with data after it, or a bad magic, means the file is damaged.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { crc32 } from 'node:zlib'
import { StoreCorruptError } from '../errors.js'

export interface ReadLog {
  records: Uint8Array[]
  /** Bytes of valid content (magic + whole records). */
  validBytes: number
  /** Bytes cut off a torn tail. */
  tornBytes: number
}

/** Read a log file; throws `{ reason }` for a damaged file. */
export function readLog(bytes: Uint8Array, magic: Uint8Array): ReadLog | { damaged: string } {
  if (bytes.length === 0) return { records: [], validBytes: 0, tornBytes: 0 }
  if (bytes.length < magic.length) {
    // a crash while writing the magic of a new file
    return magic.subarray(0, bytes.length).every((b, i) => b === bytes[i])
      ? { records: [], validBytes: 0, tornBytes: bytes.length }
      : { damaged: 'bad magic' }
  }
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic[i]) return { damaged: 'bad magic' }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Uint8Array[] = []
  let pos = magic.length
  while (pos < bytes.length) {
    if (bytes.length - pos < 8) break // torn header
    const len = view.getUint32(pos, true)
    const sum = view.getUint32(pos + 4, true)
    const end = pos + 8 + len
    if (end > bytes.length) break // torn record
    const payload = bytes.subarray(pos + 8, end)
    if (crc32(payload) !== sum) {
      if (end === bytes.length) break // the last record, torn
      return { damaged: `checksum mismatch at byte ${pos}` }
    }
    records.push(payload)
    pos = end
  }
  return { records, validBytes: pos, tornBytes: bytes.length - pos }
}

/** Frame a payload as one record. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length)
  const view = new DataView(out.buffer)
  view.setUint32(0, payload.length, true)
  view.setUint32(4, crc32(payload), true)
  out.set(payload, 8)
  return out
}

/** An open log file, positioned at its end. */
export class LogFile {
  private fd: number
  size: number

  private constructor(
    readonly path: string,
    fd: number,
    size: number,
  ) {
    this.fd = fd
    this.size = size
  }

  /**
   * Open (creating) `path`; a torn tail is cut off, a damaged file is renamed aside and a fresh one
   * started (the error is returned in `damaged`).
   */
  static open(
    path: string,
    magic: Uint8Array,
    now: () => number,
  ): { log: LogFile; records: Uint8Array[]; damaged?: StoreCorruptError } {
    let bytes: Uint8Array
    try {
      bytes = readFileSync(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      bytes = new Uint8Array(0)
    }
    const read = readLog(bytes, magic)
    let damaged: StoreCorruptError | undefined
    let records: Uint8Array[] = []
    let validBytes = 0
    if ('damaged' in read) {
      const aside = `${path}.corrupt-${now()}`
      renameSync(path, aside)
      damaged = new StoreCorruptError(path, read.damaged, aside)
    } else {
      records = read.records
      validBytes = read.validBytes
    }
    const fd = openSync(path, damaged !== undefined || bytes.length === 0 ? 'w+' : 'r+')
    if (validBytes === 0) {
      writeSync(fd, magic, 0, magic.length, 0)
      ftruncateSync(fd, magic.length)
      fsyncSync(fd)
      validBytes = magic.length
    } else if (validBytes < bytes.length) {
      ftruncateSync(fd, validBytes)
      fsyncSync(fd)
    }
    const log = new LogFile(path, fd, validBytes)
    return damaged !== undefined ? { log, records, damaged } : { log, records }
  }

  /** Append framed records (not yet synced). */
  append(data: Uint8Array): void {
    let off = 0
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off, this.size + off)
    this.size += data.length
  }

  sync(): void {
    fsyncSync(this.fd)
  }

  /** Cut the file back to `size` bytes (its magic, to empty it) and sync. */
  truncate(size: number): void {
    ftruncateSync(this.fd, size)
    fsyncSync(this.fd)
    this.size = size
  }

  close(): void {
    closeSync(this.fd)
  }
}
