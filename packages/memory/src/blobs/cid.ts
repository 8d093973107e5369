/**
 * CIDs of blobs and chunks: CIDv1 over sha2-256. A chunk is `raw` (0x55) over its bytes; a blob
 * is `dag-cbor` (0x71) over its manifest, which lists the chunk CIDs — so the blob CID
 * authenticates every chunk, and each chunk can be verified on its own as it arrives.
 * @module
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidCidError } from '../errors.js'

/** Multicodec `raw`. */
export const RAW_CODE = 0x55
/** Multicodec `dag-cbor`. */
export const DAG_CBOR_CODE = 0x71
/** Multihash `sha2-256`. */
export const SHA256_CODE = 0x12

/**
 * sha2-256 of bytes (native).
 *
 * @example
 * ```ts
 * sha256(new Uint8Array()).length // 32
 * ```
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(bytes).digest()
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength)
}

/**
 * The CID of a chunk's bytes (CIDv1, raw, sha2-256).
 *
 * @example
 * ```ts
 * chunkCid(new TextEncoder().encode('hello')).toString() // 'bafkrei…'
 * ```
 */
export function chunkCid(bytes: Uint8Array): CID {
  return CID.createV1(RAW_CODE, Digest.create(SHA256_CODE, sha256(bytes)))
}

/**
 * The CID of a manifest's bytes — a blob's CID (CIDv1, dag-cbor, sha2-256).
 *
 * @example
 * ```ts
 * manifestCid(memory.blobs.manifestBytes(cid)!).equals(cid) // true
 * ```
 */
export function manifestCid(bytes: Uint8Array): CID {
  return CID.createV1(DAG_CBOR_CODE, Digest.create(SHA256_CODE, sha256(bytes)))
}

/**
 * True when `bytes` hash to `cid`'s sha2-256 digest.
 *
 * @example
 * ```ts
 * verifies(chunkCid(bytes), bytes) // true
 * ```
 */
export function verifies(cid: CID, bytes: Uint8Array): boolean {
  return Buffer.from(sha256(bytes)).equals(cid.multihash.digest)
}

/**
 * Parse and check a CID of the given kind: a string (any multibase), bytes, or a CID (of this
 * or another multiformats copy). Accepts only CIDv1 with a 32-byte sha2-256 multihash.
 *
 * @throws {InvalidCidError} for anything else
 * @example
 * ```ts
 * const cid = parseCid('bafyrei…', 'blob')
 * ```
 */
export function parseCid(input: unknown, kind: 'blob' | 'chunk'): CID {
  let cid: CID | null
  try {
    if (typeof input === 'string') {
      if (input.length === 0 || input.length > 256) throw new Error('length out of range')
      cid = CID.parse(input)
    } else if (input instanceof Uint8Array) {
      if (input.byteLength > 128) throw new Error('too long')
      cid = CID.decode(input)
    } else {
      cid = CID.asCID(input)
    }
  } catch (cause) {
    throw new InvalidCidError(`not a CID: ${describe(input)} (${(cause as Error)?.message ?? cause})`, { cause })
  }
  if (cid === null) throw new InvalidCidError(`not a CID: ${describe(input)}`)
  const code = kind === 'blob' ? DAG_CBOR_CODE : RAW_CODE
  if (cid.version !== 1) throw new InvalidCidError(`${cid}: only CIDv1 is accepted`)
  if (cid.code !== code) {
    throw new InvalidCidError(
      `${cid}: a ${kind} CID must use codec 0x${code.toString(16)}, this one uses 0x${cid.code.toString(16)}`,
    )
  }
  if (cid.multihash.code !== SHA256_CODE || cid.multihash.size !== 32) {
    throw new InvalidCidError(`${cid}: only sha2-256 multihashes are accepted`)
  }
  return cid
}

function describe(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input.slice(0, 80))
  if (input instanceof Uint8Array) return `${input.byteLength} bytes`
  return input === null ? 'null' : typeof input
}

export { CID }
