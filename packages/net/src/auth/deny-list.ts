/**
 * A deny list of peers with a time-to-live, exposed as a libp2p `ConnectionGater` so that
 * denied peers can neither dial us nor be dialled.
 * @module
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'

/** Options of {@link PeerDenyList}. */
export interface PeerDenyListInit {
  /** How long a peer stays denied when `deny()` gets no TTL. Default 10 minutes. */
  defaultTtlMs?: number
  /** Most entries kept; when full, the entry closest to expiry is dropped. Default 10,000. */
  maxEntries?: number
  /** Clock, ms since epoch. Default `Date.now`. */
  now?: () => number
}

/** One deny-list entry. */
export interface DenyEntry {
  /** The denied peer, as a string. */
  peerId: string
  /** Why the peer was denied. */
  reason: string
  /** When the entry expires, ms since epoch. */
  until: number
}

/**
 * Peers that failed the handshake, each denied until a deadline. Expired entries vanish
 * lazily (no timers), memory is bounded by `maxEntries`. Pass {@link PeerDenyList.gater} to
 * `createLibp2p({ connectionGater })` and the same list to the handshake service.
 *
 * @example
 * ```ts
 * import { createLibp2p } from 'libp2p'
 * import { PeerDenyList, handshake } from '@vain/net'
 *
 * const denyList = new PeerDenyList({ defaultTtlMs: 15 * 60_000 })
 * const node = await createLibp2p({
 *   connectionGater: denyList.gater(),
 *   services: { handshake: handshake({ denyList, descriptor: { softwareVersion: 'vain/0.1.0', roles: ['trainer'] } }) },
 * })
 * ```
 */
export class PeerDenyList {
  readonly #entries = new Map<string, DenyEntry>()
  readonly #defaultTtlMs: number
  readonly #maxEntries: number
  readonly #now: () => number

  constructor(init: PeerDenyListInit = {}) {
    this.#defaultTtlMs = init.defaultTtlMs ?? 10 * 60_000
    this.#maxEntries = Math.max(1, init.maxEntries ?? 10_000)
    this.#now = init.now ?? Date.now
  }

  /**
   * Deny `peer` for `ttlMs` (default `defaultTtlMs`). Denying again extends the deadline if it
   * is later and replaces the reason.
   *
   * @example
   * ```ts
   * denyList.deny(peerId, 'bad handshake signature', 60_000)
   * ```
   */
  deny(peer: PeerId | string, reason: string, ttlMs: number = this.#defaultTtlMs): DenyEntry {
    const peerId = peer.toString()
    const now = this.#now()
    const previous = this.#live(peerId, now)
    const until = Math.max(now + Math.max(0, ttlMs), previous?.until ?? 0)
    const entry: DenyEntry = { peerId, reason, until }
    this.#entries.delete(peerId)
    this.#entries.set(peerId, entry)
    this.#evict(now)
    return { ...entry }
  }

  /**
   * Remove `peer` from the list. Returns `true` if it was denied.
   *
   * @example
   * ```ts
   * denyList.allow(peerId)
   * ```
   */
  allow(peer: PeerId | string): boolean {
    const key = peer.toString()
    const wasDenied = this.#live(key, this.#now()) !== undefined
    this.#entries.delete(key)
    return wasDenied
  }

  /**
   * Whether `peer` is denied now.
   *
   * @example
   * ```ts
   * if (denyList.isDenied(peerId)) return
   * ```
   */
  isDenied(peer: PeerId | string): boolean {
    return this.#live(peer.toString(), this.#now()) !== undefined
  }

  /**
   * The live entry for `peer`, or `undefined`.
   *
   * @example
   * ```ts
   * console.log(denyList.get(peerId)?.reason)
   * ```
   */
  get(peer: PeerId | string): DenyEntry | undefined {
    const entry = this.#live(peer.toString(), this.#now())
    return entry === undefined ? undefined : { ...entry }
  }

  /**
   * All live entries.
   *
   * @example
   * ```ts
   * for (const e of denyList.entries()) console.log(e.peerId, e.reason)
   * ```
   */
  entries(): DenyEntry[] {
    const now = this.#now()
    this.#prune(now)
    return [...this.#entries.values()].map((e) => ({ ...e }))
  }

  /** Number of live entries. */
  get size(): number {
    this.#prune(this.#now())
    return this.#entries.size
  }

  /**
   * A libp2p `ConnectionGater` refusing denied peers: outgoing dials and incoming or outgoing
   * connections once the remote peer is known (after encryption). Hooks of `base` run too: a
   * connection is refused if either refuses.
   *
   * @example
   * ```ts
   * const node = await createLibp2p({ connectionGater: denyList.gater() })
   * ```
   */
  gater(base: ConnectionGater = {}): ConnectionGater {
    const denied = (peer: PeerId): boolean => this.isDenied(peer)
    return {
      ...base,
      denyDialPeer: async (peer) => denied(peer) || ((await base.denyDialPeer?.(peer)) ?? false),
      denyInboundEncryptedConnection: async (peer, conn) =>
        denied(peer) || ((await base.denyInboundEncryptedConnection?.(peer, conn)) ?? false),
      denyOutboundEncryptedConnection: async (peer, conn) =>
        denied(peer) || ((await base.denyOutboundEncryptedConnection?.(peer, conn)) ?? false),
      denyInboundUpgradedConnection: async (peer, conn) =>
        denied(peer) || ((await base.denyInboundUpgradedConnection?.(peer, conn)) ?? false),
      denyOutboundUpgradedConnection: async (peer, conn) =>
        denied(peer) || ((await base.denyOutboundUpgradedConnection?.(peer, conn)) ?? false),
      denyInboundRelayedConnection: async (relay, remote) =>
        denied(remote) || ((await base.denyInboundRelayedConnection?.(relay, remote)) ?? false),
      denyOutboundRelayedConnection: async (source, destination) =>
        denied(destination) || ((await base.denyOutboundRelayedConnection?.(source, destination)) ?? false),
    }
  }

  #live(key: string, now: number): DenyEntry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.until <= now) {
      this.#entries.delete(key)
      return undefined
    }
    return entry
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.until <= now) this.#entries.delete(key)
    }
  }

  #evict(now: number): void {
    if (this.#entries.size <= this.#maxEntries) return
    this.#prune(now)
    while (this.#entries.size > this.#maxEntries) {
      let victim: DenyEntry | undefined
      for (const entry of this.#entries.values()) {
        if (victim === undefined || entry.until < victim.until) victim = entry
      }
      if (victim === undefined) break
      this.#entries.delete(victim.peerId)
    }
  }
}
