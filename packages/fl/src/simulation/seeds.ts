/** Deriving independent, reproducible seeds from one experiment seed. @module */

/**
 * A 32-bit seed derived from `seed` and a path of labels/numbers (e.g. `('train', round, client)`),
 * by an integer hash (murmur3 finalizer): the same inputs give the same seed on every platform,
 * different paths give unrelated seeds.
 *
 * @example
 * ```ts
 * import { deriveSeed } from '@vain/fl'
 * deriveSeed(1, 'train', 3, 17) // same number every time
 * ```
 */
export function deriveSeed(seed: number, ...path: (string | number)[]): number {
  let h = Math.trunc(seed) >>> 0
  const mix = (x: number) => {
    h = Math.imul(h ^ (x >>> 0), 0x9e3779b1) >>> 0
    h ^= h >>> 15
    h = Math.imul(h, 0x85ebca77) >>> 0
    h ^= h >>> 13
    h = Math.imul(h, 0xc2b2ae3d) >>> 0
    h ^= h >>> 16
  }
  mix(0x5eed)
  for (const p of path) {
    if (typeof p === 'number') mix(Math.trunc(p))
    else for (let i = 0; i < p.length; i++) mix(p.charCodeAt(i) + 0x10000)
    mix(0xffff_ffff)
  }
  return h >>> 0
}
