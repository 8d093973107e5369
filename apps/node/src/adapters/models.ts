/**
 * Content-addressed model storage on @vain/memory: a model is a chunked blob (CIDv1 over its
 * dag-cbor manifest) in the node's LMDB store (`<dataDir>/memory`), pinned under `model`, and a
 * durable index maps the model's address — the sha2-256 hex of its encoded bytes — to that CID
 * (the two differ: a blob CID hashes the manifest, not the bytes).
 *
 * A model that is not here is fetched from peers: they are asked which CID they hold for the
 * hash (`/vain/model-cid/1.0.0`, providers hint first, then connected peers), and the blob is
 * fetched with @vain/memory's blob sharing — manifest and 1 MiB chunks over
 * `/vain/memory/{manifest,chunk}/1.0.0`, in parallel from every peer that has it, each chunk
 * verified against its CID, a peer serving bad chunks dropped. The assembled bytes must hash to
 * the requested address, or the CID is discarded (a peer lied about the mapping) and the next
 * one tried.
 */
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import type { ModelStore } from '@vain/fl'
import {
  type BlobNetwork,
  type BlobSharing,
  type CID,
  createBlobSharing,
  createMemory,
  type Memory,
  type Namespace,
  parseCid,
} from '@vain/memory'
import { vainNetBlobNetwork } from '@vain/memory/vain-net'
import { defineRequestProtocol, type VainNode } from '@vain/net'
import { z } from 'zod'

const HASH_RE = /^[0-9a-f]{64}$/
const hash = z.string().regex(HASH_RE)
/** Pin label of models in the blob store. */
const MODEL_PIN = 'model'
/** Namespace of the sha256-hex → CID index. */
const INDEX_NAMESPACE = 'model-cids'
/** Peers asked at once which CID they hold for a hash. */
const RESOLVE_BATCH = 4

/** Which blob (CID) a peer holds for a model hash; `null` when it has none. */
export const MODEL_CID_PROTOCOL = defineRequestProtocol({
  id: '/vain/model-cid/1.0.0',
  request: z.strictObject({ hash }),
  response: z.strictObject({ cid: z.string().min(1).max(256).nullable() }),
  maxRequestBytes: 1024,
  maxResponseBytes: 1024,
  timeoutMs: 10_000,
})

/** Thrown when no peer could provide a model (none had it, or what they sent did not verify). */
export class ModelNotFoundError extends Error {
  static override name = 'ModelNotFoundError'
  override name = 'ModelNotFoundError'
  /** The model hash asked for. */
  readonly hash: string
  /** Peers that sent data not matching its hash (a chunk, or a blob under a wrong CID). */
  readonly badProviders: string[]

  constructor(hash: string, message: string, badProviders: string[] = [], options?: ErrorOptions) {
    super(message, options)
    this.hash = hash
    this.badProviders = badProviders
  }
}

/** Options of {@link memoryModelStore}. */
export interface MemoryModelStoreOptions {
  /** Directory of the LMDB store (created if missing), e.g. `<dataDir>/memory`. */
  path: string
  /** Import `<legacyDir>/<sha256>` model files (the earlier on-disk layout) at open. */
  legacyDir?: string
  /** Chunk size of new model blobs (default 1 MiB). */
  chunkBytes?: number
  /** Deadline of one manifest/chunk/CID request (ms). Default 30 000. */
  requestTimeoutMs?: number
  /** How long a fetch also looks for providers in the DHT (ms). Default 5 000. */
  discoveryTimeoutMs?: number
  /** Wrap the blob network port (tests: a provider that lies). */
  network?: (network: BlobNetwork) => BlobNetwork
}

/** A {@link ModelStore} on @vain/memory that serves and fetches models over the network. */
export interface MemoryModelStore extends ModelStore {
  /** Whether the model is stored here completely (no network). */
  has(hash: string): Promise<boolean>
  /** The blob CID of a model stored here. */
  cidOf(hash: string): string | undefined
  readonly memory: Memory
  readonly sharing: BlobSharing
  /** Stop serving and close the store (the node itself stays up). */
  close(): Promise<void>
}

