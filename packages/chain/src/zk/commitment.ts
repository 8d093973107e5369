/**
 * The update commitment and binding, computed in JavaScript exactly as the circuit
 * `circuits/update/update_norm.circom` computes them (circomlibjs' Poseidon is the circuit's).
 * @module
 */
import { encodeAbiParameters, type Hex, keccak256 } from 'viem'
import { z } from 'zod'
import { SNARK_FIELD, UPDATE_CHUNK_VALUES, UPDATE_VALUE_MAX, UPDATE_VALUE_MIN } from './constants.js'
import { InvalidWitnessError } from './errors.js'

/** Quantized update values: integers in [{@link UPDATE_VALUE_MIN}, {@link UPDATE_VALUE_MAX}]. */
export type UpdateValues = ArrayLike<number | bigint>

/** What one chunk proof is bound to; see {@link updateBinding}. */
export interface UpdateBindingParams {
  /** The job's id (32 bytes). */
  jobId: Hex
  /** The round number. */
  round: bigint | number
  /** The trainer: the address that signs and is rewarded for the update. */
  sender: Hex
  /** Number of values in the whole update (the codec's output length). */
  valueCount: number
  /** Which chunk of 256 values this proof covers, 0 ≤ chunkIndex < {@link updateChunkCount}(valueCount). */
  chunkIndex: number
}

const BindingParamsSchema = z
  .object({
    jobId: z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'jobId must be 32 bytes of hex'),
    round: z.union([z.bigint().nonnegative(), z.number().int().nonnegative()]),
    sender: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'sender must be a 20-byte address'),
    valueCount: z
      .number()
      .int()
      .positive()
      .max(2 ** 32 - 1),
    chunkIndex: z.number().int().nonnegative(),
  })
  .refine((p) => p.chunkIndex < updateChunkCount(p.valueCount), 'chunkIndex is past the last chunk')

/** Domain tag hashed into every binding, so a binding cannot collide with another protocol's hash. */
export const UPDATE_BINDING_DOMAIN = 'vain.update-norm.v1'

/**
 * Number of 256-value proofs an update of `valueCount` values needs: `ceil(valueCount / 256)`
 * (the last chunk is padded with zeros, which change neither the norm nor, given the binding's
 * `valueCount`, what the commitment means).
 *
 * @example
 * ```ts
 * updateChunkCount(1000) // 4
 * ```
 */
export function updateChunkCount(valueCount: number): number {
  return Math.ceil(valueCount / UPDATE_CHUNK_VALUES)
}

/**
 * The binding public input of one chunk proof: `uint256(keccak256(abi.encode("vain.update-norm.v1",
 * jobId, round, sender, valueCount, chunkIndex))) >> 8` (248 bits, so it is a field element; the
 * same expression in Solidity gives the same number). The circuit hashes it into the commitment and
 * exposes it, so a proof made for one job, round, sender or chunk position verifies for no other.
 *
 * @example
 * ```ts
 * const binding = updateBinding({ jobId, round: 3n, sender: '0xf39F…', valueCount: 1000, chunkIndex: 0 })
 * ```
 */
export function updateBinding(params: UpdateBindingParams): bigint {
  const p = BindingParamsSchema.parse(params)
  const encoded = encodeAbiParameters(
    [
      { type: 'string' },
      { type: 'bytes32' },
      { type: 'uint256' },
      { type: 'address' },
      { type: 'uint32' },
      { type: 'uint32' },
    ],
    [UPDATE_BINDING_DOMAIN, p.jobId as Hex, BigInt(p.round), p.sender as Hex, p.valueCount, p.chunkIndex],
  )
  return BigInt(keccak256(encoded)) >> 8n
}

/**
 * Checks and normalises one chunk: at most 256 integers in int16 range, padded with zeros to 256.
 * @throws InvalidWitnessError when a value is not an integer, is out of range, or there are too many.
 */
