/**
 * The update proofs of `circuits/update/update_norm.circom` as the federated round's proof system
 * (`@vain/fl`'s `UpdateProofSystem`, matched structurally so neither package imports the other):
 * give {@link zkUpdateProofSystem} to `createParticipant({ proofs })` and jobs with `spec.proofs`
 * are proven by trainers and checked by committee members.
 * @module
 */
import { bytesToBigInt, type Hex, keccak256, numberToBytes, stringToBytes } from 'viem'
import { proofChunkLeaf, updateProofDigest } from './challenge.js'
import { updateBinding, updateCommitment } from './commitment.js'
import { UPDATE_BOUND_LIMIT } from './constants.js'
import { MalformedProofError, ProverClosedError } from './errors.js'
import { createUpdateProver, type UpdateProver, type UpdateProverInit } from './prover.js'
import { type UpdateProof, type UpdateProofCalldata, updateProofCalldata } from './update.js'

/** Bytes of one proof on the wire: a, b, c and the three public signals, 11 × 32 bytes big-endian. */
export const UPDATE_PROOF_WIRE_BYTES = 11 * 32

/** What one proof is about (the fields of `@vain/fl`'s `UpdateProofStatement`). */
export interface RoundProofStatement {
  jobId: string
  round: number
  trainer: string
  valueCount: number
  chunkIndex: number
  values: Int8Array
}

/** A proof system for the round (structurally `@vain/fl`'s `UpdateProofSystem`), with `close()`. */
export interface ZkUpdateProofSystem {
  readonly proofBytes: number
  prove(statement: RoundProofStatement, bound: bigint): Promise<Uint8Array>
  verify(statement: RoundProofStatement, proof: Uint8Array): Promise<bigint>
  digest(payloadHash: string, proofs: readonly Uint8Array[]): string
  /** Loads the artefacts and starts the threads now (a lazy system; e.g. when a proven job is joined). */
  warm(): Promise<void>
  /** Ends the prover's threads (the node is stopping). */
  close(): Promise<void>
}

/**
 * The 20-byte sender a round proof is bound to for a trainer's peer id: the last 20 bytes of
 * `keccak256("vain.peer:" + peerId)` (every libp2p key type has one; a proof for one trainer
 * does not verify for another).
 */
export function peerBindingAddress(peerId: string): Hex {
  return `0x${keccak256(stringToBytes(`vain.peer:${peerId}`)).slice(-40)}` as Hex
}

/** The binding of a round statement (see `updateBinding`). */
export function roundProofBinding(s: Omit<RoundProofStatement, 'values'>): bigint {
  return updateBinding({
    jobId: (s.jobId.startsWith('0x') ? s.jobId : `0x${s.jobId}`) as Hex,
    round: BigInt(s.round),
    sender: peerBindingAddress(s.trainer),
    valueCount: s.valueCount,
    chunkIndex: s.chunkIndex,
  })
}

/** Encodes a proof's calldata as {@link UPDATE_PROOF_WIRE_BYTES} bytes. */
export function encodeProofWire(c: UpdateProofCalldata): Uint8Array {
  const words = [...c.a, c.b[0][0], c.b[0][1], c.b[1][0], c.b[1][1], ...c.c, ...c.input]
  const out = new Uint8Array(UPDATE_PROOF_WIRE_BYTES)
  words.forEach((w, i) => {
    out.set(numberToBytes(w, { size: 32 }), i * 32)
  })
  return out
}

/**
 * Decodes {@link encodeProofWire}'s bytes into calldata and the snarkjs proof.
 *
 * @throws {MalformedProofError} on a wrong size
 */
