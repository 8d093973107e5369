/**
 * A blob manifest: the blob's size, chunk size and the CIDs of its chunks, encoded as
 * deterministic dag-cbor (CIDs as tag 42). Its sha2-256 is the blob's CID.
 *
 * ```
 * { "v": 1, "size": <bytes>, "chunkBytes": <bytes>, "chunks": [CID(raw, sha2-256), ...] }
 * ```
 * Every chunk but the last is exactly `chunkBytes` long; the last one holds the rest.
 * @module
 */
import { decodeCborBounded } from '@vain/net/wire'
import { encode, type TagDecodeControl, Token, Type } from 'cborg'
import { InvalidManifestError } from '../errors.js'
import { CID, parseCid, RAW_CODE, SHA256_CODE } from './cid.js'

/** Largest manifest accepted (bytes): ~400k chunks. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024
/** Deepest nesting a manifest may have (it nests 3: the map, its chunk list, a CID tag). */
export const MAX_MANIFEST_DEPTH = 8
/** Smallest and largest chunk sizes accepted. */
export const MIN_CHUNK_BYTES = 1024
export const MAX_CHUNK_BYTES = 4 * 1024 * 1024

const CID_TAG = 42

/** A decoded manifest. */
export interface Manifest {
  size: number
  chunkBytes: number
  chunks: CID[]
}

/**
 * Encode a manifest (deterministic: same manifest, same bytes, same CID).
 *
 * @example
 * ```ts
 * const bytes = encodeManifest({ size: 5, chunkBytes: 1024, chunks: [chunkCid(data)] })
 * const cid = manifestCid(bytes)
 * ```
 */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return encode(
    { v: 1, size: manifest.size, chunkBytes: manifest.chunkBytes, chunks: manifest.chunks },
    {
      typeEncoders: {
        Object: (obj: unknown) => {
          const cid = CID.asCID(obj)
          if (cid === null) return null
          const bytes = new Uint8Array(cid.bytes.byteLength + 1)
          bytes.set(cid.bytes, 1) // multibase identity prefix 0x00, as dag-cbor requires
          return [new Token(Type.tag, CID_TAG), new Token(Type.bytes, bytes)]
        },
      },
    },
  )
}

/**
 * Decode and check a manifest: shape, sizes, chunk count consistent with `size` and
 * `chunkBytes`, every chunk a raw sha2-256 CIDv1.
 *
 * @throws {InvalidManifestError} for anything else (bytes nested deeper than
 *   {@link MAX_MANIFEST_DEPTH} are refused before they are decoded that deep)
 * @example
 * ```ts
 * const manifest = decodeManifest(bytes) // after checking manifestCid(bytes) equals the blob CID
 * ```
 */
export function decodeManifest(bytes: Uint8Array): Manifest {
  if (!(bytes instanceof Uint8Array)) throw new InvalidManifestError('manifest must be bytes')
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new InvalidManifestError(`manifest of ${bytes.byteLength} bytes exceeds ${MAX_MANIFEST_BYTES}`)
  }
  let raw: unknown
  try {
    raw = decodeCborBounded(bytes, MAX_MANIFEST_DEPTH, {
      strict: true,
      rejectDuplicateMapKeys: true,
      useMaps: false,
      allowUndefined: false,
      allowIndefinite: false,
      tags: {
        [CID_TAG]: (content: TagDecodeControl) => {
          const inner = content()
          if (!(inner instanceof Uint8Array) || inner[0] !== 0) throw new Error('bad CID link')
          return parseCid(inner.subarray(1), 'chunk')
        },
      },
    })
  } catch (cause) {
    throw new InvalidManifestError(`manifest is not valid dag-cbor: ${(cause as Error)?.message ?? cause}`, { cause })
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidManifestError('manifest must be a map')
  }
  const m = raw as Record<string, unknown>
  const keys = Object.keys(m).sort().join(',')
  if (keys !== 'chunkBytes,chunks,size,v') throw new InvalidManifestError(`unexpected manifest fields: ${keys}`)
  if (m.v !== 1) throw new InvalidManifestError(`unsupported manifest version ${String(m.v)}`)
  const { size, chunkBytes, chunks } = m
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new InvalidManifestError('manifest size must be a non-negative integer')
  }
  if (
    typeof chunkBytes !== 'number' ||
    !Number.isInteger(chunkBytes) ||
    chunkBytes < MIN_CHUNK_BYTES ||
    chunkBytes > MAX_CHUNK_BYTES
  ) {
    throw new InvalidManifestError(`manifest chunkBytes must be in [${MIN_CHUNK_BYTES}, ${MAX_CHUNK_BYTES}]`)
  }
  if (!Array.isArray(chunks)) throw new InvalidManifestError('manifest chunks must be a list')
  if (chunks.length !== Math.ceil(size / chunkBytes)) {
    throw new InvalidManifestError(
      `manifest lists ${chunks.length} chunks for ${size} bytes in chunks of ${chunkBytes} (expected ${Math.ceil(size / chunkBytes)})`,
    )
  }
  for (const c of chunks) {
    if (!(c instanceof CID) || c.code !== RAW_CODE || c.multihash.code !== SHA256_CODE) {
      throw new InvalidManifestError('manifest chunks must be raw sha2-256 CIDs')
    }
  }
  // the encoding must be the canonical one, or two byte strings would name one manifest
  const canonical = encodeManifest({ size, chunkBytes, chunks: chunks as CID[] })
  if (!Buffer.from(canonical).equals(bytes)) throw new InvalidManifestError('manifest is not canonically encoded')
  return { size, chunkBytes, chunks: chunks as CID[] }
}

/**
 * Byte length of chunk `index` of a manifest.
 *
 * @example
 * ```ts
 * chunkLength({ size: 2500, chunkBytes: 1024, chunks }, 2) // 452
 * ```
 */
export function chunkLength(manifest: Manifest, index: number): number {
  const last = manifest.chunks.length - 1
  return index < last ? manifest.chunkBytes : manifest.size - manifest.chunkBytes * last
}
