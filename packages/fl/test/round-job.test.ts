import { describe, expect, it } from 'vitest'
import { softmaxRegression } from '../src/models/index.js'
import { computeJobId, JobSpecSchema, ResultBook, type RoundResult, runtimeFactory } from '../src/round/index.js'
import { JobRun } from '../src/round/job.js'

const spec = JobSpecSchema.parse({
  name: 'j',
  architecture: softmaxRegression(4, 2),
  initialModel: 'a'.repeat(64),
  dataset: { name: 'blobs' },
  strategy: { name: 'fedavg' },
  aggregator: { name: 'mean' },
  codec: { name: 'dense' },
  rounds: 3,
  roundDeadlineMs: 1000,
  minUpdates: 1,
  committeeSize: 3,
  local: { epochs: 1, batchSize: 8, lr: 0.1 },
  maxUpdateBytes: 4096,
})

function run(): JobRun {
  const jobId = computeJobId(spec, 'c', 1)
  const announcement = {
    v: 1 as const,
    jobId,
    spec,
    creator: 'c',
    createdAt: 1,
    envelope: { body: new Uint8Array(), signature: new Uint8Array() },
  }
  return new JobRun(announcement, runtimeFactory()(spec, 'me'), {
    announcement: announcement.envelope,
    jobId,
    round: 0,
    attempt: 0,
    model: spec.initialModel,
    history: [],
    finished: false,
  })
}

describe('updates held for a later round: bounded in count, bytes and per sender', () => {
  const limits = { maxEarlyUpdates: 10, maxEarlyBytes: 1000, maxEarlyPerSender: 2 }
  const early = (from: string, bytes: number) => ({ header: {}, payload: new Uint8Array(bytes), from })

  it('keeps at most maxEarlyPerSender from one sender, and never more than the byte and count totals', () => {
    const job = run()
    expect(job.holdEarly(early('a', 100), limits)).toBe(true)
    expect(job.holdEarly(early('a', 100), limits)).toBe(true)
    expect(job.holdEarly(early('a', 100), limits)).toBe(false) // per sender
    expect(job.holdEarly(early('b', 700), limits)).toBe(true)
    expect(job.holdEarly(early('c', 200), limits)).toBe(false) // 1,100 bytes > 1,000
    expect(job.earlyBytes).toBe(900)
    expect(job.takeEarly()).toHaveLength(3)
    expect(job.earlyBytes).toBe(0)
  })

  it('many fresh identities share the totals', () => {
    const job = run()
    let kept = 0
    for (let i = 0; i < 100; i++) if (job.holdEarly(early(`sybil-${i}`, 10), limits)) kept++
    expect(kept).toBe(10)
    expect(job.earlyBytes).toBeLessThanOrEqual(limits.maxEarlyBytes)
  })
})

describe('updates for a later round being read: reserved against the same bounds before a byte is read', () => {
  const limits = { maxEarlyUpdates: 10, maxEarlyBytes: 1000, maxEarlyPerSender: 2 }
  const early = (from: string, bytes: number) => ({ header: {}, payload: new Uint8Array(bytes), from })

  it('updates being read and updates held share the byte, count and per-sender bounds; a release frees the room', () => {
    const job = run()
    expect(job.holdEarly(early('a', 400), limits)).toBe(true)
    const b1 = job.reserveEarly('b', 400, limits)
    expect(b1).toBeTypeOf('function')
    // 400 held + 400 being read + 400 > 1,000: no room, whoever asks
    expect(job.reserveEarly('c', 400, limits)).toBeUndefined()
    expect(job.reserveEarly('a', 100, limits)).toBeTypeOf('function') // a: 1 held + 1 being read
    expect(job.reserveEarly('a', 10, limits)).toBeUndefined() // per sender: 2
    b1?.()
    b1?.() // releasing twice frees the room once
    expect(job.reserveEarly('c', 400, limits)).toBeTypeOf('function')
    expect(job.reserveEarly('d', 200, limits)).toBeUndefined() // 400 + 100 + 400 + 200 > 1,000
  })

  it('many fresh identities reading at once get at most maxEarlyBytes between them', () => {
    const job = run()
    let reserved = 0
    for (let i = 0; i < 1000; i++) if (job.reserveEarly(`sybil-${i}`, 64, limits) !== undefined) reserved++
    expect(reserved).toBe(10) // the count bound (10 × 64 bytes ≤ 1,000)
    const big = run()
    let bytes = 0
    for (let i = 0; i < 1000; i++) if (big.reserveEarly(`sybil-${i}`, 300, limits) !== undefined) bytes += 300
    expect(bytes).toBe(900)
  })
})

describe('results held for rounds this node has not reached: bounded in bytes', () => {
  it('keeps at most 16 MiB of signed bodies, whatever their number, and frees them when taken', () => {
    const book = new ResultBook()
    const result = (round: number, aggregator: string, bytes: number) =>
      ({
        round,
        attempt: 0,
        aggregator,
        envelope: { body: new Uint8Array(bytes), signature: new Uint8Array(64) },
      }) as unknown as RoundResult
    for (let i = 0; i < 100; i++) book.hold(result(5, `m${i}`, 1024 * 1024))
    expect(book.aheadCount).toBe(16)
    expect(book.aheadBodyBytes).toBe(16 * 1024 * 1024)
    book.hold(result(5, 'm0', 10)) // a duplicate key is not counted twice
    expect(book.aheadCount).toBe(16)
    expect(book.take(5, 0)).toHaveLength(16)
    expect(book.aheadBodyBytes).toBe(0)
  })
})
