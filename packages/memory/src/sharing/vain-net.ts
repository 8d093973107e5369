/**
 * The {@link BlobNetwork} port on `@vain/net`: four typed request/response protocols over
 * libp2p streams (manifest, chunk, holds, replicate — CBOR envelopes validated with zod, chunk
 * bytes as CBOR byte strings), and DHT provider records through libp2p content routing
 * (kad-dht). Requests go through the node's handshake check, circuit breakers, rate limits and
 * connection pool like every other vAIn protocol.
 * @module
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { defineRequestProtocol, InvalidMessageError, type VainNode } from '@vain/net'
import { z } from 'zod'
import { type CID, parseCid } from '../blobs/cid.js'
import { MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES } from '../blobs/manifest.js'
import { InvalidCidError, ProtocolError } from '../errors.js'
import type { BlobNetwork, BlobRequestHandlers, HoldState, NetworkCallOptions, ReplicateAnswer } from './port.js'

const cidString = z.string().min(1).max(256)
const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected bytes')

/** Protocol ids used by {@link vainNetBlobNetwork}. */
export const BLOB_PROTOCOLS = {
  manifest: '/vain/memory/manifest/1.0.0',
  chunk: '/vain/memory/chunk/1.0.0',
  holds: '/vain/memory/holds/1.0.0',
  replicate: '/vain/memory/replicate/1.0.0',
} as const

/** Options of {@link vainNetBlobNetwork}. */
export interface VainNetBlobNetworkOptions {
  /** Default deadline of one request (ms) when the caller passes no signal. Default 30 000. */
  timeoutMs?: number
}

