/**
 * Limits on what a job can carry: its free-form fields (`architecture`, the dataset's and each
 * part's `params`) are at most 16 levels deep and 64 KiB encoded, and a message body nested
 * deeper than the decoder's limit is an InvalidMessageError, never a stack overflow.
 */
import { decode, encode } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBounded, MAX_MESSAGE_DEPTH } from '../src/round/envelope.js'
import { InvalidMessageError } from '../src/round/errors.js'
import { computeJobId, openRoundMessage, signRoundMessage } from '../src/round/messages.js'
import {
  JobSpecSchema,
  MAX_JOB_FIELD_BYTES,
  MAX_JOB_FIELD_DEPTH,
  measureValue,
  ROUND_PROTOCOL_VERSION,
} from '../src/round/spec.js'
import { blobsSpec } from './fixtures/protocol.js'

const MODEL = 'a'.repeat(64)
const sign = async (d: Uint8Array): Promise<Uint8Array> => d.subarray(0, 8)

/** `{ a: { a: … { a: 1 } } }`, `levels` objects deep (built without recursion). */
function nested(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { a: 1 }
  for (let i = 1; i < levels; i++) v = { a: v }
  return v
}

/** CBOR of `levels` nested one-item arrays around 0. */
function deepArrays(levels: number): Uint8Array {
  const body = new Uint8Array(levels + 1)
  body.fill(0x81, 0, levels)
  body[levels] = 0x00
  return body
}

function issuesOf(input: unknown): string[] {
  const parsed = JobSpecSchema.safeParse(input)
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}

