import { generateKeyPairSync, sign, verify } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { softmaxRegression } from '../src/models/index.js'
import {
  admitJob,
  admitUpdate,
  agreedEntries,
  computeJobId,
  identicalMajority,
  type JobSpec,
  JobSpecSchema,
  majority,
  openRoundMessage,
  RoundProtocolError,
  signRoundMessage,
  type UpdateAdmissionState,
  verifyMessage,
} from '../src/round/index.js'

const keys = generateKeyPairSync('ed25519')
const signer = async (d: Uint8Array) => new Uint8Array(sign(null, d, keys.privateKey))
const verifier = async (_who: string, d: Uint8Array, s: Uint8Array) => verify(null, d, keys.publicKey, s)

const MODEL = 'a'.repeat(64)
const spec: JobSpec = JobSpecSchema.parse({
  name: 'j',
  architecture: softmaxRegression(4, 2),
  initialModel: MODEL,
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
const jobId = computeJobId(spec, 'creator', 1)
const committee = ['m1', 'm2', 'm3']

function state(over: Partial<UpdateAdmissionState> = {}, held = new Set<string>()): UpdateAdmissionState {
  return {
    self: 'm1',
    jobId,
    spec,
    round: {
      round: 2,
      baseModel: MODEL,
      committee,
      regions: undefined,
      expected: undefined,
      has: (_s, k) => held.has(k),
    },
    baseRoundOf: () => undefined,
    ...over,
  }
}

const header = (over: Record<string, unknown> = {}) => ({
  jobId,
  round: 2,
  baseModel: MODEL,
  trainer: 't1',
  numSamples: 10,
  payloadBytes: 100,
  ...over,
})

const errorName = (v: ReturnType<typeof admitUpdate>): string => (v.ok ? 'ok' : v.error.name)

describe('round messages: signed as sent, decoded with typed errors', () => {
  it('property: any value decodes to a valid message or gives InvalidMessageError, never another throw', () => {
    const kinds = ['job', 'update', 'result', 'holdings'] as const
    fc.assert(
      fc.property(
        fc.constantFrom(...kinds),
        fc.oneof(
          fc.anything(),
          fc.record({ body: fc.uint8Array({ maxLength: 512 }), signature: fc.uint8Array({ maxLength: 128 }) }),
        ),
        (kind, raw) => {
          try {
            openRoundMessage(kind, raw)
          } catch (err) {
            expect((err as Error).name).toBe('InvalidMessageError')
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('property: a signed header round-trips, and changing any byte of its body breaks the signature', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 1e6 }),
        fc.nat(),
        async (round, numSamples, flip) => {
          const fields = { v: 1 as const, ...header({ round, numSamples }), payloadHash: 'b'.repeat(64) }
          const signed = await signRoundMessage('update', fields as never, signer)
          const opened = openRoundMessage('update', signed.envelope)
          expect(opened.round).toBe(round)
          expect(opened.numSamples).toBe(numSamples)
          expect(await verifyMessage('update', opened.envelope, 't1', verifier)).toBe(true)
          const body = signed.envelope.body.slice()
          const i = flip % body.length
          body[i] = (body[i] as number) ^ 0x01
          expect(await verifyMessage('update', { body, signature: signed.envelope.signature }, 't1', verifier)).toBe(
            false,
          )
          // a signature of one kind never verifies as another
          expect(await verifyMessage('result', signed.envelope, 't1', verifier)).toBe(false)
        },
      ),
      { numRuns: 50 },
    )
  })
})

describe('admission: pure checks on a header before its payload is read', () => {
  it('refuses an unknown job, an oversized payload, a past round; holds a future round as early', () => {
    expect(errorName(admitUpdate(undefined, header(), 't1'))).toBe('StaleUpdateError')
    expect(errorName(admitUpdate(state(), header({ payloadBytes: 4097 }), 't1'))).toBe('RejectedUpdateError')
    expect(errorName(admitUpdate(state(), header({ round: 1 }), 't1'))).toBe('StaleUpdateError')
    const early = admitUpdate(state(), header({ round: 3 }), 't1')
    expect(early.ok && early.value).toBe('early')
    expect(errorName(admitUpdate(state(), header({ round: 3 }), 'someone-else'))).toBe('ForgedMessageError')
  })

  it('refuses a self-reported sample count above what the job allows, and a round more than one ahead', () => {
    expect(spec.maxSamplesPerUpdate).toBe(1_000_000)
    const claim = admitUpdate(state(), header({ numSamples: 1_000_000_000 }), 't1')
    expect(!claim.ok && claim.error.message).toContain('1000000000 samples')
    expect(admitUpdate(state(), header({ numSamples: 1_000_000 }), 't1').ok).toBe(true)
    expect(errorName(admitUpdate(state(), header({ round: 4 }), 't1'))).toBe('StaleUpdateError')
  })

  it('routes a trainer update to the committee; refuses it when this node is not a member, a duplicate, a stranger relaying', () => {
    const ok = admitUpdate(state(), header(), 't1')
    expect(ok.ok && ok.value !== 'early' && ok.value.kind).toBe('committee')
    expect(errorName(admitUpdate(state({ self: 'x' }), header(), 't1'))).toBe('RejectedUpdateError')
    expect(errorName(admitUpdate(state({}, new Set(['t1'])), header(), 't1'))).toBe('RejectedUpdateError')
    expect(errorName(admitUpdate(state(), header(), 'mallory'))).toBe('ForgedMessageError')
    const relayed = admitUpdate(state(), header(), 'm2')
    expect(relayed.ok && relayed.value !== 'early' && relayed.value.relayed).toBe(true)
  })

  it('takes an update on an older model only in asynchronous jobs, within maxRounds', () => {
    const old = header({ baseModel: 'c'.repeat(64) })
    const history = { baseRoundOf: () => 1 }
    expect(errorName(admitUpdate(state(history), old, 't1'))).toBe('StaleUpdateError')
    const asyncSpec = { ...spec, staleness: { maxRounds: 2, exponent: 0.5 } }
    const taken = admitUpdate(state({ ...history, spec: asyncSpec }), old, 't1')
    expect(taken.ok && taken.value !== 'early' && taken.value.staleness).toBe(1)
  })

  it('property: any header gives a verdict (accepted, early or a RoundProtocolError), deterministically', () => {
    fc.assert(
      fc.property(
        fc.record({
          round: fc.integer({ min: 0, max: 5 }),
          trainer: fc.constantFrom('t1', 't2', 'm2', 'mallory'),
          payloadBytes: fc.integer({ min: 1, max: 10_000 }),
          baseModel: fc.constantFrom(MODEL, 'c'.repeat(64)),
        }),
        fc.constantFrom('t1', 't2', 'm2', 'mallory'),
        fc.constantFrom('m1', 'x'),
        (h, from, self) => {
          const a = admitUpdate(state({ self }), header(h), from)
          const b = admitUpdate(state({ self }), header(h), from)
          expect(a).toEqual(b)
          if (!a.ok) expect(a.error).toBeInstanceOf(RoundProtocolError)
          if (h.payloadBytes > spec.maxUpdateBytes) expect(a.ok).toBe(false)
          if (a.ok && a.value !== 'early') {
            expect(self).toBe('m1')
            expect(from === h.trainer || committee.includes(from)).toBe(true)
          }
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('a job whose id is not the hash of its spec is forged; a bad architecture is invalid', () => {
    expect(admitJob({ jobId, spec, creator: 'creator', createdAt: 1 }).ok).toBe(true)
    const forged = admitJob({ jobId, spec, creator: 'mallory', createdAt: 1 })
    expect(!forged.ok && forged.error.name).toBe('ForgedMessageError')
    const bad = admitJob({ jobId, spec: { ...spec, architecture: { kind: 'nope' } }, creator: 'creator', createdAt: 1 })
    expect(!bad.ok && bad.error.name).toBe('InvalidJobError')
  })
})

describe('agreedEntries: the updates a majority of the committee holds', () => {
  const entry = fc.record({
    trainer: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    payloadHash: fc.constantFrom('1'.repeat(64), '2'.repeat(64)),
  })
  it('property: order-independent, sorted, and exactly the entries at least a majority lists', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uniqueArray(entry, { maxLength: 5, selector: (e) => e.trainer }), { minLength: 1, maxLength: 7 }),
        (lists) => {
          const size = lists.length
          const agreed = agreedEntries(
            lists.map((held) => ({ held })),
            size,
          )
          const reversed = agreedEntries(
            [...lists].reverse().map((held) => ({ held: [...held].reverse() })),
            size,
          )
          expect(reversed).toEqual(agreed)
          expect([...agreed].map((e) => e.trainer)).toEqual([...agreed].map((e) => e.trainer).sort())
          for (const e of agreed) {
            const n = lists.filter((l) =>
              l.some((x) => x.trainer === e.trainer && x.payloadHash === e.payloadHash),
            ).length
            expect(n).toBeGreaterThanOrEqual(majority(size))
          }
          // a trainer never appears twice (two payloads cannot both be held by a majority)
          expect(new Set(agreed.map((e) => e.trainer)).size).toBe(agreed.length)
        },
      ),
    )
  })

  it('property: once a majority declared the same set, the holdings still to come cannot change the agreed set', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { maxLength: 5, selector: (e) => e.trainer }),
        fc.array(fc.uniqueArray(entry, { maxLength: 5, selector: (e) => e.trainer }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 7 }),
        (common, others, size) => {
          const need = majority(size)
          if (others.length + need > size) return
          const early = Array.from({ length: need }, () => ({ held: common }))
          expect(identicalMajority(early, size)).toBe(true)
          const all = [...early, ...others.map((held) => ({ held }))]
          expect(agreedEntries(all, size)).toEqual(agreedEntries(early, size))
        },
      ),
    )
  })
})
