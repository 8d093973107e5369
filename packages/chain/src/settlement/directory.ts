/**
 * Peer id ↔ address through the NodeRegistry, and standings, cached briefly: every node asks at
 * every round start, and while the chain is unreachable the last values read are used.
 * @module
 */
import { type Address, getAddress } from 'viem'
import type { NodeStanding, VainClient } from '../client.js'
import { checkClaimedAddress, checkEligibility, type RoleTiers } from '../eligibility.js'
import type { PeerAddressMismatchError } from '../errors.js'
import { findUnavailable } from '../retry.js'

/**
 * Whether a peer may take a role: not registered, or the chain's verdict.
 *
 * @example
 * ```ts
 * const v: PeerVerdict = await directory.verdict(peerId, 'trainer', DEFAULT_ROLE_TIERS)
 * if (v.eligible) console.log(v.standing.tier)
 * ```
 */
export type PeerVerdict =
  | { peerId: string; role: string; address: Address; eligible: true; standing: NodeStanding }
  | {
      peerId: string
      role: string
      address: Address | undefined
      eligible: false
      reason: string
      /** Set when the peer's claimed chain address is not the one the registry binds to it. */
      error?: PeerAddressMismatchError
    }

/**
 * Peer ids, addresses and standings read from chain (see {@link createChainDirectory}).
 *
 * @example
 * ```ts
 * const address = await directory.addressOf('12D3KooW…') // undefined when not registered
 * ```
 */
export interface ChainDirectory {
  /** Whether a recent read found the chain unreachable (reads use the cache meanwhile). */
  readonly chainDown: boolean
  /** The address bound to `peerId` in the NodeRegistry, or `undefined`. */
  addressOf(peerId: string): Promise<Address | undefined>
  /** The standing of `address` (stake, reputation, tier...), at most `ttlMs` old unless the chain is down. */
  standing(address: Address): Promise<NodeStanding>
  /** Forgets cached standings (after a stake changed). */
  invalidate(address?: Address): void
  /** Records a registry event (from the chain watcher). */
  noteRegistration(address: Address, peerId: string | undefined): void
  /** Peer ids registered on chain, as far as the registry's events were seen. */
  registeredPeers(): string[]
  /** Whether `peerId` may take `role`, read from chain. */
  verdict(peerId: string, role: string, roleTiers: RoleTiers): Promise<PeerVerdict>
}

/**
 * Options of {@link createChainDirectory}.
 *
 * @example
 * ```ts
 * const options: ChainDirectoryOptions = { ttlMs: 2_000, claimedAddressOf: (p) => node.descriptor(peerIdFromString(p))?.chainAddress }
 * ```
 */
export interface ChainDirectoryOptions {
  /** How long a standing is kept (ms, default 2,000). */
  ttlMs?: number
  /**
   * The chain address a peer claims in its signed handshake descriptor (`undefined`: none, or not
   * connected). A peer whose claim differs from the registry's binding is refused as not
   * registered ({@link PeerAddressMismatchError}).
   */
  claimedAddressOf?: (peerId: string) => string | undefined
}

/**
 * A directory over `vain`: peer id → address (kept a minute, an unknown peer 2 s), standings
 * (kept `ttlMs`, default 2 s), and the registered peers as the registry's events tell. With
 * `claimedAddressOf`, a peer's verdict cross-checks the address it claims against the registry.
 *
 * @example
 * ```ts
 * const directory = createChainDirectory(vain)
 * const v = await directory.verdict(peerId, 'aggregator', DEFAULT_ROLE_TIERS)
 * if (!v.eligible) console.log(v.reason)
 * ```
 */
export function createChainDirectory(
  vain: Pick<VainClient, 'registry' | 'standing'>,
  options: ChainDirectoryOptions = {},
): ChainDirectory {
  const ttlMs = options.ttlMs ?? 2_000
  const addresses = new Map<string, { address: Address | undefined; at: number }>()
  const standings = new Map<Address, { standing: NodeStanding; at: number }>()
  const registry = new Map<Address, string>()
  let downUntil = 0
  const isDown = (): boolean => Date.now() < downUntil
  const noteFailure = (err: unknown): boolean => {
    const down = findUnavailable(err) !== undefined
    if (down) downUntil = Date.now() + 5_000
    return down
  }

  const directory: ChainDirectory = {
    get chainDown() {
      return isDown()
    },
    async addressOf(peerId) {
      const cached = addresses.get(peerId)
      const fresh = cached !== undefined && Date.now() - cached.at < (cached.address === undefined ? 2_000 : 60_000)
      if (cached !== undefined && (fresh || isDown())) return cached.address
      try {
        const found = await vain.registry.nodeOf(peerId)
        const address = found === undefined ? undefined : getAddress(found)
        addresses.set(peerId, { address, at: Date.now() })
        return address
      } catch (err) {
        if (noteFailure(err) && cached !== undefined) return cached.address
        throw err
      }
    },
    async standing(address) {
      const cached = standings.get(address)
      if (cached !== undefined && (Date.now() - cached.at < ttlMs || isDown())) return cached.standing
      try {
        const standing = await vain.standing(address)
        standings.set(address, { standing, at: Date.now() })
        return standing
      } catch (err) {
        if (noteFailure(err) && cached !== undefined) return cached.standing
        throw err
      }
    },
    invalidate(address) {
      if (address === undefined) standings.clear()
      else standings.delete(address)
    },
    noteRegistration(address, peerId) {
      const a = getAddress(address)
      const old = registry.get(a)
      if (old !== undefined) addresses.delete(old)
      if (peerId === undefined) registry.delete(a)
      else {
        registry.set(a, peerId)
        addresses.set(peerId, { address: a, at: Date.now() })
      }
    },
    registeredPeers() {
      return [...registry.values()].sort()
    },
    async verdict(peerId, role, roleTiers) {
      const address = await directory.addressOf(peerId)
      if (address === undefined) {
        return {
          peerId,
          role,
          address,
          eligible: false,
          reason: `peer ${peerId} is not registered on chain (no address bound to it in the NodeRegistry)`,
        }
      }
      let claimed: string | undefined
      try {
        claimed = options.claimedAddressOf?.(peerId)
      } catch {
        claimed = undefined
      }
      const mismatch = checkClaimedAddress(peerId, claimed, address)
      if (mismatch !== undefined) {
        return { peerId, role, address, eligible: false, reason: mismatch.message, error: mismatch }
      }
      const standing = await directory.standing(address)
      const v = checkEligibility(standing, role, roleTiers)
      return v.eligible
        ? { peerId, role, address, eligible: true, standing }
        : { peerId, role, address, eligible: false, reason: v.error.message }
    },
  }
  return directory
}
