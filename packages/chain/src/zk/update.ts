/**
 * Proving and verifying one update chunk with the committed Groth16 artefacts of
 * `circuits/update/update_norm.circom`.
 * @module
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { type CircuitArtifacts, circuitArtifacts } from './artifacts.js'
import { chunkValues, squaredNorm, type UpdateValues, updateCommitment } from './commitment.js'
import { SNARK_FIELD, UPDATE_BOUND_LIMIT } from './constants.js'
import {
  InvalidProofError,
  InvalidWitnessError,
  MalformedProofError,
  PublicSignalsMismatchError,
  ZkArtifactError,
} from './errors.js'
import { acquireBn128, releaseBn128 } from './threads.js'

/** The circuit's name in circuits/ (its artefacts folder). */
export const UPDATE_CIRCUIT = 'update_norm'

const fieldString = z
  .string()
  .regex(/^(0|[1-9]\d{0,76})$/, 'a field element in decimal')
  // zod runs refinements even after the regex failed: never BigInt() a non-decimal string
  .refine((s) => /^\d+$/.test(s) && BigInt(s) < SNARK_FIELD, 'not below the field size')

/** A Groth16 proof as snarkjs writes it (decimal coordinates, projective with z = 1). */
export const Groth16ProofSchema = z.object({
  pi_a: z.tuple([fieldString, fieldString, fieldString]),
  pi_b: z.tuple([
    z.tuple([fieldString, fieldString]),
    z.tuple([fieldString, fieldString]),
    z.tuple([fieldString, fieldString]),
  ]),
  pi_c: z.tuple([fieldString, fieldString, fieldString]),
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
})

/** A Groth16 proof (see {@link Groth16ProofSchema}). */
export type Groth16Proof = z.infer<typeof Groth16ProofSchema>

/** The update circuit's public signals, in the circuit's order: `[bound, commitment, binding]`. */
export const UpdatePublicSignalsSchema = z.tuple([fieldString, fieldString, fieldString])

/** `[bound, commitment, binding]` as decimal strings. */
export type UpdatePublicSignals = z.infer<typeof UpdatePublicSignalsSchema>

/** A proof of one chunk and its public signals: what a trainer attaches to its update. */
export interface UpdateProof {
  proof: Groth16Proof
  publicSignals: UpdatePublicSignals
}

/** The public inputs of a chunk proof. */
export interface UpdateStatement {
  /** Squared-L2 bound: `sum(v_i^2) ≤ bound`, 0 ≤ bound < 2^64. */
  bound: bigint
  /** {@link updateCommitment} of the values with this binding. */
  commitment: bigint
  /** {@link updateBinding} of the chunk. */
  binding: bigint
}

/** Options of {@link proveUpdate}. */
export interface ProveUpdateOptions {
  /** The chunk's norm bound (`sum(v_i^2) ≤ bound`). */
  bound: bigint | number
  /** The chunk's {@link updateBinding}. */
  binding: bigint
  /** Artefacts to use instead of the committed ones. */
  artifacts?: CircuitArtifacts
}

interface Snarkjs {
  groth16: {
    fullProve(
      input: Record<string, unknown>,
      wasm: string | Uint8Array,
      zkey: string | Uint8Array,
    ): Promise<{ proof: unknown; publicSignals: unknown }>
    verify(vkey: unknown, publicSignals: string[], proof: unknown): Promise<boolean>
  }
}
/** @internal */
export async function loadSnarkjs(): Promise<Snarkjs> {
  return (await import('snarkjs')) as unknown as Snarkjs
}

/** Artefact bytes loaded once and reused across proofs. */
export interface LoadedArtifacts {
  wasm: Uint8Array
  zkey: Uint8Array
  vkey: unknown
}

/** @internal Reads the artefacts into memory. */
export function loadArtifacts(artifacts: CircuitArtifacts = circuitArtifacts(UPDATE_CIRCUIT)): LoadedArtifacts {
  try {
    return {
      wasm: readFileSync(artifacts.wasm),
      zkey: readFileSync(artifacts.zkey),
      vkey: JSON.parse(readFileSync(artifacts.vkey, 'utf8')),
    }
  } catch (err) {
    throw new ZkArtifactError(`cannot read the ${UPDATE_CIRCUIT} artefacts`, { cause: err })
  }
}