export function chunkValues(values: UpdateValues): bigint[] {
  if (values.length > UPDATE_CHUNK_VALUES) {
    throw new InvalidWitnessError(`a chunk holds at most ${UPDATE_CHUNK_VALUES} values, got ${values.length}`)
  }
  const out = new Array<bigint>(UPDATE_CHUNK_VALUES).fill(0n)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v === 'number' && !Number.isInteger(v))
      throw new InvalidWitnessError(`value ${i} (${v}) is not an integer`)
    if (typeof v !== 'number' && typeof v !== 'bigint') throw new InvalidWitnessError(`value ${i} is not a number`)
    const b = BigInt(v)
    if (b < BigInt(UPDATE_VALUE_MIN) || b > BigInt(UPDATE_VALUE_MAX)) {
      throw new InvalidWitnessError(`value ${i} (${b}) is outside [${UPDATE_VALUE_MIN}, ${UPDATE_VALUE_MAX}]`)
    }
    out[i] = b
  }
  return out
}

/**
 * Splits a whole update into its chunks of 256 values (the last one shorter; {@link chunkValues}
 * pads it).
 *
 * @example
 * ```ts
 * splitUpdate(new Int8Array(1000)).length // 4
 * ```
 */
export function splitUpdate<T extends UpdateValues>(values: T): UpdateValues[] {
  const chunks: UpdateValues[] = []
  for (let i = 0; i < values.length; i += UPDATE_CHUNK_VALUES) {
    chunks.push(
      Array.from(
        { length: Math.min(UPDATE_CHUNK_VALUES, values.length - i) },
        (_, j) => values[i + j] as number | bigint,
      ),
    )
  }
  return chunks
}

/**
 * Squared L2 norm of quantized values, `sum(v_i^2)` — what the circuit compares with the bound.
 *
 * @example
 * ```ts
 * squaredNorm([3, -4]) // 25n
 * ```
 */
export function squaredNorm(values: UpdateValues): bigint {
  let sum = 0n
  for (let i = 0; i < values.length; i++) {
    const v = BigInt(values[i] as number | bigint)
    sum += v * v
  }
  return sum
}

interface Poseidon {
  (inputs: bigint[]): unknown
  F: { toObject(x: unknown): bigint }
}
let poseidonPromise: Promise<Poseidon> | undefined
function poseidon(): Promise<Poseidon> {
  poseidonPromise ??= (import('circomlibjs') as Promise<{ buildPoseidon(): Promise<Poseidon> }>).then((m) =>
    m.buildPoseidon(),
  )
  return poseidonPromise
}

/** Values packed per field element in the commitment (15 × 16 bits = 240 bits < 254). */
const PACK = 15

/**
 * The values as the circuit packs them: each shifted to `v + 2^15` (16 bits), 15 per field element,
 * `w_j = sum_t (v_{15j+t} + 2^15) * 2^(16 t)`; 18 elements for 256 values (the last holds one).
 */
export function packUpdateValues(values: UpdateValues): bigint[] {
  const chunk = chunkValues(values)
  const offset = BigInt(-UPDATE_VALUE_MIN)
  const packed: bigint[] = []
  for (let j = 0; j * PACK < chunk.length; j++) {
    let w = 0n
    for (let t = 0; t < PACK && j * PACK + t < chunk.length; t++)
      w += ((chunk[j * PACK + t] as bigint) + offset) << (16n * BigInt(t))
    packed.push(w)
  }
  return packed
}

/**
 * The commitment to one chunk that the circuit checks:
 * `Poseidon4(Poseidon16(w_0 … w_15), w_16, w_17, binding)` over the 256 zero-padded values packed
 * 15 per field element ({@link packUpdateValues}; the packing is injective because every value is
 * range-checked to 16 bits).
 *
 * @throws InvalidWitnessError when the values are not a valid chunk (see {@link chunkValues}).
 * @example
 * ```ts
 * import { updateBinding, updateCommitment } from '@vain/chain/zk'
 * const commitment = await updateCommitment(int8Chunk, updateBinding({ jobId, round, sender, valueCount, chunkIndex: 0 }))
 * ```
 */
export async function updateCommitment(values: UpdateValues, binding: bigint): Promise<bigint> {
  const packed = packUpdateValues(values)
  if (binding < 0n || binding >= SNARK_FIELD) throw new InvalidWitnessError('binding is not a field element')
  const hash = await poseidon()
  const head = hash.F.toObject(hash(packed.slice(0, 16)))
  return hash.F.toObject(hash([head, ...packed.slice(16), binding]))
}
