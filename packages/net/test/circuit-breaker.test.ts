import { describe, expect, it, vi } from 'vitest'
import { CircuitOpenError } from '../src/errors.js'
import {
  type CircuitBreakerInit,
  CircuitBreakers,
  type CircuitStateChange,
  createCircuitBreakers,
} from '../src/limits/index.js'

function manualClock(start = 5_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

const boom = (): Promise<never> => Promise.reject(new Error('boom'))
const ok = (): Promise<string> => Promise.resolve('ok')

function setup(init: CircuitBreakerInit = {}) {
  const clock = manualClock()
  const changes: CircuitStateChange[] = []
  const breakers = new CircuitBreakers({
    failureThreshold: 3,
    baseBackoffMs: 1000,
    backoffMultiplier: 2,
    maxBackoffMs: 10_000,
    jitter: 0,
    now: clock.now,
    onStateChange: (c) => changes.push(c),
    ...init,
  })
  return { clock, breakers, changes }
}

async function failTimes(breakers: CircuitBreakers, peer: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breakers.exec(peer, boom)).rejects.toThrow('boom')
}

async function openError(p: Promise<unknown>): Promise<CircuitOpenError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(CircuitOpenError)
  expect((err as Error).name).toBe('CircuitOpenError')
  return err as CircuitOpenError
}

