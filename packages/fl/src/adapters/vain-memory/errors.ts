/**
 * Errors of the `@vain/memory` model store.
 * @module
 */

/** A model address that is not a `@vain/memory` blob CID in its canonical (base32) form. */
export class InvalidModelAddressError extends Error {
  static override name = 'InvalidModelAddressError'
  override name = 'InvalidModelAddressError'
  readonly address: string
  constructor(address: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.address = address
  }
}

/** No peer could provide a model: none had it, or what they sent did not verify. */
export class ModelNotFoundError extends Error {
  static override name = 'ModelNotFoundError'
  override name = 'ModelNotFoundError'
  /** The model's address (CID). */
  readonly address: string
  /** Peers that sent data not matching its address (a manifest or a chunk). */
  readonly badProviders: string[]
  constructor(address: string, message: string, badProviders: string[] = [], options?: ErrorOptions) {
    super(message, options)
    this.address = address
    this.badProviders = badProviders
  }
}

/**
 * A model is not of the size the caller expects (the job's architecture fixes a model's encoded
 * size): refused from its manifest, before any of its bytes is fetched.
 */
export class ModelSizeMismatchError extends Error {
  static override name = 'ModelSizeMismatchError'
  override name = 'ModelSizeMismatchError'
  readonly address: string
  /**
   * The size the model's manifest declares (bytes), or, when `atLeast`, a lower bound of it: a
   * manifest longer than any manifest of an `expectedBytes` model is refused from its length,
   * before it is decoded.
   */
  readonly size: number
  readonly expectedBytes: number
  readonly atLeast: boolean
  constructor(address: string, size: number, expectedBytes: number, options: { atLeast?: boolean } = {}) {
    const atLeast = options.atLeast === true
    super(`model ${address} is ${atLeast ? 'at least ' : ''}${size} bytes, expected ${expectedBytes}`)
    this.address = address
    this.size = size
    this.expectedBytes = expectedBytes
    this.atLeast = atLeast
  }
}
