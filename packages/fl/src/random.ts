/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32) with the
 * distributions federated experiments need: uniform, normal, gamma, Dirichlet, shuffles.
 * Same seed → same sequence on every platform (integer arithmetic; `Math.log/sqrt/cos` only
 * for the continuous distributions).
 *
 * @example
 * ```ts
 * import { createRng } from '@vain/fl'
 * const rng = createRng(42)
 * rng.next()          // uniform in [0, 1)
 * rng.int(10)         // integer in [0, 10)
 * rng.normal()        // standard normal
 * rng.dirichlet(0.5, 4) // four proportions summing to 1
 * ```
 * @module
 */

/** A seeded source of random numbers. */
export interface Rng {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number
  /** Uniform 32-bit unsigned integer. */
  uint32(): number
  /** Uniform integer in [0, n) (unbiased, by rejection). */
  int(n: number): number
  /** Standard normal N(0, 1) (Box–Muller). */
  normal(): number
  /** Gamma(shape, 1) (Marsaglia–Tsang; boosted for shape < 1). */
  gamma(shape: number): number
  /** `k` proportions drawn from the symmetric Dirichlet(alpha) distribution. */
  dirichlet(alpha: number, k: number): Float64Array
  /** Shuffles `array` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: any }>(array: T): T
  /** A permutation of 0..n-1. */
  permutation(n: number): Uint32Array
  /** A new generator whose seed is drawn from this one (for independent sub-streams). */
  fork(): Rng
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

/**
 * Creates a seeded generator. Any finite number is a valid seed (it is reduced to 32 bits).
 *
 * @example
 * ```ts
 * const a = createRng(7), b = createRng(7)
 * a.next() === b.next() // true
 * ```
 */
export function createRng(seed: number): Rng {
  const mix = splitmix32(Number.isFinite(seed) ? Math.trunc(seed) >>> 0 : 0)
  let a = mix()
  let b = mix()
  let c = mix()
  let d = mix()
  const uint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0
    d = (d + 1) >>> 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) >>> 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) >>> 0
    return t
  }
  for (let i = 0; i < 12; i++) uint32()
  const next = (): number => uint32() / 4294967296
  let spare: number | undefined
  const rng: Rng = {
    next,
    uint32,
    int(n) {
      if (!(n >= 1) || n > 4294967296) throw new RangeError(`int(n) needs 1 <= n <= 2^32, got ${n}`)
      const bound = Math.floor(n)
      const limit = 4294967296 - (4294967296 % bound)
      let x = uint32()
      while (x >= limit) x = uint32()
      return x % bound
    },
    normal() {
      if (spare !== undefined) {
        const s = spare
        spare = undefined
        return s
      }
      let u = next()
      while (u === 0) u = next()
      const v = next()
      const r = Math.sqrt(-2 * Math.log(u))
      spare = r * Math.sin(2 * Math.PI * v)
      return r * Math.cos(2 * Math.PI * v)
    },
    gamma(shape) {
      if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`)
      if (shape < 1) {
        // Gamma(a) = Gamma(a + 1) * U^(1/a)
        let u = next()
        while (u === 0) u = next()
        return rng.gamma(shape + 1) * u ** (1 / shape)
      }
      const d = shape - 1 / 3
      const c = 1 / Math.sqrt(9 * d)
      for (;;) {
        let x: number
        let v: number
        do {
          x = rng.normal()
          v = 1 + c * x
        } while (v <= 0)
        v = v * v * v
        const u = next()
        if (u < 1 - 0.0331 * x * x * x * x) return d * v
        if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v
      }
    },
    dirichlet(alpha, k) {
      const out = new Float64Array(k)
      let sum = 0
      for (let i = 0; i < k; i++) {
        out[i] = rng.gamma(alpha)
        sum += out[i]
      }
      if (sum === 0 || !Number.isFinite(sum)) {
        // every draw underflowed (tiny alpha): put all the mass on one coordinate
        out.fill(0)
        out[rng.int(k)] = 1
        return out
      }
      for (let i = 0; i < k; i++) out[i] /= sum
      return out
    },
    shuffle(array) {
      for (let i = array.length - 1; i > 0; i--) {
        const j = rng.int(i + 1)
        const t = array[i]
        array[i] = array[j]
        array[j] = t
      }
      return array
    },
    permutation(n) {
      const p = new Uint32Array(n)
      for (let i = 0; i < n; i++) p[i] = i
      return rng.shuffle(p)
    },
    fork() {
      return createRng(uint32())
    },
  }
  return rng
}
