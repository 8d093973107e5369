/**
 * Eligibility read from chain: the round protocol's policy becomes "staked and tier >= the tier the
 * role requires" (@vain/chain's `checkEligibility`), with peer ids mapped to addresses through the
 * NodeRegistry and committee weights from stake. Reads are cached for a moment (every node asks
 * at every round start) and, while the chain is unreachable, the last standings read are used
 * and the outage is reported, so a round never waits on a dead endpoint for long.
 * @module
 */
import { checkEligibility, DEFAULT_ROLE_TIERS, type Eligibility, type NodeRole, type NodeStanding } from '@vain/chain'
import type { EligibilityPolicy, EligibleNode, JobAnnouncement } from '@vain/fl'
import { type Address, formatEther, getAddress } from 'viem'
import type { ChainConfig } from '../config.js'
import type { Logger } from '../logger.js'
import { isChainDown, type NodeChain } from './connect.js'

/** Tier each role needs: @vain/chain's defaults with the config's overrides. */
export function roleTiersOf(config: Pick<ChainConfig, 'roleTiers'>): Record<NodeRole, number> {
  return { ...DEFAULT_ROLE_TIERS, ...(config.roleTiers ?? {}) } as Record<NodeRole, number>
}

/** Why a peer cannot take a role: not registered, or the chain's verdict. */
export type PeerVerdict =
  | { peerId: string; role: NodeRole; address: Address; eligible: true; standing: NodeStanding }
  | { peerId: string; role: NodeRole; address: Address | undefined; eligible: false; reason: string }

/**
 * Peer id ↔ address through the NodeRegistry, and standings, cached briefly. The registry's
 * events (fed by the chain watcher) list every registered node for jobs without allow-lists.
 */
export class ChainDirectory {
  private readonly chain: NodeChain
  private readonly ttlMs: number
  private readonly addresses = new Map<string, { address: Address | undefined; at: number }>()
  private readonly standings = new Map<Address, { standing: NodeStanding; at: number }>()
  private readonly registry = new Map<Address, string>()
  private downUntil = 0

  constructor(chain: NodeChain, options: { ttlMs?: number } = {}) {
    this.chain = chain
    this.ttlMs = options.ttlMs ?? 2_000
  }

  /** Whether a recent read found the chain unreachable (reads use the cache meanwhile). */
  get chainDown(): boolean {
    return Date.now() < this.downUntil
  }

  private down(): void {
    this.downUntil = Date.now() + 5_000
  }

  /** The address bound to `peerId` in the NodeRegistry, or `undefined`. */
  async addressOf(peerId: string): Promise<Address | undefined> {
    const cached = this.addresses.get(peerId)
    const fresh = cached !== undefined && Date.now() - cached.at < (cached.address === undefined ? 2_000 : 60_000)
    if (cached !== undefined && (fresh || this.chainDown)) return cached.address
    try {
      const address = await this.chain.vain.registry.nodeOf(peerId)
      this.addresses.set(peerId, { address: address === undefined ? undefined : getAddress(address), at: Date.now() })
      return address === undefined ? undefined : getAddress(address)
    } catch (err) {
      if (isChainDown(err)) this.down()
      if (cached !== undefined && isChainDown(err)) return cached.address
      throw err
    }
  }

  /** The standing of `address` (stake, reputation, tier...), at most `ttlMs` old unless the chain is down. */
  async standing(address: Address): Promise<NodeStanding> {
    const cached = this.standings.get(address)
    if (cached !== undefined && (Date.now() - cached.at < this.ttlMs || this.chainDown)) return cached.standing
    try {
      const standing = await this.chain.vain.standing(address)
      this.standings.set(address, { standing, at: Date.now() })
      return standing
    } catch (err) {
      if (isChainDown(err)) this.down()
      if (cached !== undefined && isChainDown(err)) return cached.standing
      throw err
    }
  }

  /** Forget cached standings (after this node's own stake changed). */
  invalidate(address?: Address): void {
    if (address === undefined) this.standings.clear()
    else this.standings.delete(address)
  }

  /** Record a registry event (from the chain watcher). */
  noteRegistration(address: Address, peerId: string | undefined): void {
    const a = getAddress(address)
    const old = this.registry.get(a)
    if (old !== undefined) this.addresses.delete(old)
    if (peerId === undefined) this.registry.delete(a)
    else {
      this.registry.set(a, peerId)
      this.addresses.set(peerId, { address: a, at: Date.now() })
    }
  }

