/**
 * Errors specific to server strategies.
 *
 * @example
 * ```ts
 * import { fedAdam, StrategyStateError } from '@vain/fl'
 * try { fedAdam().setState(savedByFedYogi) } catch (err) {
 *   if (err instanceof StrategyStateError) console.warn(err.message)
 * }
 * ```
 * @module
 */
import { VainFlError } from '../errors.js'

/** `setState` was given state saved by a different strategy, or with buffers of the wrong length. */
export class StrategyStateError extends VainFlError {
  static override name = 'StrategyStateError'
  override name = 'StrategyStateError'
}
