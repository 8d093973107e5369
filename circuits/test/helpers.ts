import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildPoseidon } from 'circomlibjs'

export const circuitsRoot = join(import.meta.dirname, '..')
export const repoRoot = join(circuitsRoot, '..')
export const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

export interface FileEntry {
  path: string
  sha256: string
  bytes: number
}
export interface ManifestEntry {
  source: FileEntry
  constraints: number
  publicInputs: number
  ptauPower: number
  r1cs: { sha256: string; bytes: number }
  wasm: FileEntry
  zkey: FileEntry
  vkey: FileEntry
  verifier: FileEntry & { contract: string }
}

export const manifest = (): Record<string, ManifestEntry> =>
  JSON.parse(readFileSync(join(circuitsRoot, 'artifacts.json'), 'utf8')) as Record<string, ManifestEntry>

export const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex')

const field = (v: bigint): bigint => ((v % P) + P) % P

interface Poseidon {
  (inputs: bigint[]): unknown
  F: { toObject(x: unknown): bigint; e(x: bigint): unknown; sqrt(x: unknown): unknown }
}
let poseidon: Poseidon | undefined

/** The values as the circuit packs them: (v + 2^15) in 16 bits, 15 per field element. */
export function pack(values: bigint[]): bigint[] {
  const w: bigint[] = []
  for (let j = 0; j * 15 < values.length; j++) {
    let x = 0n
    for (let t = 0; t < 15 && j * 15 + t < values.length; t++)
      x += ((values[j * 15 + t] as bigint) + 32768n) << (16n * BigInt(t))
    w.push(field(x))
  }
  return w
}

/**
 * The update circuit's commitment, computed independently of @vain/chain with circomlibjs:
 * Poseidon4(Poseidon16(w_0 … w_15), w_16, w_17, binding) over the packed values.
 */
export async function commitment(values: bigint[], binding: bigint): Promise<bigint> {
  poseidon ??= (await buildPoseidon()) as Poseidon
  const h = poseidon
  const w = pack(values)
  return h.F.toObject(h([h.F.toObject(h(w.slice(0, 16))), ...w.slice(16), binding]))
}

/** The circuit's input object. */
export function input(values: bigint[], bound: bigint, commit: bigint, binding: bigint): Record<string, unknown> {
  return {
    bound: bound.toString(),
    commitment: commit.toString(),
    binding: binding.toString(),
    values: values.map((v) => field(v).toString()),
  }
}

/** 256 int8-like values, deterministic. */
export function sampleValues(seed = 1): bigint[] {
  return Array.from({ length: 256 }, (_, i) => BigInt(((i * 37 + seed * 11) % 255) - 127))
}

export const norm = (values: bigint[]): bigint => values.reduce((s, v) => s + v * v, 0n)

/**
 * A huge field element whose square is a small integer k (the smallest k ≥ 2 that is a quadratic
 * residue): without range checks it would pass a norm bound while being no int16 at all.
 */
export async function hugeValueWithSmallSquare(): Promise<{ value: bigint; square: bigint }> {
  poseidon ??= (await buildPoseidon()) as Poseidon
  const F = poseidon.F
  for (let k = 2n; ; k++) {
    const r = F.sqrt(F.e(k))
    if (r !== null && r !== undefined) {
      const v = F.toObject(r)
      return { value: v > P / 2n ? v : P - v, square: k }
    }
  }
}