  /** Peer ids registered on chain, as far as the watcher has seen. */
  registeredPeers(): string[] {
    return [...this.registry.values()].sort()
  }

  /** Whether `peerId` may take `role`, read from chain. */
  async verdict(peerId: string, role: NodeRole, roleTiers: Record<NodeRole, number>): Promise<PeerVerdict> {
    const address = await this.addressOf(peerId)
    if (address === undefined) {
      return {
        peerId,
        role,
        address,
        eligible: false,
        reason: `peer ${peerId} is not registered on chain (no address bound to it in the NodeRegistry)`,
      }
    }
    const standing = await this.standing(address)
    const v: Eligibility = checkEligibility(standing, role, roleTiers)
    return v.eligible
      ? { peerId, role, address, eligible: true, standing }
      : { peerId, role, address, eligible: false, reason: v.error.message }
  }
}

/** Options of {@link chainEligibilityPolicy}. */
export interface ChainPolicyInit {
  directory: ChainDirectory
  log: Logger
  roleTiers: Record<NodeRole, number>
  /** This node's peer id: its own refusals are reported by the chain service, not here. */
  self: string
  /** Resolves once the registry's past events are known (for jobs without allow-lists). */
  synced?: () => Promise<void>
}

/**
 * The round protocol's eligibility from chain. Candidates for a committee are the job's signed
 * aggregator allow-list (or every registered node when the job has none) that are staked and of
 * the aggregator tier, weighted by stake (in VAIN); expected trainers likewise with the trainer
 * tier. Refused peers are logged once per reason.
 *
 * @example
 * ```ts
 * const policy = chainEligibilityPolicy({ directory, log, roleTiers: roleTiersOf(config.chain), self })
 * const participant = createParticipant({ transport, models, state, policy, runtime, roles })
 * ```
 */
export function chainEligibilityPolicy(init: ChainPolicyInit): EligibilityPolicy {
  const { directory, log, roleTiers } = init
  const reported = new Map<string, string>()
  let downReported = false

  async function eligible(peers: readonly string[], role: NodeRole): Promise<PeerVerdict[]> {
    const verdicts = await Promise.all(
      peers.map(async (peerId): Promise<PeerVerdict | undefined> => {
        try {
          return await directory.verdict(peerId, role, roleTiers)
        } catch (err) {
          if (isChainDown(err)) {
            if (!downReported) {
              downReported = true
              log.warn(`chain unreachable: cannot check who may be ${role}; retrying at the next round`, {
                error: (err as Error).name,
              })
            }
          } else log.warn(`cannot read the standing of ${peerId}`, { error: (err as Error).message })
          return undefined
        }
      }),
    )
    if (!directory.chainDown) downReported = false
    for (const v of verdicts) {
      if (v === undefined) continue
      const key = `${v.peerId}:${role}`
      const message = v.eligible ? '' : v.reason
      if (reported.get(key) !== message && v.peerId !== init.self) {
        if (!v.eligible) log.info(`peer …${v.peerId.slice(-6)} refused the ${role} role: ${v.reason.split('\n')[0]}`)
        else if (reported.has(key)) log.info(`peer …${v.peerId.slice(-6)} is now eligible as ${role}`)
      }
      reported.set(key, message)
    }
    return verdicts.filter((v): v is PeerVerdict => v !== undefined)
  }

  const stakeWeight = (standing: NodeStanding): number => Number(formatEther(standing.staked))

  return {
    async committeeCandidates(job: JobAnnouncement): Promise<EligibleNode[]> {
      const list = job.spec.participants?.aggregators
      if (list === undefined) await init.synced?.()
      const verdicts = await eligible(list ?? directory.registeredPeers(), 'aggregator')
      return verdicts.flatMap((v) => (v.eligible ? [{ peerId: v.peerId, weight: stakeWeight(v.standing) }] : []))
    },
    async expectedTrainers(job: JobAnnouncement): Promise<string[]> {
      const list = job.spec.participants?.trainers
      if (list === undefined) await init.synced?.()
      const verdicts = await eligible(list ?? directory.registeredPeers(), 'trainer')
      return verdicts.flatMap((v) => (v.eligible ? [v.peerId] : []))
    },
  }
}
