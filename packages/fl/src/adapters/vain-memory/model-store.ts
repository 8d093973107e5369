/**
 * The round's {@link ModelStore} on `@vain/memory`: a model is a content-addressed, chunked blob
 * and its address is the blob's CID (CIDv1 over the blob's dag-cbor manifest, which lists the
 * chunks' CIDs), so bytes read back are verified against the address chunk by chunk.
 *
 * A model that is not stored here is fetched through `@vain/memory`'s blob sharing: the manifest
 * first (from the providers the caller names, then connected peers, then the DHT), checked
 * against the CID and against the size the caller expects — a model of another size is refused
 * before one chunk is fetched, and a manifest longer than any of a model that size is not even
 * decoded — then the chunks, in parallel from every peer that has it, each
 * verified; a peer serving bad data is dropped.
 * @module
 */
import {
  type BlobSharing,
  type CID,
  decodeManifest,
  type Manifest,
  type Memory,
  MIN_CHUNK_BYTES,
  manifestCid,
  parseCid,
} from '@vain/memory'
import type { ModelStore, SignalOptions } from '../../round/ports.js'
import { InvalidModelAddressError, ModelNotFoundError, ModelSizeMismatchError } from './errors.js'

/** Options of {@link memoryModelStore}. */
export interface MemoryModelStoreOptions {
  /**
   * Blob sharing (started) through which models not stored here are fetched from peers, e.g.
   * `createBlobSharing({ memory, network: vainNetBlobNetwork(node) })`. Without it, `get` reads
   * only models stored here.
   */
  sharing?: BlobSharing
  /** Pin label that keeps models from garbage collection. Default `model`. */
  pin?: string
  /** Deadline of one manifest request (ms). Default 10 000. */
  requestTimeoutMs?: number
  /** How long to look for providers in the DHT when no peer asked has a model (ms). Default 5 000. */
  discoveryTimeoutMs?: number
}

/** Options of {@link MemoryModelStore.get}. */
export type ModelGetOptions = SignalOptions & { providers?: string[]; expectedBytes?: number }

/** A {@link ModelStore} on `@vain/memory`; addresses are blob CIDs (`bafyrei…`). */
export interface MemoryModelStore extends ModelStore {
  readonly memory: Memory
  readonly sharing: BlobSharing | undefined
  /** Store a model (pinned); resolves to its CID. */
  put(bytes: Uint8Array): Promise<string>
  /**
   * The model's bytes, verified against `address`: local, or fetched from peers.
   *
   * @throws {InvalidModelAddressError} when `address` is not a canonical blob CID
   * @throws {ModelSizeMismatchError} when `expectedBytes` is given and the model is of another size
   * @throws {ModelNotFoundError} when no peer provided it (`badProviders`: peers that lied)
   */
  get(address: string, options?: ModelGetOptions): Promise<Uint8Array>
  /** Whether the model is stored here completely (no network). */
  has(address: string): boolean
  /** Models stored here (complete and pinned as models). */
  list(): Array<{ address: string; size: number }>
}

/** Peers asked at once for a manifest. */
const MANIFEST_FANOUT = 8

const MISBEHAVIOUR = new Set(['CorruptedChunkError', 'CidMismatchError', 'InvalidManifestError', 'ProtocolError'])

/** The CID of a model address; only the canonical string form is an address (one model, one address). */
function cidOf(address: string): CID {
  if (typeof address !== 'string') throw new InvalidModelAddressError(String(address), 'a model address is a string')
  let cid: CID
  try {
    cid = parseCid(address, 'blob')
  } catch (cause) {
    throw new InvalidModelAddressError(address, `not a model address (a blob CID): ${address.slice(0, 80)}`, { cause })
  }
  if (cid.toString() !== address) {
    throw new InvalidModelAddressError(address, `not the canonical form of a blob CID (that is ${cid.toString()})`)
  }
  return cid
}

/** Encoded bytes of a manifest's fields but its chunk links (map, keys, integers, list header): at most. */
const MANIFEST_FIELDS_BYTES = 64
/** Encoded bytes of one chunk link (tag 42, a byte string of 0x00 + a 36-byte raw sha2-256 CIDv1). */
const MANIFEST_LINK_BYTES = 41

/**
 * The longest manifest a blob of `bytes` bytes can have (its chunks are at least
 * `MIN_CHUNK_BYTES`): a longer one is refused from its length, before it is decoded.
 */
export function maxManifestBytes(bytes: number): number {
  return MANIFEST_FIELDS_BYTES + MANIFEST_LINK_BYTES * Math.ceil(bytes / MIN_CHUNK_BYTES)
}

