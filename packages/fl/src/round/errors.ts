/**
 * Errors of the round protocol: named, and safe to report to the remote peer (`expose`).
 * @module
 */

/** Errors of the round protocol (named; `reason` goes to `rejected` events). */
export class RoundProtocolError extends Error {
  static override name = 'RoundProtocolError'
  override name = 'RoundProtocolError'
  /** Safe to report to the remote peer (name and message), e.g. over @vain/net protocols. */
  readonly expose = true
}
export class InvalidJobError extends RoundProtocolError {
  static override name = 'InvalidJobError'
  override name = 'InvalidJobError'
}
export class ForgedMessageError extends RoundProtocolError {
  static override name = 'ForgedMessageError'
  override name = 'ForgedMessageError'
}
export class StaleUpdateError extends RoundProtocolError {
  static override name = 'StaleUpdateError'
  override name = 'StaleUpdateError'
}
export class RejectedUpdateError extends RoundProtocolError {
  static override name = 'RejectedUpdateError'
  override name = 'RejectedUpdateError'
}
/** A message that is not what its kind requires (undecodable, wrong fields, too large). */
export class InvalidMessageError extends RoundProtocolError {
  static override name = 'InvalidMessageError'
  override name = 'InvalidMessageError'
}
/** A job requires proven updates and this update carries none (or not as many as it needs). */
export class MissingUpdateProofError extends RejectedUpdateError {
  static override name = 'MissingUpdateProofError'
  override name = 'MissingUpdateProofError'
}
/** An update's proofs do not verify, are about other values, or bound a norm over the job's. */
export class InvalidUpdateProofError extends RejectedUpdateError {
  static override name = 'InvalidUpdateProofError'
  override name = 'InvalidUpdateProofError'
}
