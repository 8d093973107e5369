/**
 * @packageDocumentation
 *
 * `@vain/memory` — the memory of a vAIn node: a hybrid key/value store (a RAM tier, LRU by
 * bytes with per-entry TTL, over a crash-safe LMDB tier), versioned state snapshots with a
 * schema check on restore, a RAM byte budget shared by several stores, content-addressed
 * chunked blobs (CIDv1, sha2-256) with pins and garbage collection, and — through an injected
 * network port — fetching blobs by CID from any peer that provides them and keeping them
 * replicated on k peers.
 *
 * @example
 * ```ts
 * import { mkdtempSync, rmSync } from 'node:fs'
 * import { tmpdir } from 'node:os'
 * import { join } from 'node:path'
 * import { z } from 'zod'
 * import { createMemory } from '@vain/memory'
 *
 * const memory = createMemory({ path: mkdtempSync(join(tmpdir(), 'vain-memory-')) })
 * await memory.start()
 *
 * // key/value: RAM over disk, write-through, TTL in both tiers
 * const peers = memory.namespace('peers', { ttlMs: 60_000 })
 * await peers.put('12D3KooWA', new TextEncoder().encode('{"rtt":12}'))
 * console.log(new TextDecoder().decode(peers.get('12D3KooWA'))) // {"rtt":12}
 *
 * // versioned state with a schema check on restore
 * const Round = z.object({ round: z.number().int(), momentum: z.instanceof(Float32Array) })
 * const rounds = memory.state('rounds', { schema: Round, version: 1, history: 5 })
 * await rounds.save('job-1', { round: 3, momentum: new Float32Array([0.5, -1]) })
 * console.log(rounds.restore('job-1')?.value) // { round: 3, momentum: Float32Array(2) [ 0.5, -1 ] }
 *
 * // content-addressed blobs, verified chunk by chunk
 * const { cid, chunks } = await memory.blobs.put(new Uint8Array(3 * 1024 * 1024 + 1).fill(7))
 * const bytes = await memory.blobs.getBytes(cid)
 * console.log(cid.toString().startsWith('bafyrei'), chunks, bytes.byteLength) // true 4 3145729
 *
 * console.log(memory.stats().namespaces.peers?.ramHits) // 1
 * await memory.stop()
 * rmSync(memory.path, { recursive: true })
 * ```
 */
export * from './blobs/blob-store.js'
export { CID, chunkCid, manifestCid, parseCid } from './blobs/cid.js'
export type { Manifest } from './blobs/manifest.js'
export {
  decodeManifest,
  encodeManifest,
  MAX_CHUNK_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_DEPTH,
  MIN_CHUNK_BYTES,
} from './blobs/manifest.js'
export type { BlobSource } from './blobs/rechunk.js'
export * from './budget/memory-budget.js'
export type { Durability } from './disk/environment.js'
export { decodeRecord, encodeRecord } from './disk/record.js'
export * from './errors.js'
export { assertKey, assertNamespace, MAX_KEY_BYTES } from './keys.js'
export type { EvictionReason } from './ram/ram-tier.js'
export type { FetchOptions, FetchReport, ProviderReport } from './sharing/fetcher.js'
export type {
  BlobNetwork,
  BlobRequestHandlers,
  HoldState,
  NetworkCallOptions,
  ReplicateAnswer,
} from './sharing/port.js'
export * from './sharing/sharing.js'
export * from './state/state-store.js'
export * from './store/memory.js'
export type { NamespaceOptions, NamespaceStats, PutOptions, Tiers, WriteMode } from './store/namespace.js'
export { Namespace } from './store/namespace.js'
export type { ExportedEntry } from './store/namespace-export.js'
export { decodeNamespaceExport, encodeNamespaceExport } from './store/namespace-export.js'
