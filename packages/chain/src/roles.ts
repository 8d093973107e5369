import { type Hex, keccak256, toBytes, zeroHash } from 'viem'

/**
 * The AccessControl roles of the vAIn contracts (keccak256 of the role's name, as in Solidity).
 *
 * @example
 * ```ts
 * import { VAIN_ROLES } from '@vain/chain'
 * await vain.contracts.staking.read.hasRole([VAIN_ROLES.SLASHER, vain.addresses.roundManager]) // true
 * ```
 */
export const VAIN_ROLES = {
  /** Manages the other roles. */
  DEFAULT_ADMIN: zeroHash,
  /** Staking: may slash stake (round manager, governance). */
  SLASHER: keccak256(toBytes('SLASHER_ROLE')),
  /** Staking, Reputation, RoundManager: may change parameters (governance; the deployer in dev mode). */
  GOVERNOR: keccak256(toBytes('GOVERNOR_ROLE')),
  /** Reputation: may raise or lower reputation (round manager). */
  UPDATER: keccak256(toBytes('UPDATER_ROLE')),
  /** RoundManager: may open rounds. */
  OPENER: keccak256(toBytes('OPENER_ROLE')),
} as const

/** A role's name (`SLASHER`...) from its hash, or the hash itself if it is not a vAIn role. */
export function roleName(role: Hex): string {
  for (const [name, hash] of Object.entries(VAIN_ROLES)) if (hash === role.toLowerCase()) return name
  return role
}