function sha256Hex(parts: Iterable<Uint8Array>): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

/**
 * Open the model store in `options.path`, serve its models to peers and start blob sharing.
 *
 * @example
 * ```ts
 * const models = await memoryModelStore(node, { path: join(dataDir, 'memory') })
 * const hash = await models.put(encodeModel(model))
 * const bytes = await models.get(hash, { providers: [peer] }) // local, or fetched and verified
 * await models.close()
 * ```
 */
export async function memoryModelStore(node: VainNode, options: MemoryModelStoreOptions): Promise<MemoryModelStore> {
  const memory = createMemory({
    path: options.path,
    ...(options.chunkBytes !== undefined ? { blobs: { chunkBytes: options.chunkBytes } } : {}),
  })
  await memory.start()
  const blobs = memory.blobs
  const index: Namespace = memory.namespace(INDEX_NAMESPACE)
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000
  const base = vainNetBlobNetwork(node, { timeoutMs: requestTimeoutMs })
  const sharing = createBlobSharing({
    memory,
    network: options.network?.(base) ?? base,
    requestTimeoutMs,
    discoveryTimeoutMs: options.discoveryTimeoutMs ?? 5_000,
    // models are pulled by whoever needs them; nobody pushes replicas to this node
    acceptReplicas: false,
    repairIntervalMs: 0,
  })

  const cidOf = (h: string): string | undefined => {
    const v = HASH_RE.test(h) ? index.get(h) : undefined
    return v === undefined ? undefined : new TextDecoder().decode(v)
  }
  const storedCid = (h: string): string | undefined => {
    const cid = cidOf(h)
    return cid !== undefined && blobs.has(cid) ? cid : undefined
  }
  /** The bytes of a complete local blob if they hash to `h`. */
  const readVerified = async (cid: CID | string, h: string): Promise<Uint8Array | undefined> => {
    const bytes = await blobs.getBytes(cid)
    return sha256Hex([bytes]) === h ? bytes : undefined
  }
  const remember = async (h: string, cid: CID | string) => {
    await blobs.pin(cid, MODEL_PIN)
    if (cidOf(h) !== cid.toString()) await index.put(h, new TextEncoder().encode(cid.toString()))
  }

  const put = async (bytes: Uint8Array): Promise<string> => {
    const h = sha256Hex([bytes])
    if (storedCid(h) !== undefined) return h
    const { cid } = await blobs.put(bytes, { pin: MODEL_PIN })
    await remember(h, cid) // the blob first: the index never names a blob that is not stored
    return h
  }

  try {
    if (options.legacyDir !== undefined) {
      const names = await readdir(options.legacyDir).catch(() => [] as string[])
      for (const name of names) {
        if (!HASH_RE.test(name) || storedCid(name) !== undefined) continue
        const bytes = new Uint8Array(await readFile(join(options.legacyDir, name)))
        if (sha256Hex([bytes]) === name) await put(bytes)
      }
    }
    await node.handle(MODEL_CID_PROTOCOL, (req) => ({ cid: storedCid(req.hash) ?? null }))
    await sharing.start()
  } catch (err) {
    await node.unhandle(MODEL_CID_PROTOCOL).catch(() => {})
    await memory.stop()
    throw err
  }

  /** Ask `peers` (in parallel) which CID they hold for `h`: CID → the peers that named it. */
  const resolve = async (h: string, peers: string[], signal: AbortSignal | undefined) => {
    const answers = await Promise.all(
      peers.map(async (peer) => {
        try {
          const callSignal = AbortSignal.any([
            AbortSignal.timeout(Math.min(requestTimeoutMs, 10_000)),
            ...(signal === undefined ? [] : [signal]),
          ])
          const { cid } = await node.request(
            peerIdFromString(peer),
            MODEL_CID_PROTOCOL,
            { hash: h },
            { signal: callSignal },
          )
          return { peer, cid: cid === null ? undefined : parseCid(cid, 'blob').toString() }
        } catch (err) {
          return { peer, cid: undefined, error: (err as Error)?.name ?? String(err) }
        }
      }),
    )
    return answers
  }

  let closed = false
  return {
    memory,
    sharing,
    put,
    cidOf: (h) => storedCid(h),
    has: async (h) => storedCid(h) !== undefined,
    get: async (h, opts = {}) => {
      const signal = opts.signal
      if (!HASH_RE.test(h)) throw new ModelNotFoundError(h, `not a model hash: ${JSON.stringify(h.slice(0, 80))}`)
      const local = storedCid(h)
      if (local !== undefined) {
        try {
          const bytes = await readVerified(local, h)
          if (bytes !== undefined) return bytes
          await index.delete(h) // the index named the wrong blob: forget it, fetch again
          await blobs.unpin(local, MODEL_PIN)
        } catch {
          // a chunk failed its check on read (it was dropped): fetch it again below
        }
      }
      const self = node.peerId.toString()
      const candidates = [...new Set([...(opts.providers ?? []), ...node.authenticatedPeers().map(String)])].filter(
        (p) => p !== self,
      )
      const badProviders: string[] = []
      const notes: string[] = []
      /** CIDs whose blob turned out not to hash to `h`: never tried again. */
      const wrong = new Set<string>()
      /** CID → the peers that named it (in the order they were asked). */
      const holders = new Map<string, string[]>()
      const known = cidOf(h)
      if (known !== undefined) holders.set(known, [])

      const attempt = async (cid: string, peers: string[]): Promise<Uint8Array | undefined> => {
        try {
          const report = await sharing.fetch(cid, { providers: peers, ...(signal !== undefined ? { signal } : {}) })
          for (const p of report.badProviders) if (!badProviders.includes(p)) badProviders.push(p)
        } catch (err) {
          signal?.throwIfAborted()
          const bad = (err as { badProviders?: unknown }).badProviders
          if (Array.isArray(bad)) for (const p of bad) if (!badProviders.includes(p)) badProviders.push(p)
          notes.push(`${cid.slice(-8)}: ${(err as Error)?.name ?? err}`)
          return undefined
        }
        const bytes = await readVerified(cid, h)
        if (bytes !== undefined) {
          await remember(h, cid)
          return bytes
        }
        // a peer named a blob that is not this model: it stays unpinned (collectable)
        wrong.add(cid)
        if (cidOf(h) === cid) await index.delete(h)
        for (const p of peers) if (!badProviders.includes(p)) badProviders.push(p)
        notes.push(`${cid.slice(-8)} is not model ${h.slice(0, 12)}…`)
        return undefined
      }

      for (let i = 0; i === 0 || i < candidates.length; i += RESOLVE_BATCH) {
        signal?.throwIfAborted()
        const batch = candidates.slice(i, i + RESOLVE_BATCH)
        const fresh = new Set<string>()
        for (const answer of await resolve(h, batch, signal)) {
          if (answer.cid === undefined) {
            if (answer.error !== undefined) notes.push(`${answer.peer.slice(-6)}: ${answer.error}`)
            continue
          }
          if (wrong.has(answer.cid)) {
            if (!badProviders.includes(answer.peer)) badProviders.push(answer.peer)
            continue
          }
          const peers = holders.get(answer.cid) ?? []
          peers.push(answer.peer)
          holders.set(answer.cid, peers)
          fresh.add(answer.cid)
        }
        if (i === 0 && known !== undefined) fresh.add(known)
        for (const cid of fresh) {
          const bytes = await attempt(cid, holders.get(cid) ?? [])
          if (bytes !== undefined) return bytes
        }
      }
      signal?.throwIfAborted()
      const why =
        notes.length > 0 ? notes.slice(0, 4).join('; ') : candidates.length > 0 ? 'no peer has it' : 'no peers'
      throw new ModelNotFoundError(
        h,
        `no peer provided model ${h.slice(0, 12)}… (${candidates.length} peer(s) asked: ${why})`,
        badProviders,
      )
    },
    close: async () => {
      if (closed) return
      closed = true
      await sharing.stop()
      if (node.isStarted) await node.unhandle(MODEL_CID_PROTOCOL).catch(() => {})
      await memory.stop()
    },
  }
}
