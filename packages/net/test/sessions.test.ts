import { describe, expect, it } from 'vitest'
import { SessionTracker } from '../src/sessions/index.js'

describe('SessionTracker', () => {
  it('records connects, authentication, requests and traffic per peer', () => {
    let now = 1000
    const s = new SessionTracker({ now: () => now, rttAlpha: 0.5 })
    s.recordConnect('A')
    s.markAuthenticated('A')
    now = 2000
    s.recordRequest('A', true, 10)
    s.recordRequest('A', true, 20)
    s.recordRequest('A', false)
    s.recordTraffic('A', 100, 50)
    const a = s.get('A')
    expect(a).toMatchObject({ authenticated: true, firstSeen: 1000, lastSeen: 2000, requestsOk: 2, requestsFailed: 1 })
    expect(a?.rttMs).toBe(15) // EWMA with alpha 0.5
    expect(a?.successRate).toBeCloseTo(2 / 3)
    expect(a?.bytesIn).toBe(100)
    expect(a?.bytesOut).toBe(50)
  })

  it('derives network health: peer counts, RTT quantiles, success rate', () => {
    const s = new SessionTracker()
    for (let i = 0; i < 10; i++) {
      s.recordConnect(`P${i}`)
      if (i % 2 === 0) s.markAuthenticated(`P${i}`)
      s.recordRequest(`P${i}`, true, i + 1)
    }
    s.recordRequest('P0', false)
    s.recordDisconnect('P9')
    const h = s.health()
    expect(h.connectedPeers).toBe(9)
    expect(h.authenticatedPeers).toBe(5)
    expect(h.rttMedianMs).toBe(5) // RTTs 1..9 of connected peers
    expect(h.rttP95Ms).toBe(9)
    expect(h.successRate).toBeCloseTo(10 / 11)
  })

  it('a disconnect clears the authenticated flag', () => {
    const s = new SessionTracker()
    s.recordConnect('A')
    s.markAuthenticated('A')
    s.recordDisconnect('A')
    expect(s.get('A')?.authenticated).toBe(false)
    expect(s.health().authenticatedPeers).toBe(0)
  })

  it('forgets idle disconnected peers and bounds memory', () => {
    let now = 0
    const s = new SessionTracker({ now: () => now, forgetAfterMs: 100, maxSessions: 5 })
    s.recordConnect('live')
    for (let i = 0; i < 5; i++) {
      now++
      s.recordTraffic(`gone${i}`, 1, 1)
    }
    expect(s.all().length).toBe(5) // bounded: the oldest idle one was dropped, the connected one kept
    expect(s.get('live')).toBeDefined()
    now = 1000
    expect(s.prune()).toBe(4)
    expect(s.all().map((x) => x.peerId)).toEqual(['live'])
  })
})
