/**
 * The round protocol's eligibility policy: a node may take a role when it is **staked** (at
 * least the tier-1 minimum) **and its tier is at least the tier the role requires**. The check
 * itself is pure ({@link checkEligibility}) so it can be tested and reused off chain; a policy
 * bound to a chain ({@link chainEligibility}) reads the node's standing first. A refusal carries
 * a typed error ({@link StakeTooLowError} or {@link TierTooLowError}) whose message says what is
 * missing. A role is a key of a role→tier map ({@link RoleTiers}, by default
 * {@link DEFAULT_ROLE_TIERS}); a role the map does not name throws {@link UnknownRoleError}.
 *
 * @example
 * ```ts
 * import { chainEligibility } from '@vain/chain'
 *
 * const eligible = chainEligibility(vain)
 * const verdict = await eligible(peerAddress, 'aggregator')
 * if (!verdict.eligible) console.log(verdict.error.message)
 * // node 0x… is tier 2 but needs tier 3 or higher (aggregator needs 10000 VAIN staked and reputation 1000; it has 1000 VAIN and 120)
 * ```
 * @module
 */
import { type Address, formatEther, getAddress, isAddress } from 'viem'
import type { NodeStanding, VainClient } from './client.js'
import {
  InvalidInputError,
  PeerAddressMismatchError,
  StakeTooLowError,
  TierTooLowError,
  UnknownRoleError,
} from './errors.js'

/**
 * The tier each role requires, by role name. `@vain/chain` has no list of roles of its own (the
 * node's roles are `@vain/net`'s `NodeRole`): a role is a key of this map, and a role the map
 * does not name is refused with {@link UnknownRoleError}.
 *
 * @example
 * ```ts
 * const tiers: RoleTiers = { light: 1, trainer: 1, aggregator: 3, validator: 3 }
 * checkEligibility(standing, 'trainer', tiers)
 * ```
 */
export type RoleTiers = Readonly<Record<string, 1 | 2 | 3>>

/**
 * Tier each role requires by default: tier 1 light nodes, tier 2 trainers, tier 3 aggregators/validators.
 *
 * @example
 * ```ts
 * DEFAULT_ROLE_TIERS.aggregator // 3
 * ```
 */
export const DEFAULT_ROLE_TIERS: RoleTiers = {
  light: 1,
  trainer: 2,
  aggregator: 3,
  validator: 3,
}

/**
 * The tier each role requires: {@link DEFAULT_ROLE_TIERS} with `overrides` (e.g. from a config
 * file; a role the defaults do not name is added). Throws {@link InvalidInputError} for a tier
 * other than 1, 2 or 3.
 *
 * @example
 * ```ts
 * roleTiersWith({ aggregator: 2 }) // { light: 1, trainer: 2, aggregator: 2, validator: 3 }
 * ```
 */
export function roleTiersWith(overrides: Readonly<Record<string, number | undefined>> = {}): Record<string, 1 | 2 | 3> {
  const tiers: Record<string, 1 | 2 | 3> = { ...DEFAULT_ROLE_TIERS }
  for (const [role, tier] of Object.entries(overrides)) {
    if (tier === undefined) continue
    if (tier !== 1 && tier !== 2 && tier !== 3) {
      throw new InvalidInputError(`the ${role} role cannot require tier ${tier} (tiers are 1, 2 and 3)`)
    }
    tiers[role] = tier
  }
  return tiers
}

/** The verdict of {@link checkEligibility}. */
export type Eligibility =
  | { eligible: true; role: string; tier: number; required: number }
  | { eligible: false; role: string; tier: number; required: number; error: StakeTooLowError | TierTooLowError }

/** What {@link checkEligibility} needs of a standing (a {@link NodeStanding} has it all). */
export type StandingForEligibility = Pick<
  NodeStanding,
  'address' | 'staked' | 'tier' | 'minStake' | 'minReputation' | 'reputation'
>

/**
 * "Staked and tier >= required for the role." Pure: decides from a standing already read. Throws
 * {@link UnknownRoleError} when `roleTiers` does not name `role`.
 *
 * @example
 * ```ts
 * const verdict = checkEligibility(await vain.standing(address), 'trainer')
 * ```
 */
