/**
 * Attack models for evaluating robust aggregation: sign flip, Gaussian noise, label flip (data
 * poisoning), "a little is enough" (Baruch et al. 2019) and inner-product manipulation (Xie et
 * al. 2019), applied to a configurable, seeded fraction of the clients.
 *
 * @example
 * ```ts
 * import { applyAttack, createAttack, median } from '@vain/fl'
 * const attack = createAttack({ name: 'inner-product', params: { epsilon: 0.1 } })
 * const { updates } = applyAttack(attack, honestDeltas, { fraction: 0.2, seed: 1 })
 * const aggregate = median().aggregate(updates)
 * ```
 * @module
 */
export {
  type Attack,
  alieZ,
  flipLabels,
  gaussianAttack,
  innerProductManipulation,
  labelFlip,
  littleIsEnough,
  signFlip,
} from './attacks.js'
export { type AttackerChoice, applyAttack, selectAttackers } from './select.js'
export { ATTACK_NAMES, type AttackName, type AttackSpec, createAttack } from './spec.js'
