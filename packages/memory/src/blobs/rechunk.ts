/**
 * Cut a byte stream into fixed-size chunks (the last one shorter).
 * @module
 */
import { InvalidArgumentError } from '../errors.js'

/** What a blob can be read from. */
export type BlobSource = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/** True for a value {@link rechunk} accepts. */
export function isBlobSource(data: unknown): data is BlobSource {
  if (data instanceof Uint8Array) return true
  if (data === null || typeof data !== 'object') return false
  return (
    typeof (data as any)[Symbol.asyncIterator] === 'function' || typeof (data as any)[Symbol.iterator] === 'function'
  )
}

/**
 * Yield `data` in chunks of exactly `size` bytes (the last may be shorter). Copies only to merge
 * small pieces.
 *
 * @throws {InvalidArgumentError} when the source yields something other than bytes
 */
export async function* rechunk(data: BlobSource, size: number): AsyncGenerator<Uint8Array> {
  if (data instanceof Uint8Array) {
    for (let offset = 0; offset < data.byteLength; offset += size) {
      yield data.subarray(offset, Math.min(offset + size, data.byteLength))
    }
    return
  }
  let pending: Uint8Array[] = []
  let pendingBytes = 0
  for await (const piece of data as AsyncIterable<Uint8Array>) {
    if (!(piece instanceof Uint8Array)) throw new InvalidArgumentError('a blob source must yield Uint8Array pieces')
    let rest = piece
    while (rest.byteLength > 0) {
      if (pendingBytes === 0 && rest.byteLength >= size) {
        yield rest.subarray(0, size)
        rest = rest.subarray(size)
        continue
      }
      const take = Math.min(size - pendingBytes, rest.byteLength)
      pending.push(rest.subarray(0, take))
      pendingBytes += take
      rest = rest.subarray(take)
      if (pendingBytes === size) {
        yield concat(pending, pendingBytes)
        pending = []
        pendingBytes = 0
      }
    }
  }
  if (pendingBytes > 0) yield concat(pending, pendingBytes)
}

/** Concatenate byte arrays. */
export function concat(parts: Uint8Array[], total?: number): Uint8Array {
  const length = total ?? parts.reduce((n, p) => n + p.byteLength, 0)
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.byteLength
  }
  return out
}