const toField = (v: bigint): bigint => ((v % SNARK_FIELD) + SNARK_FIELD) % SNARK_FIELD

/** @internal Proves with loaded artefacts; the caller holds the bn128 threads. */
export async function proveWith(
  loaded: LoadedArtifacts,
  values: UpdateValues,
  options: ProveUpdateOptions,
): Promise<UpdateProof> {
  const chunk = chunkValues(values)
  const bound = BigInt(options.bound)
  if (bound < 0n || bound >= UPDATE_BOUND_LIMIT) throw new InvalidWitnessError(`bound ${bound} is outside [0, 2^64)`)
  // the norm is the circuit's to refuse (no witness exists); it is computed here only to say why
  const commitment = await updateCommitment(chunk, options.binding)
  const input = {
    bound: bound.toString(),
    commitment: commitment.toString(),
    binding: options.binding.toString(),
    values: chunk.map((v) => toField(v).toString()),
  }
  const snarkjs = await loadSnarkjs()
  let out: { proof: unknown; publicSignals: unknown }
  try {
    out = await snarkjs.groth16.fullProve(input, loaded.wasm, loaded.zkey)
  } catch (err) {
    const norm = squaredNorm(chunk)
    const why = norm > bound ? `: squared norm ${norm} is over the bound ${bound}` : ''
    throw new InvalidWitnessError(`the update circuit has no witness for these values${why}`, { cause: err })
  }
  return {
    proof: Groth16ProofSchema.parse(out.proof),
    publicSignals: UpdatePublicSignalsSchema.parse(out.publicSignals),
  }
}

/** What a verifier expects of a chunk proof. */
export interface ExpectedUpdate {
  /** The job's bound for this chunk: the proof's bound must be at most this. */
  bound: bigint
  /** The commitment the trainer signed for this chunk. */
  commitment: bigint
  /** The binding the verifier computes itself from job, round, sender, value count and chunk index. */
  binding: bigint
}

/** @internal Parses and checks the public signals, returns the parsed proof. */
export function checkStatement(
  proof: unknown,
  publicSignals: unknown,
  expected: ExpectedUpdate,
): { proof: Groth16Proof; publicSignals: UpdatePublicSignals; statement: UpdateStatement } {
  const p = Groth16ProofSchema.safeParse(proof)
  if (!p.success)
    throw new MalformedProofError(`malformed proof: ${p.error.issues[0]?.message ?? 'invalid'}`, { cause: p.error })
  const s = UpdatePublicSignalsSchema.safeParse(publicSignals)
  if (!s.success)
    throw new MalformedProofError(`malformed public signals: ${s.error.issues[0]?.message ?? 'invalid'}`, {
      cause: s.error,
    })
  const [bound, commitment, binding] = s.data.map((x) => BigInt(x)) as [bigint, bigint, bigint]
  if (binding !== expected.binding) {
    throw new PublicSignalsMismatchError(
      'binding',
      `the proof is bound to ${binding}, not to this update's ${expected.binding} (another job, round, sender or chunk)`,
    )
  }
  if (commitment !== expected.commitment) {
    throw new PublicSignalsMismatchError(
      'commitment',
      `the proof commits to ${commitment}, not to the signed commitment ${expected.commitment}`,
    )
  }
  if (bound > expected.bound)
    throw new PublicSignalsMismatchError('bound', `the proof's bound ${bound} is over the job's ${expected.bound}`)
  return { proof: p.data, publicSignals: s.data, statement: { bound, commitment, binding } }
}

/** @internal Verifies with a loaded verification key; the caller holds the bn128 threads. */
export async function verifyWith(
  vkey: unknown,
  proof: unknown,
  publicSignals: unknown,
  expected: ExpectedUpdate,
): Promise<UpdateStatement> {
  const checked = checkStatement(proof, publicSignals, expected)
  const snarkjs = await loadSnarkjs()
  let ok: boolean
  try {
    ok = await snarkjs.groth16.verify(vkey, checked.publicSignals, checked.proof)
  } catch (err) {
    // points off the curve and the like: snarkjs throws instead of answering false
    throw new InvalidProofError('the update proof does not verify', { cause: err })
  }
  if (!ok) throw new InvalidProofError('the update proof does not verify')
  return checked.statement
}

