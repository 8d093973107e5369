/**
 * Proven updates (`spec.proofs`): a trainer proves, for each block of {@link PROOF_CHUNK_VALUES}
 * int8 values of its encoded update, that the block's squared norm is at most a public bound and
 * that the proof is about exactly those values (a commitment bound to job, round, trainer, length
 * and block). The proofs travel at the end of the update's payload (covered by its signed hash);
 * committee members check them before the update counts, and the digest of the proofs goes into
 * the round's contributions (and so into a settlement leaf, where anyone can challenge it).
 *
 * The proof system is a port ({@link UpdateProofSystem}): `@vain/chain/zk` provides Groth16 proofs
 * of `circuits/update/update_norm.circom` (`zkUpdateProofSystem`). Norm accounting: block `i` has
 * scale `s_i` and proven bound `b_i ≥ Σ q²`, so the dequantized update's squared norm is at most
 * `Σ s_i² · b_i`, which must be at most `normBound²` — the proofs reveal each block's squared
 * norm of integers, never the values.
 * @module
 */
import { readQuantizedUpdate } from '../codecs/index.js'
import { InvalidUpdateProofError, MissingUpdateProofError, type RoundProtocolError } from './errors.js'
import { type JobSpec, PROOF_CHUNK_VALUES } from './spec.js'

/** What one proof of an update block is about. */
export interface UpdateProofStatement {
  /** The job (sha2-256 hex). */
  jobId: string
  round: number
  /** The trainer's peer id (the signer of the update). */
  trainer: string
  /** Quantized values in the whole update (its length when dense, its count when sparse). */
  valueCount: number
  /** Which block of {@link PROOF_CHUNK_VALUES} values. */
  chunkIndex: number
  /** The block's values (the last block may be shorter; it is padded with zeros). */
  values: Int8Array
}

/**
 * A proof system for update blocks (see `@vain/chain/zk` `zkUpdateProofSystem`). Proofs have a
 * fixed size on the wire, so a member can check a header's declared proof bytes before reading them.
 */
export interface UpdateProofSystem {
  /** Bytes of one encoded proof (with its public signals). */
  readonly proofBytes: number
  /** Proves that `Σ values² ≤ bound` for the statement; resolves to the encoded proof. */
  prove(statement: UpdateProofStatement, bound: bigint): Promise<Uint8Array>
  /**
   * Checks an encoded proof against the statement; resolves to the bound it proves. Rejects (with
   * any error; its message is reported) when the proof is malformed, about other values or other
   * bindings, or does not verify.
   */
  verify(statement: UpdateProofStatement, proof: Uint8Array): Promise<bigint>
  /** The digest of an update's proofs that a settlement leaf commits to (0x + 64 hex). */
  digest(payloadHash: string, proofs: readonly Uint8Array[]): string
}

/** An int8 update cut into the blocks its proofs cover. */
export interface ProofPlan {
  valueCount: number
  chunks: Array<{ values: Int8Array; scale: number; squaredNorm: bigint }>
  /** `Σ s_i² · Σ q_i²`: the squared norm the proofs bound (the dequantized update's). */
  boundedSquaredNorm: number
}

/** The blocks of an int8 update with blocks of 256 (throws a `CodecError` if it is not one). */
export function planProofs(encoded: Uint8Array, numParams: number): ProofPlan {
  const q = readQuantizedUpdate(encoded, { expectedLength: numParams })
  if (q.blockSize !== PROOF_CHUNK_VALUES) {
    throw new InvalidUpdateProofError(
      `proofs need blocks of ${PROOF_CHUNK_VALUES} values, the update has blocks of ${q.blockSize}`,
    )
  }
  const chunks: ProofPlan['chunks'] = []
  let bounded = 0
  for (let i = 0; i * PROOF_CHUNK_VALUES < q.values.length; i++) {
    const values = q.values.subarray(i * PROOF_CHUNK_VALUES, (i + 1) * PROOF_CHUNK_VALUES)
    let n = 0
    for (const v of values) n += v * v
    const scale = q.scales[i] as number
    chunks.push({ values, scale, squaredNorm: BigInt(n) })
    bounded += scale * scale * n
  }
  return { valueCount: q.values.length, chunks, boundedSquaredNorm: bounded }
}

/** Scales `delta` down (in place) so that its L2 norm is at most `bound` (a trainer's own clip). */
export function clipToNorm(delta: Float32Array, bound: number): Float32Array {
  let sq = 0
  for (const x of delta) sq += x * x
  const norm = Math.sqrt(sq)
  if (norm > bound && norm > 0) {
    const f = bound / norm
    for (let i = 0; i < delta.length; i++) delta[i] = (delta[i] as number) * f
  }
  return delta
}

/**
 * A trainer's proofs of its encoded update: one per block, each bounding the block's own squared
 * norm. Resolves to the proof section that follows the update in its payload.
 *
 * @throws {InvalidUpdateProofError} when the encoded update's norm is over `spec.proofs.normBound`
 */
