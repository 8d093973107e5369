/**
 * Errors of the privacy module (secure aggregation, secret sharing, fixed-point encoding).
 *
 * @example
 * ```ts
 * import { runSecureAggregation, TooFewSurvivorsError } from '@vain/fl'
 * try { runSecureAggregation({ inputs, dropAfterUpload }) } catch (err) {
 *   if (err instanceof TooFewSurvivorsError) console.warn(err.stage, err.survivors, '<', err.threshold)
 * }
 * ```
 * @module
 */
import { VainFlError, type VainFlErrorOptions } from '../errors.js'

/**
 * Too few clients are left at some stage of secure aggregation (or too few shares were sent)
 * to reach the threshold `t`: the sum cannot be recovered, by design.
 */
export class TooFewSurvivorsError extends VainFlError {
  static override name = 'TooFewSurvivorsError'
  override name = 'TooFewSurvivorsError'
  /** Protocol stage that failed: `'keys'`, `'shares'`, `'masked-inputs'`, `'unmasking'`. */
  readonly stage: string
  readonly survivors: number
  readonly threshold: number
  constructor(stage: string, survivors: number, threshold: number, detail = '', options: VainFlErrorOptions = {}) {
    super(
      `secure aggregation stage '${stage}': ${survivors} left, threshold is ${threshold}${detail ? ` (${detail})` : ''}`,
      options,
    )
    this.stage = stage
    this.survivors = survivors
    this.threshold = threshold
  }
}

/** A secure-aggregation message is out of order, duplicated, from an unknown client, or does not decrypt. */
export class SecAggProtocolError extends VainFlError {
  static override name = 'SecAggProtocolError'
  override name = 'SecAggProtocolError'
}

/** A Shamir share is malformed (x out of range, duplicate x, y outside the field) or shares are inconsistent. */
export class InvalidShareError extends VainFlError {
  static override name = 'InvalidShareError'
  override name = 'InvalidShareError'
}

/** A value does not fit the fixed-point range secure aggregation sums in without wrapping around. */
export class FixedPointOverflowError extends VainFlError {
  static override name = 'FixedPointOverflowError'
  override name = 'FixedPointOverflowError'
}