function protocols(timeoutMs: number) {
  return {
    manifest: defineRequestProtocol({
      id: BLOB_PROTOCOLS.manifest,
      request: z.object({ cid: cidString }).strict(),
      response: z.union([
        z.object({ found: z.literal(true), manifest: bytes.refine((b) => b.byteLength <= MAX_MANIFEST_BYTES) }),
        z.object({ found: z.literal(false) }),
      ]),
      maxRequestBytes: 1024,
      maxResponseBytes: MAX_MANIFEST_BYTES + 1024,
      timeoutMs,
    }),
    chunk: defineRequestProtocol({
      id: BLOB_PROTOCOLS.chunk,
      request: z.object({ cid: cidString, index: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict(),
      response: z.union([
        z.object({ found: z.literal(true), data: bytes.refine((b) => b.byteLength <= MAX_CHUNK_BYTES) }),
        z.object({ found: z.literal(false) }),
      ]),
      maxRequestBytes: 1024,
      maxResponseBytes: MAX_CHUNK_BYTES + 1024,
      timeoutMs,
    }),
    holds: defineRequestProtocol({
      id: BLOB_PROTOCOLS.holds,
      request: z.object({ cid: cidString }).strict(),
      response: z.object({ state: z.enum(['none', 'partial', 'complete']), pinned: z.boolean() }),
      maxRequestBytes: 1024,
      maxResponseBytes: 1024,
      timeoutMs,
    }),
    replicate: defineRequestProtocol({
      id: BLOB_PROTOCOLS.replicate,
      request: z.object({ cid: cidString }).strict(),
      response: z.object({ accepted: z.boolean(), reason: z.string().max(256).optional() }),
      maxRequestBytes: 1024,
      maxResponseBytes: 1024,
      timeoutMs,
    }),
  }
}

/** Turn a bad CID from a peer into the network's typed "invalid message" error. */
function remoteCid(input: string): CID {
  try {
    return parseCid(input, 'blob')
  } catch (err) {
    if (err instanceof InvalidCidError) throw new InvalidMessageError(err.message)
    throw err
  }
}

/** Malformed or oversized replies mean the provider misbehaves. */
function classify(err: unknown): unknown {
  const name = (err as Error)?.name
  if (name === 'InvalidMessageError' || name === 'MessageTooLargeError' || name === 'UnsupportedVersionError') {
    return new ProtocolError(`peer sent a bad reply: ${(err as Error).message}`, { cause: err })
  }
  return err
}

/**
 * A {@link BlobNetwork} over a started `@vain/net` node.
 *
 * @example
 * ```ts
 * import { createNode } from '@vain/net'
 * import { createBlobSharing, vainNetBlobNetwork } from '@vain/memory'
 * const node = await createNode({ profile: 'loopback' })
 * await node.start()
 * const sharing = createBlobSharing({ memory, network: vainNetBlobNetwork(node) })
 * await sharing.start()
 * ```
 */
export function vainNetBlobNetwork(node: VainNode, options: VainNetBlobNetworkOptions = {}): BlobNetwork {
  const p = protocols(options.timeoutMs ?? 30_000)
  const call = (o: NetworkCallOptions | undefined) => (o?.signal === undefined ? {} : { signal: o.signal })
  let served = false
  return {
    get self() {
      return node.peerId.toString()
    },

    async serve(handlers: BlobRequestHandlers): Promise<void> {
      await node.handle(p.manifest, (req, ctx) => {
        const manifest = handlers.manifest(remoteCid(req.cid), ctx.remotePeer.toString())
        return manifest === undefined ? { found: false as const } : { found: true as const, manifest }
      })
      await node.handle(p.chunk, (req, ctx) => {
        const data = handlers.chunk(remoteCid(req.cid), req.index, ctx.remotePeer.toString())
        return data === undefined ? { found: false as const } : { found: true as const, data }
      })
      await node.handle(p.holds, (req, ctx) => handlers.holds(remoteCid(req.cid), ctx.remotePeer.toString()))
      await node.handle(p.replicate, (req, ctx) => {
        const answer = handlers.replicate(remoteCid(req.cid), ctx.remotePeer.toString())
        return answer.reason === undefined ? { accepted: answer.accepted } : answer
      })
      served = true
    },

    async unserve(): Promise<void> {
      if (!served) return
      served = false
      if (!node.isStarted) return
      for (const protocol of Object.values(p)) await node.unhandle(protocol).catch(() => {})
    },

    async provide(cid: CID, o?: NetworkCallOptions): Promise<void> {
      if (node.libp2p.services.dht === undefined) return
      await node.libp2p.contentRouting.provide(cid, call(o))
    },

    async *findProviders(cid: CID, o?: NetworkCallOptions): AsyncIterable<string> {
      if (node.libp2p.services.dht === undefined) return
      for await (const provider of node.libp2p.contentRouting.findProviders(cid, call(o))) {
        if (provider.multiaddrs.length > 0) {
          // remember the addresses the DHT gave so the node can dial the provider
          await node.libp2p.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => {})
        }
        yield provider.id.toString()
      }
    },

    async fetchManifest(peer: string, cid: CID, o?: NetworkCallOptions): Promise<Uint8Array | undefined> {
      try {
        const res = await node.request(peerIdFromString(peer), p.manifest, { cid: cid.toString() }, call(o))
        return res.found ? res.manifest : undefined
      } catch (err) {
        throw classify(err)
      }
    },

    async fetchChunk(peer: string, cid: CID, index: number, o?: NetworkCallOptions): Promise<Uint8Array | undefined> {
      try {
        const res = await node.request(peerIdFromString(peer), p.chunk, { cid: cid.toString(), index }, call(o))
        return res.found ? res.data : undefined
      } catch (err) {
        throw classify(err)
      }
    },

    async holds(peer: string, cid: CID, o?: NetworkCallOptions): Promise<HoldState> {
      try {
        return await node.request(peerIdFromString(peer), p.holds, { cid: cid.toString() }, call(o))
      } catch (err) {
        throw classify(err)
      }
    },

    async requestReplica(peer: string, cid: CID, o?: NetworkCallOptions): Promise<ReplicateAnswer> {
      try {
        const res = await node.request(peerIdFromString(peer), p.replicate, { cid: cid.toString() }, call(o))
        return res.reason === undefined ? { accepted: res.accepted } : { accepted: res.accepted, reason: res.reason }
      } catch (err) {
        throw classify(err)
      }
    },

    peers(): string[] {
      return node.authenticatedPeers().map((peer) => peer.toString())
    },
  }
}
