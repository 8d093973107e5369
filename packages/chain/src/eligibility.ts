/**
 * The round protocol's eligibility policy: a node may take a role when it is **staked** (at
 * least the tier-1 minimum) **and its tier is at least the tier the role requires**. The check
 * itself is pure ({@link checkEligibility}) so it can be tested and reused off chain; a policy
 * bound to a chain ({@link chainEligibility}) reads the node's standing first. A refusal carries
 * a typed error ({@link StakeTooLowError} or {@link TierTooLowError}) whose message says what is
 * missing.
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
import { type Address, formatEther } from 'viem'
import type { NodeStanding, VainClient } from './client.js'
import { StakeTooLowError, TierTooLowError } from './errors.js'

/**
 * Roles in a federated round (DESIGN.md "Three tiers"). The one definition the chain layer and
 * the node use (`@vain/net` keeps its own list for the handshake descriptor, which @vain/chain's
 * types must not depend on).
 *
 * @example
 * ```ts
 * const role: NodeRole = 'aggregator'
 * ```
 */
export type NodeRole = 'light' | 'trainer' | 'aggregator' | 'validator'

/**
 * Every {@link NodeRole}, lowest tier first.
 *
 * @example
 * ```ts
 * for (const role of NODE_ROLES) console.log(role, checkEligibility(standing, role).eligible)
 * ```
 */
export const NODE_ROLES: readonly NodeRole[] = ['light', 'trainer', 'aggregator', 'validator']

/**
 * Tier each role requires by default: tier 1 light nodes, tier 2 trainers, tier 3 aggregators/validators.
 *
 * @example
 * ```ts
 * DEFAULT_ROLE_TIERS.aggregator // 3
 * ```
 */
export const DEFAULT_ROLE_TIERS: Readonly<Record<NodeRole, 1 | 2 | 3>> = {
  light: 1,
  trainer: 2,
  aggregator: 3,
  validator: 3,
}

/**
 * The tier each role requires: {@link DEFAULT_ROLE_TIERS} with `overrides` (e.g. from a config file).
 *
 * @example
 * ```ts
 * roleTiersWith({ aggregator: 2 }) // { light: 1, trainer: 2, aggregator: 2, validator: 3 }
 * ```
 */
export function roleTiersWith(overrides: Partial<Record<NodeRole, number | undefined>> = {}): Record<NodeRole, number> {
  const tiers: Record<NodeRole, number> = { ...DEFAULT_ROLE_TIERS }
  for (const role of NODE_ROLES) {
    const tier = overrides[role]
    if (tier !== undefined) tiers[role] = tier
  }
  return tiers
}

/** The verdict of {@link checkEligibility}. */
export type Eligibility =
  | { eligible: true; role: NodeRole; tier: number; required: number }
  | { eligible: false; role: NodeRole; tier: number; required: number; error: StakeTooLowError | TierTooLowError }

/** What {@link checkEligibility} needs of a standing (a {@link NodeStanding} has it all). */
export type StandingForEligibility = Pick<
  NodeStanding,
  'address' | 'staked' | 'tier' | 'minStake' | 'minReputation' | 'reputation'
>

/**
 * "Staked and tier >= required for the role." Pure: decides from a standing already read.
 *
 * @example
 * ```ts
 * const verdict = checkEligibility(await vain.standing(address), 'trainer')
 * ```
 */
export function checkEligibility(
  standing: StandingForEligibility,
  role: NodeRole,
  roleTiers: Readonly<Record<NodeRole, number>> = DEFAULT_ROLE_TIERS,
): Eligibility {
  const required = roleTiers[role]
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
 * Like {@link checkEligibility}, but throws the refusal's error.
 *
 * @example
 * ```ts
 * assertEligible(await vain.standing(address), 'aggregator') // throws TierTooLowError when below tier 3
 * ```
 */
export function assertEligible(
  standing: StandingForEligibility,
  role: NodeRole,
  roleTiers: Readonly<Record<NodeRole, number>> = DEFAULT_ROLE_TIERS,
): void {
  const verdict = checkEligibility(standing, role, roleTiers)
  if (!verdict.eligible) throw verdict.error
}

/**
 * An eligibility policy that reads each node's standing from chain (retrying while the chain is
 * unreachable, per the client's retry options).
 *
 * @example
 * ```ts
 * const verdict = await chainEligibility(vain)(address, 'trainer')
 * ```
 */
export function chainEligibility(
  vain: Pick<VainClient, 'standing'>,
  roleTiers: Readonly<Record<NodeRole, number>> = DEFAULT_ROLE_TIERS,
): (node: Address, role: NodeRole) => Promise<Eligibility> {
  return async (node, role) => checkEligibility(await vain.standing(node), role, roleTiers)
}

function needs(s: StandingForEligibility, tier: number): string {
  const i = Math.min(Math.max(tier, 1), 3) - 1
  return `${formatEther(s.minStake[i]!)} VAIN staked and reputation ${s.minReputation[i]}`
}