export async function proveUpdateBlocks(
  system: UpdateProofSystem,
  spec: JobSpec,
  at: { jobId: string; round: number; trainer: string; numParams: number },
  encoded: Uint8Array,
  signal?: AbortSignal,
): Promise<{ section: Uint8Array; count: number }> {
  const bound = spec.proofs?.normBound ?? Number.POSITIVE_INFINITY
  const plan = planProofs(encoded, at.numParams)
  if (plan.boundedSquaredNorm > bound * bound) {
    throw new InvalidUpdateProofError(
      `the encoded update's norm ${Math.sqrt(plan.boundedSquaredNorm).toFixed(4)} is over the job's bound ${bound}`,
    )
  }
  const section = new Uint8Array(plan.chunks.length * system.proofBytes)
  for (const [i, chunk] of plan.chunks.entries()) {
    signal?.throwIfAborted()
    const proof = await system.prove(
      {
        jobId: at.jobId,
        round: at.round,
        trainer: at.trainer,
        valueCount: plan.valueCount,
        chunkIndex: i,
        values: chunk.values,
      },
      chunk.squaredNorm,
    )
    if (proof.byteLength !== system.proofBytes) {
      throw new InvalidUpdateProofError(`the proof system gave ${proof.byteLength} bytes, not ${system.proofBytes}`)
    }
    section.set(proof, i * system.proofBytes)
  }
  return { section, count: plan.chunks.length }
}

/**
 * Header checks of a proven update, before any payload byte is read: a job with proofs needs
 * them, of the size the proof system gives, within the payload. Returns the refusal, if any.
 */
export function checkProofHeader(
  spec: JobSpec,
  header: { proofs?: { count: number; bytes: number } | undefined; payloadBytes: number; region?: unknown },
  proofBytes: number | undefined,
): RoundProtocolError | undefined {
  if (spec.proofs === undefined || header.region !== undefined) {
    return header.proofs === undefined ? undefined : new InvalidUpdateProofError('this job does not take proofs')
  }
  if (proofBytes === undefined)
    return new MissingUpdateProofError('this node cannot check the proofs this job requires')
  const p = header.proofs
  if (p === undefined) return new MissingUpdateProofError('the job requires proven updates; this update has no proofs')
  if (p.bytes !== p.count * proofBytes || p.bytes >= header.payloadBytes) {
    return new InvalidUpdateProofError(
      `update declares ${p.count} proofs in ${p.bytes} bytes (each is ${proofBytes} bytes, within a payload of ${header.payloadBytes})`,
    )
  }
  return undefined
}

/**
 * A member's check of a proven update's payload (its signed hash already checked): one proof per
 * block, each verifying against the values the member holds, and the proven bounds within the
 * job's norm bound. Resolves to the update's bytes (without proofs) and the proofs' digest.
 *
 * @throws {MissingUpdateProofError | InvalidUpdateProofError}
 */
export async function checkUpdateProofs(
  system: UpdateProofSystem,
  spec: JobSpec,
  header: {
    jobId: string
    round: number
    trainer: string
    payloadHash: string
    proofs?: { count: number; bytes: number } | undefined
  },
  payload: Uint8Array,
  numParams: number,
): Promise<{ update: Uint8Array; digest: string }> {
  const declared = header.proofs
  if (declared === undefined)
    throw new MissingUpdateProofError('the job requires proven updates; this update has no proofs')
  const update = payload.subarray(0, payload.byteLength - declared.bytes)
  let plan: ProofPlan
  try {
    plan = planProofs(update, numParams)
  } catch (err) {
    throw new InvalidUpdateProofError(
      `a proven update must be int8 in blocks of ${PROOF_CHUNK_VALUES}: ${(err as Error).message}`,
    )
  }
  if (plan.chunks.length !== declared.count) {
    throw new MissingUpdateProofError(`the update has ${plan.chunks.length} blocks but ${declared.count} proofs`)
  }
  const proofs: Uint8Array[] = []
  let bounded = 0
  for (const [i, chunk] of plan.chunks.entries()) {
    const proof = payload.subarray(
      update.byteLength + i * system.proofBytes,
      update.byteLength + (i + 1) * system.proofBytes,
    )
    let bound: bigint
    try {
      bound = await system.verify(
        {
          jobId: header.jobId,
          round: header.round,
          trainer: header.trainer,
          valueCount: plan.valueCount,
          chunkIndex: i,
          values: chunk.values,
        },
        proof,
      )
    } catch (err) {
      throw new InvalidUpdateProofError(`proof ${i} of ${plan.chunks.length}: ${(err as Error).message}`)
    }
    bounded += chunk.scale * chunk.scale * Number(bound)
    proofs.push(proof)
  }
  const limit = spec.proofs?.normBound ?? Number.POSITIVE_INFINITY
  if (bounded > limit * limit) {
    throw new InvalidUpdateProofError(
      `the proofs bound the update's norm by ${Math.sqrt(bounded).toFixed(4)}, over the job's ${limit}`,
    )
  }
  return { update, digest: system.digest(header.payloadHash, proofs) }
}