describe('CircuitBreakers', () => {
  it('passes results and errors through while closed', async () => {
    const { breakers } = setup()
    await expect(breakers.exec('p', ok)).resolves.toBe('ok')
    await expect(breakers.exec('p', () => 42)).resolves.toBe(42) // sync fn
    await expect(
      breakers.exec('p', () => {
        throw new TypeError('sync throw')
      }),
    ).rejects.toThrow(TypeError)
    expect(breakers.state('p')).toBe('closed')
    expect(breakers.state('unknown')).toBe('closed')
  })

  it('opens after N consecutive failures; a success in between resets the count', async () => {
    const { breakers, changes } = setup()
    await failTimes(breakers, 'p', 2)
    await breakers.exec('p', ok)
    await failTimes(breakers, 'p', 2)
    expect(breakers.state('p')).toBe('closed')
    expect(breakers.info('p').consecutiveFailures).toBe(2)
    await failTimes(breakers, 'p', 1)
    expect(breakers.state('p')).toBe('open')
    expect(changes).toEqual([
      { peerKey: 'p', from: 'closed', to: 'open', reason: '3 consecutive failures', backoffMs: 1000 },
    ])
  })

  it('fails fast while open without calling fn, with retryAfterMs counting down', async () => {
    const { breakers, clock } = setup()
    await failTimes(breakers, 'p', 3)
    const fn = vi.fn(ok)
    const err = await openError(breakers.exec('p', fn))
    expect(err.retryAfterMs).toBe(1000)
    expect(err.message).toMatch(/circuit for p is open \(3 consecutive failures\); retry in 1000 ms/)
    clock.advance(400)
    expect((await openError(breakers.exec('p', fn))).retryAfterMs).toBe(600)
    expect(breakers.info('p')).toMatchObject({ state: 'open', retryAfterMs: 600 })
    expect(fn).not.toHaveBeenCalled()
  })

  it('isolates peers', async () => {
    const { breakers } = setup()
    await failTimes(breakers, 'bad', 3)
    expect(breakers.state('bad')).toBe('open')
    await expect(breakers.exec('good', ok)).resolves.toBe('ok')
    expect(breakers.state('good')).toBe('closed')
  })

  it('half-opens after the backoff and a trial success closes it', async () => {
    const { breakers, clock, changes } = setup()
    await failTimes(breakers, 'p', 3)
    clock.advance(999)
    expect(breakers.state('p')).toBe('open')
    clock.advance(1)
    expect(breakers.state('p')).toBe('half-open')
    await expect(breakers.exec('p', ok)).resolves.toBe('ok')
    expect(breakers.state('p')).toBe('closed')
    expect(breakers.info('p')).toMatchObject({ consecutiveFailures: 0, reopens: 0, windowCalls: 0 })
    expect(changes.map((c) => `${c.from}->${c.to}`)).toEqual(['closed->open', 'open->half-open', 'half-open->closed'])
    expect(changes[2]?.reason).toBe('trial call succeeded')
    // closed again: it takes the full threshold to re-open, with the base backoff
    await failTimes(breakers, 'p', 2)
    expect(breakers.state('p')).toBe('closed')
    await failTimes(breakers, 'p', 1)
    expect(breakers.info('p')).toMatchObject({ state: 'open', retryAfterMs: 1000 })
  })

  it('a trial failure re-opens with an exponentially longer backoff, capped', async () => {
    const { breakers, clock, changes } = setup({ maxBackoffMs: 5000 })
    await failTimes(breakers, 'p', 3)
    const backoffs: number[] = []
    for (let i = 0; i < 5; i++) {
      const { retryAfterMs } = breakers.info('p')
      backoffs.push(retryAfterMs)
      clock.advance(retryAfterMs)
      expect(breakers.state('p')).toBe('half-open')
      await expect(breakers.exec('p', boom)).rejects.toThrow('boom')
      expect(breakers.state('p')).toBe('open')
    }
    expect(backoffs).toEqual([1000, 2000, 4000, 5000, 5000])
    expect(breakers.info('p').reopens).toBe(5)
    expect(changes.filter((c) => c.reason === 'trial call failed').map((c) => c.backoffMs)).toEqual([
      2000, 4000, 5000, 5000, 5000,
    ])
    // recovery resets the backoff
    clock.advance(5000)
    await breakers.exec('p', ok)
    await failTimes(breakers, 'p', 3)
    expect(breakers.info('p').retryAfterMs).toBe(1000)
  })

  it('allows only halfOpenMaxCalls concurrent trial calls', async () => {
    const { breakers, clock } = setup({ halfOpenMaxCalls: 1 })
    await failTimes(breakers, 'p', 3)
    clock.advance(1000)
    let release!: (v: string) => void
    const trial = breakers.exec('p', () => new Promise<string>((resolve) => (release = resolve)))
    const second = vi.fn(ok)
    const err = await openError(breakers.exec('p', second))
    expect(err.message).toMatch(/half-open and 1 trial call\(s\) are in flight/)
    expect(second).not.toHaveBeenCalled()
    release('done')
    await expect(trial).resolves.toBe('done')
    expect(breakers.state('p')).toBe('closed')
    await expect(breakers.exec('p', second)).resolves.toBe('ok')
  })

  it('with halfOpenMaxCalls > 1, the first trial outcome decides and later ones are ignored', async () => {
    const { breakers, clock } = setup({ halfOpenMaxCalls: 2 })
    await failTimes(breakers, 'p', 3)
    clock.advance(1000)
    let failFirst!: (e: Error) => void
    let succeedSecond!: (v: string) => void
    const first = breakers.exec('p', () => new Promise<string>((_, reject) => (failFirst = reject)))
    const second = breakers.exec('p', () => new Promise<string>((resolve) => (succeedSecond = resolve)))
    await openError(breakers.exec('p', ok)) // a third trial is refused
    failFirst(new Error('trial failed'))
    await expect(first).rejects.toThrow('trial failed')
    expect(breakers.info('p')).toMatchObject({ state: 'open', reopens: 1, retryAfterMs: 2000 })
    succeedSecond('late')
    await expect(second).resolves.toBe('late')
    expect(breakers.state('p')).toBe('open') // the late success did not close it
  })

  it('opens on the failure ratio over the window once minimumCalls are seen', async () => {
    const { breakers, clock, changes } = setup({
      failureThreshold: 100,
      failureRateThreshold: 0.5,
      minimumCalls: 10,
      windowMs: 10_000,
    })
    // alternate: never 2 consecutive failures, ratio 50 %
    for (let i = 0; i < 4; i++) {
      await breakers.exec('p', ok)
      await failTimes(breakers, 'p', 1)
      clock.advance(100)
    }
    await breakers.exec('p', ok)
    expect(breakers.info('p')).toMatchObject({ state: 'closed', windowCalls: 9, windowFailures: 4 })
    await failTimes(breakers, 'p', 1) // 10 calls, 5 failures
    expect(breakers.state('p')).toBe('open')
    expect(changes[0]?.reason).toMatch(/failure ratio 0.50 ≥ 0.5 over 10 calls/)
  })

  it('forgets failures that slid out of the window', async () => {
    const { breakers, clock } = setup({ failureThreshold: 100, minimumCalls: 4, windowMs: 10_000 })
    await failTimes(breakers, 'p', 3)
    clock.advance(11_000) // those failures are now outside the window
    await breakers.exec('p', ok)
    await failTimes(breakers, 'p', 1) // 2 calls in window: below minimumCalls
    expect(breakers.info('p')).toMatchObject({ state: 'closed', windowCalls: 2, windowFailures: 1 })
    await breakers.exec('p', ok)
    await breakers.exec('p', ok)
    expect(breakers.state('p')).toBe('closed') // 1 of 4 failed: 25 %
  })

  it('errors that isFailure rejects pass through and count as successes', async () => {
    class RemoteValidationError extends Error {}
    const { breakers, clock } = setup({ isFailure: (err) => !(err instanceof RemoteValidationError) })
    for (let i = 0; i < 10; i++) {
      await expect(breakers.exec('p', () => Promise.reject(new RemoteValidationError('nope')))).rejects.toThrow('nope')
    }
    expect(breakers.state('p')).toBe('closed')
    await failTimes(breakers, 'p', 3)
    clock.advance(1000)
    await expect(breakers.exec('p', () => Promise.reject(new RemoteValidationError('answered')))).rejects.toThrow()
    expect(breakers.state('p')).toBe('closed') // the peer answered: trial counts as success
  })

  it('applies jitter within [1 - jitter, 1] of the backoff, deterministically with a seeded random', async () => {
    const { breakers } = setup({ jitter: 0.5, random: () => 0.5 })
    await failTimes(breakers, 'p', 3)
    expect(breakers.info('p').retryAfterMs).toBe(750)
    const low = setup({ jitter: 0.5, random: () => 0.999999 })
    await failTimes(low.breakers, 'p', 3)
    expect(low.breakers.info('p').retryAfterMs).toBe(500)
  })

  it('dispatches typed state-change events', async () => {
    const clock = manualClock()
    const breakers = createCircuitBreakers({ failureThreshold: 1, jitter: 0, now: clock.now })
    const seen: string[] = []
    breakers.addEventListener('state-change', (evt) => seen.push(`${evt.detail.peerKey}:${evt.detail.to}`))
    await failTimes(breakers, 'p', 1)
    clock.advance(1000)
    await breakers.exec('p', ok)
    expect(seen).toEqual(['p:open', 'p:half-open', 'p:closed'])
  })

  it('reset() closes a circuit; maxPeers bounds memory', async () => {
    const { breakers, changes } = setup({ maxPeers: 2 })
    await failTimes(breakers, 'p', 3)
    breakers.reset('p')
    expect(breakers.state('p')).toBe('closed')
    expect(changes.at(-1)).toMatchObject({ from: 'open', to: 'closed', reason: 'reset' })
    await breakers.exec('a', ok)
    await breakers.exec('b', ok)
    await breakers.exec('c', ok)
    expect(breakers.size).toBe(2)
  })

  it('ignores the outcome of calls started before the circuit opened', async () => {
    const { breakers } = setup()
    let lateSuccess!: (v: string) => void
    const slow = breakers.exec('p', () => new Promise<string>((resolve) => (lateSuccess = resolve)))
    await failTimes(breakers, 'p', 3)
    expect(breakers.state('p')).toBe('open')
    lateSuccess('late')
    await expect(slow).resolves.toBe('late')
    expect(breakers.state('p')).toBe('open')
  })

  it('rejects invalid options with ConfigError', () => {
    for (const init of [
      { failureThreshold: 0 },
      { failureRateThreshold: 1.5 },
      { jitter: -0.1 },
      { baseBackoffMs: 5000, maxBackoffMs: 1000 },
      { backoffMultiplier: 0.5 },
      { halfOpenMaxCalls: 0 },
    ]) {
      expect(() => new CircuitBreakers(init)).toThrow(expect.objectContaining({ name: 'ConfigError' }))
    }
  })
})
