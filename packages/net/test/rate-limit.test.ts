import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RateLimitedError } from '../src/errors.js'
import { createRateLimiter, RateLimiter } from '../src/limits/index.js'

/** A manual clock: tests move time explicitly, nothing depends on wall time. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

const PEER_A = '12D3KooWA'
const PEER_B = '12D3KooWB'
const ECHO = '/vain/echo/1.0.0'
const UPDATE = '/vain/update/1.0.0'

describe('RateLimiter: token buckets', () => {
  it('allows a burst up to capacity, then refuses with a retry delay', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 3, refillPerSecond: 2, now: clock.now })
    const key = `${PEER_A}${ECHO}`
    for (let i = 0; i < 3; i++) {
      expect(limiter.tryTake(key)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 2 - i })
    }
    // empty: one token refills in 1/2 s
    expect(limiter.tryTake(key)).toEqual({ allowed: false, retryAfterMs: 500, remaining: 0 })
    expect(limiter.tryTake(key)).toMatchObject({ allowed: false })
    // a refused call does not consume anything
    clock.advance(499)
    expect(limiter.tryTake(key)).toMatchObject({ allowed: false, retryAfterMs: 1 })
    clock.advance(1)
    expect(limiter.tryTake(key)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('take() throws RateLimitedError with retryAfterMs and a clear message', () => {
    const clock = manualClock()
    const limiter = createRateLimiter({ capacity: 1, refillPerSecond: 0.5, now: clock.now })
    const key = `${PEER_A}${ECHO}`
    limiter.take(key)
    let err: unknown
    try {
      limiter.take(key)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(RateLimitedError)
    expect((err as RateLimitedError).name).toBe('RateLimitedError')
    expect((err as RateLimitedError).retryAfterMs).toBe(2000)
    expect((err as Error).message).toContain(key)
    expect((err as Error).message).toMatch(/retry in 2000 ms/)
    clock.advance(2000)
    expect(() => limiter.take(key)).not.toThrow()
  })

  it('refills continuously up to capacity, never beyond', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 10, refillPerSecond: 4, now: clock.now })
    const key = `${PEER_A}${ECHO}`
    expect(limiter.tryTake(key, 10).allowed).toBe(true)
    expect(limiter.tokens(key)).toBe(0)
    clock.advance(250)
    expect(limiter.tokens(key)).toBeCloseTo(1)
    clock.advance(1000)
    expect(limiter.tokens(key)).toBeCloseTo(5)
    clock.advance(60_000)
    expect(limiter.tokens(key)).toBe(10)
    expect(limiter.tryTake(key, 10).allowed).toBe(true)
    expect(limiter.tryTake(key).allowed).toBe(false)
  })

  it('weighs calls by cost and computes the wait for the missing tokens', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 10, refillPerSecond: 1, now: clock.now })
    expect(limiter.tryTake('k', 7).allowed).toBe(true)
    expect(limiter.tryTake('k', 5)).toEqual({ allowed: false, retryAfterMs: 2000, remaining: 3 })
    expect(limiter.tryTake('k', 3).allowed).toBe(true)
    expect(() => limiter.tryTake('k', 11)).toThrow(RangeError)
    expect(() => limiter.tryTake('k', -1)).toThrow(RangeError)
    expect(() => limiter.tryTake('k', Number.NaN)).toThrow(RangeError)
  })

  it('isolates keys: one peer or protocol exhausting its bucket does not affect another', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 2, refillPerSecond: 1, now: clock.now })
    limiter.take(`${PEER_A}${ECHO}`)
    limiter.take(`${PEER_A}${ECHO}`)
    expect(limiter.tryTake(`${PEER_A}${ECHO}`).allowed).toBe(false)
    expect(limiter.tryTake(`${PEER_B}${ECHO}`).allowed).toBe(true)
    expect(limiter.tryTake(`${PEER_A}${UPDATE}`).allowed).toBe(true)
    expect(limiter.tokens(`${PEER_B}${ECHO}`)).toBe(1)
  })

  it('applies per-protocol overrides, falling back to the defaults for missing fields', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({
      capacity: 100,
      refillPerSecond: 10,
      overrides: { [UPDATE]: { capacity: 2 } },
      now: clock.now,
    })
    expect(limiter.configFor(`${PEER_A}${UPDATE}`)).toEqual({ capacity: 2, refillPerSecond: 10 })
    expect(limiter.configFor(`${PEER_A}${ECHO}`)).toEqual({ capacity: 100, refillPerSecond: 10 })
    limiter.take(`${PEER_A}${UPDATE}`)
    limiter.take(`${PEER_A}${UPDATE}`)
    expect(() => limiter.take(`${PEER_A}${UPDATE}`)).toThrow(expect.objectContaining({ retryAfterMs: 100 }))
    for (let i = 0; i < 50; i++) limiter.take(`${PEER_A}${ECHO}`)
  })

  it('supports a custom protocolOf', () => {
    const limiter = new RateLimiter({
      capacity: 5,
      refillPerSecond: 1,
      overrides: { update: { capacity: 1 } },
      protocolOf: (key) => key.split(':')[1] ?? '',
      now: manualClock().now,
    })
    expect(limiter.configFor('peer:update').capacity).toBe(1)
    expect(limiter.configFor('peer:echo').capacity).toBe(5)
  })

  it('rejects invalid options with ConfigError', () => {
    for (const init of [
      { capacity: 0 },
      { refillPerSecond: -1 },
      { refillPerSecond: Number.POSITIVE_INFINITY },
      { maxKeys: 0 },
      { overrides: { [ECHO]: { capacity: -5 } } },
    ]) {
      expect(() => new RateLimiter(init)).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    }
  })

  it('a clock that goes backwards does not add or remove tokens', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 2, refillPerSecond: 1, now: clock.now })
    limiter.take('k')
    limiter.take('k')
    clock.advance(-10_000)
    expect(limiter.tryTake('k').allowed).toBe(false)
    clock.advance(10_000)
    expect(limiter.tryTake('k').allowed).toBe(false)
    clock.advance(1000)
    expect(limiter.tryTake('k').allowed).toBe(true)
  })

  it('property: over any schedule, allowed cost never exceeds capacity + refill × elapsed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0.1, max: 50, noNaN: true }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 1, max: 5 })), { maxLength: 200 }),
        (capacity, refillPerSecond, schedule) => {
          const clock = manualClock()
          const limiter = new RateLimiter({ capacity, refillPerSecond, now: clock.now })
          let allowed = 0
          let elapsed = 0
          for (const [dt, cost] of schedule) {
            clock.advance(dt)
            elapsed += dt
            if (cost > capacity) continue
            const r = limiter.tryTake('k', cost)
            if (r.allowed) allowed += cost
            else expect(r.retryAfterMs).toBeGreaterThan(0)
            expect(r.remaining).toBeGreaterThanOrEqual(0)
            expect(r.remaining).toBeLessThanOrEqual(capacity)
          }
          expect(allowed).toBeLessThanOrEqual(capacity + (refillPerSecond * elapsed) / 1000 + 1e-9)
        },
      ),
    )
  })

  it('property: waiting exactly retryAfterMs is always enough', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0.01, max: 1000, noNaN: true }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 50 }),
        fc.integer({ min: 1, max: 50 }),
        (capacity, refillPerSecond, gaps, rawCost) => {
          const cost = Math.min(rawCost, capacity)
          const clock = manualClock()
          const limiter = new RateLimiter({ capacity, refillPerSecond, now: clock.now })
          for (const gap of gaps) {
            clock.advance(gap)
            const r = limiter.tryTake('k', cost)
            if (!r.allowed) {
              clock.advance(r.retryAfterMs)
              expect(limiter.tryTake('k', cost).allowed).toBe(true)
            }
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('RateLimiter: bounded memory', () => {
  it('prune() drops buckets that have refilled to capacity and keeps the others', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 2, refillPerSecond: 1, now: clock.now, pruneIntervalMs: 1e9 })
    limiter.take('a')
    limiter.take('b')
    limiter.take('b')
    expect(limiter.size).toBe(2)
    clock.advance(1000) // a is full again, b has 1 of 2
    expect(limiter.prune()).toBe(1)
    expect(limiter.size).toBe(1)
    // the pruned key behaves exactly as a full bucket; the kept one kept its deficit
    expect(limiter.tokens('a')).toBe(2)
    expect(limiter.tokens('b')).toBeCloseTo(1)
    clock.advance(1000)
    expect(limiter.prune()).toBe(1)
    expect(limiter.size).toBe(0)
  })

  it('prunes idle buckets lazily every pruneIntervalMs', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 1, now: clock.now, pruneIntervalMs: 10_000 })
    for (let i = 0; i < 100; i++) limiter.take(`peer${i}${ECHO}`)
    expect(limiter.size).toBe(100)
    clock.advance(5_000)
    limiter.take(`new${ECHO}`)
    expect(limiter.size).toBe(101) // interval not reached yet
    clock.advance(5_000)
    limiter.take(`newer${ECHO}`)
    expect(limiter.size).toBe(1) // only the bucket just drained remains
  })

  it('keeps at most maxKeys buckets, evicting the least recently used', () => {
    const clock = manualClock()
    const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 3, now: clock.now })
    limiter.take('a')
    limiter.take('b')
    limiter.take('c')
    expect(limiter.tryTake('a').allowed).toBe(false) // touches a: b is now the oldest
    limiter.take('d') // evicts b
    expect(limiter.size).toBe(3)
    expect(limiter.tryTake('a').allowed).toBe(false)
    expect(limiter.tryTake('c').allowed).toBe(false)
    expect(limiter.tryTake('d').allowed).toBe(false)
    expect(limiter.tryTake('b').allowed).toBe(true) // forgotten, so it starts full
    for (let i = 0; i < 1000; i++) limiter.tryTake(`flood${i}`)
    expect(limiter.size).toBe(3)
  })

  it('reset() forgets one key', () => {
    const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 0.001, now: manualClock().now })
    limiter.take('a')
    limiter.reset('a')
    expect(limiter.tryTake('a').allowed).toBe(true)
  })
})