/** A lower bound of the size of a blob whose manifest is `manifestBytes` long. */
function minBlobBytes(manifestBytes: number): number {
  const chunks = Math.ceil((manifestBytes - MANIFEST_FIELDS_BYTES) / MANIFEST_LINK_BYTES)
  return Math.max(0, (chunks - 1) * MIN_CHUNK_BYTES + 1)
}

function checkSize(address: string, manifest: Manifest, expectedBytes: number | undefined): void {
  if (expectedBytes !== undefined && manifest.size !== expectedBytes) {
    throw new ModelSizeMismatchError(address, manifest.size, expectedBytes)
  }
}

const withTimeout = (signal: AbortSignal | undefined, ms: number) =>
  signal === undefined ? AbortSignal.timeout(ms) : AbortSignal.any([signal, AbortSignal.timeout(ms)])

/**
 * A model store on a started `@vain/memory` store, fetching from peers through `sharing`.
 *
 * @example
 * ```ts
 * import { createBlobSharing, createMemory } from '@vain/memory'
 * import { vainNetBlobNetwork } from '@vain/memory/vain-net'
 * import { memoryModelStore } from '@vain/fl/vain-memory'
 *
 * const memory = createMemory({ path: './data/memory' })
 * await memory.start()
 * const sharing = createBlobSharing({ memory, network: vainNetBlobNetwork(node) })
 * await sharing.start()
 * const models = memoryModelStore(memory, { sharing })
 * const cid = await models.put(encodeModel(model)) // 'bafyrei…'
 * const bytes = await models.get(cid, { providers: [peer], expectedBytes }) // local, or fetched and verified
 * ```
 */
