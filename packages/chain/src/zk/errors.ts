/**
 * Errors of `@vain/chain/zk`. Each class's `name` says what happened; tests and callers switch on
 * `instanceof` or `.name`. The zk entry keeps its own small base class so importing it does not load
 * the contract ABIs that `@vain/chain`'s root errors decode.
 * @module
 */

/** Base class of every error `@vain/chain/zk` throws on purpose. */
export class ZkError extends Error {
  static override name = 'ZkError'
  override name = 'ZkError'
  /** One line saying what went wrong, without the cause. */
  readonly shortMessage: string
  constructor(shortMessage: string, options: { cause?: unknown } = {}) {
    super(shortMessage, options.cause === undefined ? undefined : { cause: options.cause })
    this.shortMessage = shortMessage
  }
}

/** A proof or its public signals are not well-formed JSON of the expected shape (zod-checked). */
export class MalformedProofError extends ZkError {
  static override name = 'MalformedProofError'
  override name = 'MalformedProofError'
}

/** A well-formed Groth16 proof that does not verify against the verification key. */
export class InvalidProofError extends ZkError {
  static override name = 'InvalidProofError'
  override name = 'InvalidProofError'
}

/**
 * The proof's public signals are not the ones the verifier expects (another update's commitment,
 * another job/round/sender/chunk binding, a looser norm bound than the job's).
 */
export class PublicSignalsMismatchError extends ZkError {
  static override name = 'PublicSignalsMismatchError'
  override name = 'PublicSignalsMismatchError'
  /** Which public signal differs: `bound`, `commitment` or `binding`. */
  readonly signal: 'bound' | 'commitment' | 'binding'
  constructor(signal: 'bound' | 'commitment' | 'binding', shortMessage: string) {
    super(shortMessage)
    this.signal = signal
  }
}

/**
 * The values cannot be proven: out of the supported range, the wrong count, a norm over the bound
 * (the circuit's witness generation fails, so no proof exists).
 */
export class InvalidWitnessError extends ZkError {
  static override name = 'InvalidWitnessError'
  override name = 'InvalidWitnessError'
}

/** A circuit artefact (wasm, zkey, verification key) is missing or does not match its recorded hash. */
export class ZkArtifactError extends ZkError {
  static override name = 'ZkArtifactError'
  override name = 'ZkArtifactError'
}

/** The prover was closed ({@link UpdateProver.close}) and cannot prove any more. */
export class ProverClosedError extends ZkError {
  static override name = 'ProverClosedError'
  override name = 'ProverClosedError'
}
