/** Content hash of an aggregate, for cross-checking aggregators. @module */
import { createHash } from 'node:crypto'

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/** The little-endian bytes of a Float32Array (a view on little-endian hosts, a copy otherwise). */
export function float32Bytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  const out = new Uint8Array(values.byteLength)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true)
  return out
}

/**
 * sha2-256 (hex) of the little-endian float32 bytes of an update or aggregate. Aggregators are
 * deterministic, so committee members that aggregated the same updates in the same order
 * publish the same hash; a differing hash means different inputs or a cheat.
 *
 * @example
 * ```ts
 * import { hashUpdate, median } from '@vain/fl'
 * const mine = hashUpdate(median().aggregate(updates))
 * if (mine !== announcedByPeer) console.warn('aggregate mismatch')
 * ```
 */
export function hashUpdate(values: Float32Array): string {
  return createHash('sha256').update(float32Bytes(values)).digest('hex')
}
