/**
 * Shamir secret sharing (Shamir 1979) over the prime field GF(2^521 − 1), with bigint: a
 * secret of up to 64 bytes is the constant term of a random polynomial of degree t − 1; any
 * t shares (points) recover it by Lagrange interpolation at 0, fewer reveal nothing.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { ConfigError } from '../errors.js'
import { InvalidShareError, TooFewSurvivorsError } from './errors.js'

/** The field prime, the Mersenne prime 2^521 − 1. */
export const SHAMIR_PRIME: bigint = (1n << 521n) - 1n
const P = SHAMIR_PRIME
/** Largest secret in bytes (must stay below the prime). */
export const SHAMIR_MAX_SECRET_BYTES = 64

/** One share: the polynomial evaluated at `x` (a client id in 1…65535). */
export interface ShamirShare {
  readonly x: number
  readonly y: bigint
}

function mod(a: bigint): bigint {
  const r = a % P
  return r < 0n ? r + P : r
}

function inverse(a: bigint): bigint {
  // extended Euclid; a is nonzero mod P
  let [oldR, r] = [mod(a), P]
  let [oldS, s] = [1n, 0n]
  while (r !== 0n) {
    const q = oldR / r
    ;[oldR, r] = [r, oldR - q * r]
    ;[oldS, s] = [s, oldS - q * s]
  }
  return mod(oldS)
}

function randomFieldElement(): bigint {
  for (;;) {
    const bytes = randomBytes(66)
    bytes[0]! &= 0x01 // 521 bits
    const v = BigInt(`0x${bytes.toString('hex')}`)
    if (v < P) return v
  }
}

function bytesToBigint(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`)
}

function bigintToBytes(v: bigint, length: number): Uint8Array {
  const hex = v.toString(16).padStart(2 * length, '0')
  if (hex.length > 2 * length)
    throw new InvalidShareError(`recovered secret does not fit ${length} bytes: shares are inconsistent`)
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

function checkX(x: number): void {
  if (!(Number.isInteger(x) && x >= 1 && x <= 65535))
    throw new InvalidShareError(`share x must be an integer in 1..65535, got ${x}`)
}

/**
 * Splits `secret` (≤ 64 bytes) into one share per x in `xs` (distinct integers 1…65535, e.g.
 * client ids); any `threshold` of them recover it.
 *
 * @example
 * ```ts
 * import { combineShares, splitSecret } from '@vain/fl'
 * const shares = splitSecret(seed, { threshold: 3, xs: [1, 2, 3, 4, 5] })
 * combineShares([shares[0]!, shares[2]!, shares[4]!], { threshold: 3, byteLength: seed.length }) // = seed
 * ```
 */
export function splitSecret(secret: Uint8Array, options: { threshold: number; xs: readonly number[] }): ShamirShare[] {
  const { threshold, xs } = options
  if (secret.length > SHAMIR_MAX_SECRET_BYTES)
    throw new ConfigError(`secrets are limited to ${SHAMIR_MAX_SECRET_BYTES} bytes`)
  if (!(Number.isInteger(threshold) && threshold >= 1 && threshold <= xs.length)) {
    throw new ConfigError(`threshold must be an integer in 1..${xs.length}, got ${threshold}`)
  }
  const seen = new Set<number>()
  for (const x of xs) {
    checkX(x)
    if (seen.has(x)) throw new InvalidShareError(`duplicate share x ${x}`)
    seen.add(x)
  }
  const coeffs = [bytesToBigint(secret)]
  for (let i = 1; i < threshold; i++) coeffs.push(randomFieldElement())
  return xs.map((x) => {
    // Horner
    let y = 0n
    const bx = BigInt(x)
    for (let i = coeffs.length - 1; i >= 0; i--) y = (y * bx + coeffs[i]!) % P
    return { x, y }
  })
}

/** Lagrange interpolation at `at` through `points` (distinct x). */
function interpolate(points: readonly ShamirShare[], at: bigint): bigint {
  let result = 0n
  for (let j = 0; j < points.length; j++) {
    const xj = BigInt(points[j]!.x)
    let num = 1n
    let den = 1n
    for (let m = 0; m < points.length; m++) {
      if (m === j) continue
      const xm = BigInt(points[m]!.x)
      num = (num * mod(at - xm)) % P
      den = (den * mod(xj - xm)) % P
    }
    result = (result + points[j]!.y * ((num * inverse(den)) % P)) % P
  }
  return result
}

/**
 * Recovers a secret of `byteLength` bytes from at least `threshold` shares. Extra shares are
 * checked against the polynomial through the first `threshold` (by ascending x), so a corrupted
 * share is detected when more than `threshold` are given. Throws `TooFewSurvivorsError` with
 * fewer than `threshold` distinct shares, `InvalidShareError` for malformed or inconsistent ones.
 *
 * @example
 * ```ts
 * import { combineShares } from '@vain/fl'
 * const seed = combineShares(received, { threshold: 3, byteLength: 32 })
 * ```
 */
export function combineShares(
  shares: readonly ShamirShare[],
  options: { threshold: number; byteLength: number },
): Uint8Array {
  const { threshold, byteLength } = options
  if (!(Number.isInteger(byteLength) && byteLength >= 0 && byteLength <= SHAMIR_MAX_SECRET_BYTES)) {
    throw new ConfigError(`byteLength must be in 0..${SHAMIR_MAX_SECRET_BYTES}, got ${byteLength}`)
  }
  if (!(Number.isInteger(threshold) && threshold >= 1))
    throw new ConfigError(`threshold must be an integer >= 1, got ${threshold}`)
  const seen = new Set<number>()
  for (const s of shares) {
    checkX(s.x)
    if (typeof s.y !== 'bigint' || s.y < 0n || s.y >= P)
      throw new InvalidShareError(`share ${s.x} has y outside the field`)
    if (seen.has(s.x)) throw new InvalidShareError(`duplicate share x ${s.x}`)
    seen.add(s.x)
  }
  if (shares.length < threshold) throw new TooFewSurvivorsError('shares', shares.length, threshold)
  const sorted = [...shares].sort((a, b) => a.x - b.x)
  const basis = sorted.slice(0, threshold)
  for (const extra of sorted.slice(threshold)) {
    if (interpolate(basis, BigInt(extra.x)) !== extra.y)
      throw new InvalidShareError(`share ${extra.x} is not on the polynomial of the others`)
  }
  return bigintToBytes(interpolate(basis, 0n), byteLength)
}