describe('job spec limits', () => {
  it('a spec whose dataset params nest 1,468 levels deep is refused, with the reason', () => {
    const spec = blobsSpec(MODEL, { dataset: { name: 'blobs', params: nested(1_468) } })
    expect(issuesOf(spec)).toEqual([`dataset.params: nested deeper than ${MAX_JOB_FIELD_DEPTH} levels`])
  })

  it('each free-form field is bounded: architecture, strategy, aggregator and codec params', () => {
    const deep = nested(MAX_JOB_FIELD_DEPTH + 1)
    expect(issuesOf(blobsSpec(MODEL, { architecture: deep }))).toEqual([
      `architecture: nested deeper than ${MAX_JOB_FIELD_DEPTH} levels`,
    ])
    for (const part of ['strategy', 'aggregator', 'codec'] as const) {
      expect(issuesOf(blobsSpec(MODEL, { [part]: { name: 'x', params: deep } }))).toEqual([
        `${part}.params: nested deeper than ${MAX_JOB_FIELD_DEPTH} levels`,
      ])
    }
    // params are a record: depth 1 itself, so 16 levels pass and 17 do not
    expect(issuesOf(blobsSpec(MODEL, { dataset: { name: 'blobs', params: nested(MAX_JOB_FIELD_DEPTH) } }))).toEqual([])
    const big = { blob: 'x'.repeat(MAX_JOB_FIELD_BYTES) }
    expect(issuesOf(blobsSpec(MODEL, { codec: { name: 'dense', params: big } }))).toEqual([
      `codec.params: larger than ${MAX_JOB_FIELD_BYTES} bytes encoded`,
    ])
    const wide = { list: Array.from({ length: 100_000 }, () => 1) }
    expect(issuesOf(blobsSpec(MODEL, { aggregator: { name: 'mean', params: wide } }))).toEqual([
      `aggregator.params: larger than ${MAX_JOB_FIELD_BYTES} bytes encoded`,
    ])
    // a cycle is refused by depth, not walked forever
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(issuesOf(blobsSpec(MODEL, { dataset: { name: 'blobs', params: cycle } }))).toHaveLength(1)
  })

  it('measureValue: the depth of any JSON value, and about its CBOR size (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const m = measureValue(value, { maxDepth: 100, maxBytes: 1 << 30 })
        expect(m.exceeded).toBeUndefined()
        expect(m.depth).toBe(depthOf(value))
        // within a few bytes per value of cborg's encoding (floats may take fewer bytes there)
        expect(m.bytes).toBeGreaterThanOrEqual(encode(value).byteLength * 0.5)
        expect(m.bytes).toBeLessThanOrEqual(encode(value).byteLength * 2 + 16)
      }),
    )
  })

  it('a normal job round-trips through signing and opening; a crafted deep one is an InvalidMessageError', async () => {
    const spec = JobSpecSchema.parse(
      blobsSpec(MODEL, { dataset: { name: 'blobs', params: { split: { seed: 7, ratios: [0.8, 0.2] } } } }),
    )
    const fields = { v: ROUND_PROTOCOL_VERSION as 1, jobId: computeJobId(spec, 'node-0', 1), spec, creator: 'node-0' }
    const job = await signRoundMessage('job', { ...fields, createdAt: 1 }, sign)
    const opened = openRoundMessage('job', job.envelope)
    expect(opened.spec).toEqual(spec)
    expect(opened.jobId).toBe(job.jobId)

    // the same job with deep params, signed without the schema (as an attacker would)
    const deepSpec = { ...spec, dataset: { name: 'blobs', params: nested(1_468) } }
    const crafted = { body: encode({ ...fields, spec: deepSpec, createdAt: 1 }), signature: new Uint8Array(8) }
    expect(() => openRoundMessage('job', crafted)).toThrow(InvalidMessageError)
    expect(() => openRoundMessage('job', crafted)).toThrow(/nested deeper than/)
  })

  it('a body of 100,000 nested arrays is refused by depth, before the recursive decoder overflows', () => {
    const raw = { body: deepArrays(100_000), signature: new Uint8Array(8) }
    expect(() => openRoundMessage('job', raw)).toThrow(InvalidMessageError)
    expect(() => openRoundMessage('job', raw)).toThrow(`job: undecodable body: nested deeper than ${MAX_MESSAGE_DEPTH}`)
    for (const kind of ['update', 'result', 'holdings'] as const) {
      expect(() => openRoundMessage(kind, raw)).toThrow(/nested deeper than/)
    }
    // maps, indefinite-length arrays and tags count as levels too
    const maps = new Uint8Array(3 * 1_000 + 1)
    for (let i = 0; i < 1_000; i++) maps.set([0xa1, 0x61, 0x61], 3 * i) // {a: {a: …
    expect(() => decodeBounded(maps)).toThrow(/nested deeper than/)
    const indefinite = new Uint8Array(1_000).fill(0x9f) // [_ [_ [_ …
    expect(() => decodeBounded(indefinite)).toThrow(/nested deeper than/)
  })

  it('the depth limit decodes exactly what cborg decodes within it (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 10 }), (value) => {
        const bytes = encode(value)
        expect(decodeBounded(bytes)).toEqual(decode(bytes))
      }),
    )
    // indefinite lengths: [_ [_ 1] {_ "a": [2]}]
    const indefinite = Uint8Array.from([0x9f, 0x9f, 0x01, 0xff, 0xbf, 0x61, 0x61, 0x81, 0x02, 0xff, 0xff])
    expect(decodeBounded(indefinite, 3)).toEqual([[1], { a: [2] }])
    expect(() => decodeBounded(indefinite, 2)).toThrow(/nested deeper than 2/)
    expect(decodeBounded(deepArrays(MAX_MESSAGE_DEPTH))).toEqual(nestedArrays(MAX_MESSAGE_DEPTH))
    expect(() => decodeBounded(deepArrays(MAX_MESSAGE_DEPTH + 1))).toThrow(/nested deeper than/)
    // siblings do not add up: 1,000 one-deep arrays side by side are 2 levels
    const wide = encode(Array.from({ length: 1_000 }, () => [[1]]))
    expect(decodeBounded(wide, 3)).toHaveLength(1_000)
  })
})

function nestedArrays(levels: number): unknown {
  let v: unknown = 0
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf))
  if (value !== null && typeof value === 'object') return 1 + Math.max(0, ...Object.values(value).map(depthOf))
  return 0
}
