/**
 * A long-lived update prover/verifier for a node: loads the artefacts once, holds snarkjs' bn128
 * worker threads while open, and releases them on {@link UpdateProver.close}.
 * @module
 */
import type { CircuitArtifacts } from './artifacts.js'
import type { UpdateValues } from './commitment.js'
import { ProverClosedError } from './errors.js'
import { acquireBn128, releaseBn128 } from './threads.js'
import {
  type ExpectedUpdate,
  type LoadedArtifacts,
  loadArtifacts,
  proveWith,
  type UpdateProof,
  type UpdateStatement,
  verifyWith,
} from './update.js'

/** Options of {@link createUpdateProver}. */
export interface UpdateProverInit {
  /** Artefacts to use instead of the committed ones. */
  artifacts?: CircuitArtifacts
}

/** A prover and verifier of update chunks; see {@link createUpdateProver}. */
export interface UpdateProver {
  /** Proves one chunk (see `proveUpdate`). Proofs run one at a time, in call order. */
  prove(values: UpdateValues, options: { bound: bigint | number; binding: bigint }): Promise<UpdateProof>
  /** Verifies one chunk proof (see `verifyUpdate`). */
  verify(proof: unknown, publicSignals: unknown, expected: ExpectedUpdate): Promise<UpdateStatement>
  /** Waits for work in progress, then releases the worker threads. Idempotent. */
  close(): Promise<void>
}

/**
 * Creates an update prover: the wasm, proving key and verification key are read once, and
 * snarkjs' bn128 worker threads (one per core) stay up until `close()`, so consecutive proofs do
 * not pay the threads' start-up. Several provers share the threads; the last `close()` ends them.
 *
 * @example
 * ```ts
 * import { createUpdateProver, updateBinding } from '@vain/chain/zk'
 *
 * const prover = await createUpdateProver()
 * try {
 *   const binding = updateBinding({ jobId, round: 1n, sender, valueCount: 256, chunkIndex: 0 })
 *   const { proof, publicSignals } = await prover.prove(values, { bound: 1_000_000n, binding })
 *   await prover.verify(proof, publicSignals, { bound: 1_000_000n, commitment: BigInt(publicSignals[1]), binding })
 * } finally {
 *   await prover.close()
 * }
 * ```
 */
export async function createUpdateProver(init: UpdateProverInit = {}): Promise<UpdateProver> {
  const loaded: LoadedArtifacts = loadArtifacts(init.artifacts)
  await acquireBn128()
  let closed = false
  let closing: Promise<void> | undefined
  // one proof at a time: a proof already uses every core through the worker threads
  let queue: Promise<unknown> = Promise.resolve()
  const run = <T>(fn: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new ProverClosedError('the update prover is closed'))
    const next = queue.then(fn, fn)
    queue = next.catch(() => undefined)
    return next
  }
  return {
    prove: (values, options) => run(() => proveWith(loaded, values, options)),
    verify: (proof, publicSignals, expected) => run(() => verifyWith(loaded.vkey, proof, publicSignals, expected)),
    close() {
      if (closing === undefined) {
        closed = true
        closing = queue.then(() => releaseBn128())
      }
      return closing
    },
  }
}