export function checkEligibility(
  standing: StandingForEligibility,
  role: string,
  roleTiers: RoleTiers = DEFAULT_ROLE_TIERS,
): Eligibility {
  const required = requiredTier(role, roleTiers)
  const { address, staked, tier } = standing
  if (staked < standing.minStake[0]) {
    return {
      eligible: false,
      role,
      tier,
      required,
      error: new StakeTooLowError(address, staked, standing.minStake[0], {
        details: `the ${role} role needs a stake (tier ${required}: ${needs(standing, required)})`,
      }),
    }
  }
  if (tier < required) {
    return {
      eligible: false,
      role,
      tier,
      required,
      error: new TierTooLowError(address, tier, required, {
        details: `${role} needs ${needs(standing, required)}; it has ${formatEther(standing.staked)} VAIN and reputation ${standing.reputation}`,
      }),
    }
  }
  return { eligible: true, role, tier, required }
}

/**
 * Like {@link checkEligibility}, but throws the refusal's error (or {@link UnknownRoleError}).
 *
 * @example
 * ```ts
 * assertEligible(await vain.standing(address), 'aggregator') // throws TierTooLowError when below tier 3
 * ```
 */
export function assertEligible(
  standing: StandingForEligibility,
  role: string,
  roleTiers: RoleTiers = DEFAULT_ROLE_TIERS,
): void {
  const verdict = checkEligibility(standing, role, roleTiers)
  if (!verdict.eligible) throw verdict.error
}

/**
 * An eligibility policy that reads each node's standing from chain (retrying while the chain is
 * unreachable, per the client's retry options). Rejects with {@link UnknownRoleError}, without reading
 * the chain, when `roleTiers` does not name the role.
 *
 * @example
 * ```ts
 * const verdict = await chainEligibility(vain)(address, 'trainer')
 * ```
 */
export function chainEligibility(
  vain: Pick<VainClient, 'standing'>,
  roleTiers: RoleTiers = DEFAULT_ROLE_TIERS,
): (node: Address, role: string) => Promise<Eligibility> {
  return async (node, role) => {
    requiredTier(role, roleTiers) // an unknown role fails before reading the chain
    return checkEligibility(await vain.standing(node), role, roleTiers)
  }
}

/**
 * The cross-check of a peer's claimed chain address (the `chainAddress` of its signed handshake
 * descriptor, hostile input) against the address the NodeRegistry binds to its peer id: a
 * {@link PeerAddressMismatchError} when the peer claims an address (well-formed or not) and the
 * registry binds its peer id to another one, `undefined` when they agree or the peer claims none
 * (the registry's binding, proven by the peer's key, decides). A peer that is not registered is
 * refused as such elsewhere.
 *
 * @example
 * ```ts
 * const mismatch = checkClaimedAddress(peerId, node.descriptor(peer)?.chainAddress, await vain.registry.nodeOf(peerId))
 * if (mismatch !== undefined) console.log(mismatch.message) // peer 16Uiu2… claims chain address 0x…, but the NodeRegistry binds it to 0x…
 * ```
 */
export function checkClaimedAddress(
  peerId: string,
  claimed: string | undefined,
  registered: Address | undefined,
): PeerAddressMismatchError | undefined {
  if (claimed === undefined || registered === undefined) return undefined
  const shown = claimed.length > 42 ? `${claimed.slice(0, 42)}…` : claimed
  if (!isAddress(claimed, { strict: false })) return new PeerAddressMismatchError(peerId, shown, registered)
  return getAddress(claimed) === getAddress(registered)
    ? undefined
    : new PeerAddressMismatchError(peerId, shown, getAddress(registered))
}

/** The tier `role` requires in `roleTiers`; {@link UnknownRoleError} when it is not named there. */
function requiredTier(role: string, roleTiers: RoleTiers): 1 | 2 | 3 {
  if (!Object.hasOwn(roleTiers, role)) throw new UnknownRoleError(role, Object.keys(roleTiers))
  return roleTiers[role] as 1 | 2 | 3
}

function needs(s: StandingForEligibility, tier: number): string {
  const i = Math.min(Math.max(tier, 1), 3) - 1
  return `${formatEther(s.minStake[i]!)} VAIN staked and reputation ${s.minReputation[i]}`
}
