import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../src/logger.js'

function sink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk))
      done()
    },
  })
  return {
    stream,
    lines: () =>
      out
        .join('')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  }
}

describe('node logger', () => {
  it('writes one warning message at most perWindow times a window, then says how many it suppressed', () => {
    let t = 0
    const { stream, lines } = sink()
    const log = createLogger({
      level: 'info',
      json: true,
      stream,
      rateLimit: { perWindow: 3, windowMs: 1000 },
      now: () => t,
    })
    for (let i = 0; i < 100; i++) log.warn('rejected update', { i })
    log.warn('another message')
    expect(lines().filter((l) => l.msg === 'rejected update')).toHaveLength(3)
    expect(lines().filter((l) => l.msg === 'another message')).toHaveLength(1)
    t = 1000
    log.warn('rejected update', { i: 100 })
    const last = lines().at(-1) as Record<string, unknown>
    expect(last).toMatchObject({ msg: 'rejected update', i: 100, suppressed: 97, level: 'warn' })
    // info lines are not limited
    for (let i = 0; i < 10; i++) log.info('round completed')
    expect(lines().filter((l) => l.msg === 'round completed')).toHaveLength(10)
  })
})
