/**
 * The network port of blob sharing: what the sharing layer needs from a network, and nothing
 * more. `@vain/net` provides it through {@link vainNetBlobNetwork}; tests and other transports
 * can implement it directly. The store never depends on it: sharing is an add-on.
 * @module
 */
import type { CID } from 'multiformats/cid'

/** Options of network calls. */
export interface NetworkCallOptions {
  signal?: AbortSignal
}

/** Whether a peer holds a blob. */
export interface HoldState {
  state: 'none' | 'partial' | 'complete'
  pinned: boolean
}

/** A peer's answer to a replication request. */
export interface ReplicateAnswer {
  accepted: boolean
  /** Why it refused (free text). */
  reason?: string
}

/** What this node answers when peers ask (the sharing layer implements these). */
export interface BlobRequestHandlers {
  /** Manifest bytes of a blob stored here (complete or partial), or undefined. */
  manifest(cid: CID, from: string): Uint8Array | undefined
  /** A verified chunk, or undefined when it is not stored here. */
  chunk(cid: CID, index: number, from: string): Uint8Array | undefined
  holds(cid: CID, from: string): HoldState
  /** Start fetching and pinning a replica (answer at once; completion shows in `holds`). */
  replicate(cid: CID, from: string): ReplicateAnswer
}

/**
 * A network for blob sharing. Peers are named by strings (libp2p peer id strings with
 * `@vain/net`).
 *
 * Errors: a call that fails in transport throws anything; a reply that is malformed throws an
 * error named `ProtocolError` (the provider is then treated as misbehaving); a peer that asks
 * to slow down throws an error named `RateLimitedError` with a numeric `retryAfterMs`.
 */
export interface BlobNetwork {
  /** This node's peer id. */
  readonly self: string
  /** Start answering peers' requests with `handlers`. */
  serve(handlers: BlobRequestHandlers): Promise<void>
  /** Stop answering. */
  unserve(): Promise<void>
  /** Announce that this node can serve `cid` (a DHT provider record). */
  provide(cid: CID, options?: NetworkCallOptions): Promise<void>
  /** Peers that announced `cid`. */
  findProviders(cid: CID, options?: NetworkCallOptions): AsyncIterable<string>
  /** The manifest bytes of `cid` from `peer`, or undefined when it does not have it. */
  fetchManifest(peer: string, cid: CID, options?: NetworkCallOptions): Promise<Uint8Array | undefined>
  /** Chunk `index` of `cid` from `peer`, or undefined when it does not have it. */
  fetchChunk(peer: string, cid: CID, index: number, options?: NetworkCallOptions): Promise<Uint8Array | undefined>
  /** Whether `peer` holds `cid`. */
  holds(peer: string, cid: CID, options?: NetworkCallOptions): Promise<HoldState>
  /** Ask `peer` to keep a pinned replica of `cid`. */
  requestReplica(peer: string, cid: CID, options?: NetworkCallOptions): Promise<ReplicateAnswer>
  /** Peers that could take replicas now (connected, authenticated). */
  peers(): string[]
}