/**
 * Proves that up to 256 quantized values (zero-padded to 256) have `sum(v_i^2) ≤ bound` and
 * commit, with `binding`, to {@link updateCommitment}. Uses snarkjs' bn128 worker threads and
 * releases them when no other `@vain/chain/zk` user holds them; for many proofs keep one
 * {@link createUpdateProver} open instead.
 *
 * @throws InvalidWitnessError when no proof exists (a value out of range, the norm over the bound).
 * @example
 * ```ts
 * import { proveUpdate, updateBinding } from '@vain/chain/zk'
 * const binding = updateBinding({ jobId, round: 1n, sender, valueCount: 256, chunkIndex: 0 })
 * const { proof, publicSignals } = await proveUpdate(int8Values, { bound: 1_000_000n, binding })
 * ```
 */
export async function proveUpdate(values: UpdateValues, options: ProveUpdateOptions): Promise<UpdateProof> {
  const loaded = loadArtifacts(options.artifacts)
  await acquireBn128()
  try {
    return await proveWith(loaded, values, options)
  } finally {
    await releaseBn128()
  }
}

/** Options of {@link verifyUpdate}. */
export interface VerifyUpdateOptions {
  /** A verification key to use instead of the committed one. */
  vkey?: unknown
}

/**
 * Verifies a chunk proof received from a peer against what this node expects: the proof and public
 * signals are validated (zod), the public signals compared with `expected` (same binding and
 * commitment, a bound no looser than the job's), then the Groth16 proof is checked.
 *
 * @returns the proven statement.
 * @throws MalformedProofError, PublicSignalsMismatchError or InvalidProofError.
 * @example
 * ```ts
 * import { verifyUpdate, InvalidProofError } from '@vain/chain/zk'
 * await verifyUpdate(msg.proof, msg.publicSignals, { bound: jobBound, commitment: signedCommitment, binding })
 * ```
 */
export async function verifyUpdate(
  proof: unknown,
  publicSignals: unknown,
  expected: ExpectedUpdate,
  options: VerifyUpdateOptions = {},
): Promise<UpdateStatement> {
  // cheap checks before loading anything or starting threads
  checkStatement(proof, publicSignals, expected)
  const vkey = options.vkey ?? loadArtifacts().vkey
  await acquireBn128()
  try {
    return await verifyWith(vkey, proof, publicSignals, expected)
  } finally {
    await releaseBn128()
  }
}

/** Arguments of the Solidity verifier's `verifyProof(a, b, c, input)`. */
export interface UpdateProofCalldata {
  a: readonly [bigint, bigint]
  b: readonly [readonly [bigint, bigint], readonly [bigint, bigint]]
  c: readonly [bigint, bigint]
  input: readonly [bigint, bigint, bigint]
}

/**
 * The arguments of `UpdateNormVerifier.verifyProof` for a proof (G2 coordinates swapped into the
 * EVM precompile's order).
 *
 * @throws MalformedProofError when the proof or signals are not well-formed.
 * @example
 * ```ts
 * const { a, b, c, input } = updateProofCalldata(proof, publicSignals)
 * await publicClient.readContract({ address, abi: updateNormVerifierAbi, functionName: 'verifyProof', args: [a, b, c, input] })
 * ```
 */
export function updateProofCalldata(proof: unknown, publicSignals: unknown): UpdateProofCalldata {
  const p = Groth16ProofSchema.safeParse(proof)
  if (!p.success) throw new MalformedProofError('malformed proof', { cause: p.error })
  const s = UpdatePublicSignalsSchema.safeParse(publicSignals)
  if (!s.success) throw new MalformedProofError('malformed public signals', { cause: s.error })
  const n = BigInt
  const { pi_a, pi_b, pi_c } = p.data
  return {
    a: [n(pi_a[0]), n(pi_a[1])],
    b: [
      [n(pi_b[0][1]), n(pi_b[0][0])],
      [n(pi_b[1][1]), n(pi_b[1][0])],
    ],
    c: [n(pi_c[0]), n(pi_c[1])],
    input: [n(s.data[0]), n(s.data[1]), n(s.data[2])],
  }
}