export function memoryModelStore(memory: Memory, options: MemoryModelStoreOptions = {}): MemoryModelStore {
  const pin = options.pin ?? 'model'
  const sharing = options.sharing
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000
  const discoveryTimeoutMs = options.discoveryTimeoutMs ?? 5_000

  const pinned = async (cid: CID) => {
    if (!memory.blobs.pins(cid).includes(pin)) await memory.blobs.pin(cid, pin)
  }

  /** The bytes of a model stored here, or undefined when a chunk is missing or failed its check. */
  const readLocal = async (
    cid: CID,
    signal: AbortSignal | undefined,
    maxBytes: number | undefined,
  ): Promise<Uint8Array | undefined> => {
    try {
      const bytes = await memory.blobs.getBytes(cid, {
        ...(signal === undefined ? {} : { signal }),
        ...(maxBytes === undefined ? {} : { maxBytes }),
      })
      await pinned(cid)
      return bytes
    } catch (err) {
      const name = (err as Error)?.name
      // a chunk that failed its check on read was dropped: fetch it again
      if (name === 'CorruptedChunkError' || name === 'BlobIncompleteError') return undefined
      throw err
    }
  }

  /**
   * Find the manifest of `cid` on peers: `hint` first, then connected peers, then DHT providers,
   * a few at a time. Verified against the CID; returns it with the peers that have it.
   */
  const findManifest = async (
    sharing: BlobSharing,
    cid: CID,
    hint: string[],
    signal: AbortSignal | undefined,
    bad: Set<string>,
    notes: string[],
    maxBytes: number | undefined,
  ): Promise<{ bytes: Uint8Array; manifest: Manifest; holders: string[] } | { tooLong: number } | undefined> => {
    const network = sharing.network
    const address = cid.toString()
    const asked = new Set<string>([network.self])
    const holders: string[] = []
    let found: Uint8Array | undefined
    let tooLong: number | undefined
    const ask = async (peers: string[]) => {
      const fresh = peers.filter((p) => !asked.has(p))
      for (const p of fresh) asked.add(p)
      await Promise.all(
        fresh.map(async (peer) => {
          try {
            const bytes = await network.fetchManifest(peer, cid, { signal: withTimeout(signal, requestTimeoutMs) })
            if (bytes === undefined) return
            if (manifestCid(bytes).toString() !== address) {
              bad.add(peer)
              notes.push(`${peer.slice(-6)}: a manifest that is not ${address.slice(-8)}`)
              return
            }
            if (maxBytes !== undefined && bytes.byteLength > maxBytes) {
              // it is the model's manifest, too long for the size the caller expects: not decoded
              tooLong ??= bytes.byteLength
              return
            }
            holders.push(peer)
            found ??= bytes
          } catch (err) {
            signal?.throwIfAborted()
            const name = (err as Error)?.name ?? 'Error'
            if (MISBEHAVIOUR.has(name)) bad.add(peer)
            notes.push(`${peer.slice(-6)}: ${name}`)
          }
        }),
      )
    }
    const candidates = [...hint, ...network.peers()]
    for (let i = 0; i < candidates.length && found === undefined && tooLong === undefined; i += MANIFEST_FANOUT) {
      await ask(candidates.slice(i, i + MANIFEST_FANOUT))
    }
    if (found === undefined && tooLong === undefined) {
      try {
        for await (const peer of network.findProviders(cid, { signal: withTimeout(signal, discoveryTimeoutMs) })) {
          await ask([peer])
          if (found !== undefined || tooLong !== undefined) break
        }
      } catch {
        // no routing, or the deadline
      }
    }
    signal?.throwIfAborted()
    if (found === undefined) return tooLong === undefined ? undefined : { tooLong }
    let manifest: Manifest
    try {
      manifest = decodeManifest(found)
    } catch (cause) {
      // it hashes to the CID: the address names something that is not a blob manifest
      throw new ModelNotFoundError(cid.toString(), `${cid} is not a model blob`, [], { cause })
    }
    return { bytes: found, manifest, holders }
  }

  return {
    memory,
    sharing,

    put: async (bytes) => {
      const { cid } = await memory.blobs.put(bytes, { pin })
      return cid.toString()
    },

    has: (address) => {
      try {
        return memory.blobs.has(cidOf(address))
      } catch {
        return false
      }
    },

    list: () =>
      memory.blobs
        .list()
        .filter((b) => b.complete && b.pins.includes(pin))
        .map((b) => ({ address: b.cid.toString(), size: b.size })),

    get: async (address, opts = {}) => {
      const cid = cidOf(address)
      const { signal, expectedBytes } = opts
      signal?.throwIfAborted()
      const blobs = memory.blobs
      if (blobs.has(cid)) {
        checkSize(address, blobs.manifest(cid) as Manifest, expectedBytes)
        const bytes = await readLocal(cid, signal, expectedBytes)
        if (bytes !== undefined) return bytes
      }
      if (sharing === undefined) {
        throw new ModelNotFoundError(address, `model ${address} is not stored here (and there is no blob sharing)`)
      }
      const self = sharing.network.self
      const hint = [...new Set(opts.providers ?? [])].filter((p) => typeof p === 'string' && p !== self)
      const bad = new Set<string>()
      const notes: string[] = []
      let providers = hint
      // 1. the manifest: kept from an interrupted fetch, or from a peer (nothing else is fetched
      //    before the size it declares was checked)
      const partial = blobs.manifest(cid)
      if (partial !== undefined) checkSize(address, partial, expectedBytes)
      if (partial === undefined || hint.length === 0) {
        const found = await findManifest(
          sharing,
          cid,
          hint,
          signal,
          bad,
          notes,
          expectedBytes === undefined ? undefined : maxManifestBytes(expectedBytes),
        )
        if (found !== undefined && 'tooLong' in found) {
          throw new ModelSizeMismatchError(address, minBlobBytes(found.tooLong), expectedBytes as number, {
            atLeast: true,
          })
        }
        if (found === undefined) {
          const why = notes.length > 0 ? notes.slice(0, 4).join('; ') : 'no peer has it'
          throw new ModelNotFoundError(address, `no peer provided model ${address} (${why})`, [...bad])
        }
        checkSize(address, found.manifest, expectedBytes)
        if (partial === undefined) {
          const release = await blobs.lease()
          try {
            await blobs.importManifest(cid, found.bytes)
          } finally {
            release()
          }
        }
        providers = [...new Set([...hint, ...found.holders])]
      }
      // 2. the chunks, verified, from every provider (and those the DHT names)
      try {
        const report = await sharing.fetch(cid, { providers, ...(signal === undefined ? {} : { signal }) })
        for (const p of report.badProviders) bad.add(p)
      } catch (err) {
        signal?.throwIfAborted()
        const named = (err as { badProviders?: unknown }).badProviders
        if (Array.isArray(named)) for (const p of named) if (typeof p === 'string') bad.add(p)
        throw new ModelNotFoundError(
          address,
          `no peer provided model ${address}: ${(err as Error)?.message ?? err}`,
          [...bad],
          { cause: err },
        )
      }
      const bytes = await readLocal(cid, signal, expectedBytes)
      if (bytes === undefined) {
        throw new ModelNotFoundError(address, `model ${address} failed its check after the fetch`, [...bad])
      }
      return bytes
    },
  }
}
