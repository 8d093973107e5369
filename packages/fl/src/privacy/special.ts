/** Special functions in log space for the RDP accountant (internal). @module */

/** log(exp(a) + exp(b)). */
export function logAdd(a: number, b: number): number {
  const lo = Math.min(a, b)
  const hi = Math.max(a, b)
  if (lo === Number.NEGATIVE_INFINITY) return hi
  return Math.log1p(Math.exp(lo - hi)) + hi
}

/** log(exp(a) − exp(b)) for a >= b. */
export function logSub(a: number, b: number): number {
  if (a < b) throw new RangeError('logSub: the result must be non-negative')
  if (b === Number.NEGATIVE_INFINITY) return a
  if (a === b) return Number.NEGATIVE_INFINITY
  const d = a - b
  // expm1 overflows only when d > ~709, where the result is a to double precision
  return d > 700 ? a : Math.log(Math.expm1(d)) + b
}

// Chebyshev coefficients of erfc for z >= 0 in the form
// erfc(z) = t·exp(−z² + ½(c0 + ty·d) − dd), t = 2/(2+z), ty = 4t − 2 (Numerical Recipes 3rd ed. §6.2.2),
// relative accuracy ≈ 1.2e−16 — and the same form gives log(erfc(z)) without underflow.
const COF = [
  -1.3026537197817094, 6.419697923564902e-1, 1.9476473204185836e-2, -9.561514786808631e-3, -9.46595344482036e-4,
  3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5, -1.624290004647e-6, 1.30365583558e-6, 1.5626441722e-8,
  -8.5238095915e-8, 6.529054439e-9, 5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12,
  -6.886027e-12, 8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16, -2.8e-17,
]

/** log(erfc(z)) for z >= 0. */
function logErfcPositive(z: number): number {
  const t = 2 / (2 + z)
  const ty = 4 * t - 2
  let d = 0
  let dd = 0
  for (let j = COF.length - 1; j > 0; j--) {
    const tmp = d
    d = ty * d - dd + COF[j]!
    dd = tmp
  }
  return Math.log(t) - z * z + 0.5 * (COF[0]! + ty * d) - dd
}

/** erfc(x) to ≈ 1e−16 relative accuracy. */
export function erfc(x: number): number {
  return x >= 0 ? Math.exp(logErfcPositive(x)) : 2 - Math.exp(logErfcPositive(-x))
}

/** log(erfc(x)), accurate far into the tail (no underflow for large x). */
export function logErfc(x: number): number {
  return x >= 0 ? logErfcPositive(x) : Math.log(2 - Math.exp(logErfcPositive(-x)))
}

/** Standard normal CDF Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2)
}

/** Inverse of the standard normal CDF, by bisection on {@link normalCdf} (|error| < 1e−12). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY
    if (p === 1) return Number.POSITIVE_INFINITY
    throw new RangeError(`normalQuantile needs p in [0, 1], got ${p}`)
  }
  let lo = -40
  let hi = 40
  for (let i = 0; i < 200 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2
    if (normalCdf(mid) < p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}
