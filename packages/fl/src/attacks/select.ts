/** Choosing attackers and applying an attack to one round. @module */
import { ConfigError } from '../errors.js'
import { createRng } from '../random.js'
import type { Attack } from './attacks.js'

/**
 * The attackers among `numClients` clients: `⌊fraction·numClients⌋` indices drawn by a seeded
 * permutation, ascending. Same arguments → same attackers.
 *
 * @example
 * ```ts
 * import { selectAttackers } from '@vain/fl'
 * selectAttackers(10, 0.3, 1) // three indices in 0..9
 * ```
 */
export function selectAttackers(numClients: number, fraction: number, seed: number): number[] {
  if (!(Number.isInteger(numClients) && numClients >= 0))
    throw new ConfigError(`numClients must be an integer >= 0, got ${numClients}`)
  if (!(fraction >= 0 && fraction <= 1)) throw new ConfigError(`attacker fraction must be in [0, 1], got ${fraction}`)
  const count = Math.floor(fraction * numClients + 1e-9)
  return Array.from(createRng(seed).permutation(numClients).subarray(0, count)).sort((a, b) => a - b)
}

/** Options of {@link applyAttack}: which clients attack. */
export type AttackerChoice = { attackers: readonly number[] } | { fraction: number; seed: number }

/**
 * Applies a model-poisoning attack to one round's updates (attack-free if it has no
 * `poisonUpdates`): returns the updates as the server receives them and the attackers' indices.
 *
 * @example
 * ```ts
 * import { applyAttack, signFlip } from '@vain/fl'
 * const { updates, attackers } = applyAttack(signFlip(), deltas, { fraction: 0.2, seed: round })
 * ```
 */
export function applyAttack(
  attack: Attack,
  updates: readonly Float32Array[],
  choice: AttackerChoice,
): { updates: Float32Array[]; attackers: number[] } {
  const attackers =
    'attackers' in choice
      ? [...choice.attackers].sort((a, b) => a - b)
      : selectAttackers(updates.length, choice.fraction, choice.seed)
  const out =
    attack.poisonUpdates === undefined || attackers.length === 0
      ? [...updates]
      : attack.poisonUpdates(updates, attackers)
  return { updates: out, attackers }
}
