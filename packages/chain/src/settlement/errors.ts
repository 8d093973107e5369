import { type ChainErrorOptions, InvalidInputError } from '../errors.js'

/**
 * A model address that names no 32-byte sha2-256 digest: neither 64 lowercase hex characters
 * nor a CID whose multihash is sha2-256 (e.g. `bafkrei…`).
 *
 * @example
 * ```ts
 * try {
 *   modelHashOf('not-a-model')
 * } catch (err) {
 *   if (err instanceof InvalidModelAddressError) console.log(err.modelAddress, err.shortMessage)
 * }
 * ```
 */
export class InvalidModelAddressError extends InvalidInputError {
  static override name = 'InvalidModelAddressError'
  override name = 'InvalidModelAddressError'
  /** The address that was refused. */
  readonly modelAddress: string
  constructor(modelAddress: string, why: string, options: ChainErrorOptions = {}) {
    super(`model address ${JSON.stringify(modelAddress.slice(0, 80))} ${why}`, options)
    this.modelAddress = modelAddress
  }
}

/**
 * A settlement vote that is malformed or whose signature does not recover its claimed signer.
 * A node drops such a vote (it never counts towards a quorum, never serves as slashing evidence).
 *
 * @example
 * ```ts
 * const checked = await verifySettleVote(vote, domain).catch((err) => {
 *   if (err instanceof InvalidSettleVoteError) return undefined
 *   throw err
 * })
 * ```
 */
export class InvalidSettleVoteError extends InvalidInputError {
  static override name = 'InvalidSettleVoteError'
  override name = 'InvalidSettleVoteError'
}