export function decodeProofWire(bytes: Uint8Array): { calldata: UpdateProofCalldata; proof: UpdateProof } {
  if (bytes.byteLength !== UPDATE_PROOF_WIRE_BYTES) {
    throw new MalformedProofError(`a proof is ${UPDATE_PROOF_WIRE_BYTES} bytes, got ${bytes.byteLength}`)
  }
  const w = Array.from({ length: 11 }, (_, i) => bytesToBigInt(bytes.subarray(i * 32, (i + 1) * 32)))
  const [a0, a1, b00, b01, b10, b11, c0, c1, i0, i1, i2] = w as [
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
    bigint,
  ]
  const s = (x: bigint): string => x.toString()
  return {
    calldata: {
      a: [a0, a1],
      b: [
        [b00, b01],
        [b10, b11],
      ],
      c: [c0, c1],
      input: [i0, i1, i2],
    },
    proof: {
      // snarkjs' form: projective, G2 coordinates in the other order than the verifier's calldata
      proof: {
        pi_a: [s(a0), s(a1), '1'],
        pi_b: [
          [s(b01), s(b00)],
          [s(b11), s(b10)],
          ['1', '0'],
        ],
        pi_c: [s(c0), s(c1), '1'],
        protocol: 'groth16',
        curve: 'bn128',
      },
      publicSignals: [s(i0), s(i1), s(i2)],
    },
  }
}

/**
 * The round's proof system over Groth16 proofs of `update_norm` (the committed artefacts): proves
 * and verifies with one long-lived prover (snarkjs threads released by `close()`), encodes proofs
 * in {@link UPDATE_PROOF_WIRE_BYTES} bytes, and digests an update's proofs exactly as
 * `ProofChallenges` does on chain (`updateProofDigest` of the chunk leaves).
 *
 * @example
 * ```ts
 * import { createParticipant } from '@vain/fl'
 * import { zkUpdateProofSystem } from '@vain/chain/zk'
 *
 * const proofs = await zkUpdateProofSystem()
 * const participant = createParticipant({ ...components, proofs })
 * // … jobs with `proofs: { normBound }` are proven and checked …
 * await proofs.close()
 * ```
 */
export async function zkUpdateProofSystem(
  init: UpdateProverInit & {
    prover?: UpdateProver
    /**
     * Load the artefacts and start the threads on the first proof or check, not now (a node that
     * may never meet a proven job pays nothing until it does).
     */
    lazy?: boolean
  } = {},
): Promise<ZkUpdateProofSystem> {
  let started: Promise<UpdateProver> | undefined =
    init.prover !== undefined ? Promise.resolve(init.prover) : init.lazy === true ? undefined : createUpdateProver(init)
  if (started !== undefined) await started
  const owned = init.prover === undefined
  let closed = false
  const proverOf = (): Promise<UpdateProver> => {
    if (closed) return Promise.reject(new ProverClosedError('the update proof system is closed'))
    started ??= createUpdateProver(init)
    return started
  }
  return {
    proofBytes: UPDATE_PROOF_WIRE_BYTES,
    async prove(statement, bound) {
      const prover = await proverOf()
      const binding = roundProofBinding(statement)
      const { proof, publicSignals } = await prover.prove(statement.values, { bound, binding })
      return encodeProofWire(updateProofCalldata(proof, publicSignals))
    },
    async verify(statement, bytes) {
      const { proof } = decodeProofWire(bytes)
      const prover = await proverOf()
      const binding = roundProofBinding(statement)
      // the commitment is the member's own, over the values it holds: the proof must be about them
      const commitment = await updateCommitment(statement.values, binding)
      const checked = await prover.verify(proof.proof, proof.publicSignals, {
        bound: UPDATE_BOUND_LIMIT - 1n,
        commitment,
        binding,
      })
      return checked.bound
    },
    digest(payloadHash, proofs) {
      const hash = (payloadHash.startsWith('0x') ? payloadHash : `0x${payloadHash}`) as Hex
      return updateProofDigest(
        hash,
        proofs.map((p, i) => proofChunkLeaf(i, decodeProofWire(p).calldata)),
      )
    },
    async warm() {
      await proverOf()
    },
    async close() {
      if (closed) return
      closed = true
      if (owned && started !== undefined) await (await started).close()
    },
  }
}
