/**
 * A namespace as one byte stream — to store it as a blob, replicate that blob to k peers, and
 * import it on another node. Binary frames, streamed both ways:
 *
 * ```
 * magic   "VAINNS" 0x01                                   (7 bytes)
 * entry   0x01 | key length u32 | key UTF-8 | expiresAt f64 (0 = never) | value length u32 | value
 * end     0x00
 * ```
 * All integers big-endian. Decoding any other bytes fails with {@link CorruptedValueError}.
 * @module
 */
import { CorruptedValueError } from '../errors.js'
import { MAX_KEY_BYTES } from '../keys.js'

const MAGIC = Uint8Array.from([0x56, 0x41, 0x49, 0x4e, 0x4e, 0x53, 0x01]) // "VAINNS" v1
/** Largest value accepted in an export (the largest `maxValueBytes` a namespace may have). */
const MAX_VALUE_BYTES = 1024 * 1024 * 1024

/** One exported entry. */
export interface ExportedEntry {
  key: string
  value: Uint8Array
  /** ms since the epoch; 0 = no expiry. */
  expiresAt: number
}

/**
 * Encode entries as an export stream.
 *
 * @example
 * ```ts
 * await memory.blobs.put(encodeNamespaceExport([{ key: 'a', value: bytes, expiresAt: 0 }]))
 * ```
 */
export async function* encodeNamespaceExport(entries: Iterable<ExportedEntry>): AsyncGenerator<Uint8Array> {
  yield MAGIC
  for (const { key, value, expiresAt } of entries) {
    const keyBytes = Buffer.from(key, 'utf8')
    const head = Buffer.allocUnsafe(1 + 4 + keyBytes.byteLength + 8 + 4)
    head[0] = 1
    head.writeUInt32BE(keyBytes.byteLength, 1)
    head.set(keyBytes, 5)
    head.writeDoubleBE(expiresAt, 5 + keyBytes.byteLength)
    head.writeUInt32BE(value.byteLength, 13 + keyBytes.byteLength)
    yield head
    yield value
  }
  yield Uint8Array.of(0)
}

/** Accumulates stream pieces and hands out exact byte counts. */
class Reader {
  private parts: Uint8Array[] = []
  private buffered = 0
  private done = false
  private readonly source: AsyncIterator<Uint8Array>

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source[Symbol.asyncIterator]()
  }

  async read(n: number, what: string): Promise<Uint8Array> {
    while (this.buffered < n && !this.done) {
      const next = await this.source.next()
      if (next.done === true) this.done = true
      else {
        this.parts.push(next.value)
        this.buffered += next.value.byteLength
      }
    }
    if (this.buffered < n) throw new CorruptedValueError(`namespace export is truncated (in ${what})`)
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const head = this.parts[0]!
      const take = Math.min(head.byteLength, n - filled)
      out.set(head.subarray(0, take), filled)
      filled += take
      if (take === head.byteLength) this.parts.shift()
      else this.parts[0] = head.subarray(take)
    }
    this.buffered -= n
    return out
  }

  async atEnd(): Promise<boolean> {
    if (this.buffered > 0) return false
    while (!this.done) {
      const next = await this.source.next()
      if (next.done === true) this.done = true
      else if (next.value.byteLength > 0) {
        this.parts.push(next.value)
        this.buffered += next.value.byteLength
        return false
      }
    }
    return true
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decode an export stream entry by entry.
 *
 * @example
 * ```ts
 * for await (const { key, value } of decodeNamespaceExport(memory.blobs.get(cid))) console.log(key, value.byteLength)
 * ```
 *
 * @throws {CorruptedValueError} for bytes that are not a well-formed export (wrong magic,
 *   truncated, bad key, trailing bytes)
 */
export async function* decodeNamespaceExport(source: AsyncIterable<Uint8Array>): AsyncGenerator<ExportedEntry> {
  const reader = new Reader(source)
  const magic = await reader.read(MAGIC.byteLength, 'header')
  if (!Buffer.from(magic).equals(MAGIC)) throw new CorruptedValueError('not a namespace export (bad magic)')
  for (;;) {
    const kind = (await reader.read(1, 'entry kind'))[0]
    if (kind === 0) break
    if (kind !== 1) throw new CorruptedValueError(`namespace export: unknown entry kind ${kind}`)
    const keyLength = Buffer.from(await reader.read(4, 'key length')).readUInt32BE(0)
    if (keyLength === 0 || keyLength > MAX_KEY_BYTES) {
      throw new CorruptedValueError(`namespace export: key length ${keyLength} out of range`)
    }
    let key: string
    try {
      key = utf8.decode(await reader.read(keyLength, 'key'))
    } catch (cause) {
      if (cause instanceof CorruptedValueError) throw cause
      throw new CorruptedValueError('namespace export: a key is not valid UTF-8', { cause })
    }
    const expiresAt = Buffer.from(await reader.read(8, 'expiry')).readDoubleBE(0)
    if (!Number.isFinite(expiresAt) || expiresAt < 0) {
      throw new CorruptedValueError(`namespace export: invalid expiry for ${JSON.stringify(key.slice(0, 80))}`)
    }
    const valueLength = Buffer.from(await reader.read(4, 'value length')).readUInt32BE(0)
    if (valueLength > MAX_VALUE_BYTES) throw new CorruptedValueError(`namespace export: value of ${valueLength} bytes`)
    const value = await reader.read(valueLength, 'value')
    yield { key, value, expiresAt }
  }
  if (!(await reader.atEnd())) throw new CorruptedValueError('namespace export: bytes after the end marker')
}
