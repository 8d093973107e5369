/**
 * The feed's message decoder (what a node's WebSocket server runs on every client frame): any
 * input, text or bytes, decodes to a valid message or throws a typed FeedError, never anything
 * else; valid messages round-trip; the server-message decoder likewise.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  backoffDelay,
  decodeClientMessage,
  decodeServerMessage,
  FEED_CHANNELS,
  FEED_ERRORS,
  FeedError,
  MAX_CLIENT_FRAME_BYTES,
} from '../src/feed/index.js'

const typed = (f: () => unknown): FeedError | undefined => {
  try {
    f()
    return undefined
  } catch (err) {
    expect(err).toBeInstanceOf(FeedError)
    expect(FEED_ERRORS).toContain((err as FeedError).code)
    return err as FeedError
  }
}

const peer = fc.constantFrom(
  '12D3KooWGRUVh2Wv6mA3xYmwcdVyqXB3kQvSx3GzGbCqKyVQm9qM',
  'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
)
const channel = fc.constantFrom(...FEED_CHANNELS)
const validMessage = fc.oneof(
  fc.record(
    { type: fc.constantFrom('subscribe', 'unsubscribe'), channels: fc.uniqueArray(channel, { minLength: 1 }), peer },
    { requiredKeys: ['type', 'channels'] },
  ),
  fc.constant({ type: 'ping' }),
  fc.record({ type: fc.constant('auth'), token: fc.string({ minLength: 1, maxLength: 100 }) }),
)
/** JSON shaped like messages, often wrong. */
const nearMessage = fc.record(
  {
    type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'auth', 'hello', ''), fc.jsonValue()),
    channels: fc.oneof(fc.array(fc.oneof(channel, fc.string(), fc.jsonValue())), fc.jsonValue()),
    peer: fc.oneof(peer, fc.string(), fc.jsonValue()),
    token: fc.oneof(fc.string(), fc.jsonValue()),
  },
  { requiredKeys: [] },
)

describe('decodeClientMessage', () => {
  it('any string: a message or a typed FeedError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6000 }), (s) => {
        typed(() => decodeClientMessage(s))
      }),
      { numRuns: 500 },
    )
  })

  it('any bytes, text or binary frames: a message or a typed FeedError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), fc.boolean(), (b, binary) => {
        const e = typed(() => decodeClientMessage(b, binary))
        if (binary) expect(e?.code).toMatch(/BinaryFrame|FrameTooLarge/)
      }),
      { numRuns: 300 },
    )
  })

  it('any JSON value and near-messages: a message or a typed FeedError with the right name', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearMessage), (v) => {
        const text = JSON.stringify(v) ?? 'null'
        const e = typed(() => decodeClientMessage(text))
        if (e === undefined) return
        if (text.length > MAX_CLIENT_FRAME_BYTES) expect(e.code).toBe('FrameTooLarge')
      }),
      { numRuns: 1000 },
    )
  })

  it('valid messages decode to themselves', () => {
    fc.assert(
      fc.property(validMessage, (m) => {
        expect(decodeClientMessage(JSON.stringify(m))).toEqual(m)
        expect(decodeClientMessage(new TextEncoder().encode(JSON.stringify(m)))).toEqual(m)
      }),
      { numRuns: 300 },
    )
  })

  it('names the failure: malformed JSON, unknown type, unknown channel, bad peer, oversize, binary', () => {
    const code = (f: () => unknown) => typed(f)?.code
    expect(code(() => decodeClientMessage('{"type":'))).toBe('InvalidJson')
    expect(code(() => decodeClientMessage('[1]'))).toBe('InvalidMessage')
    expect(code(() => decodeClientMessage('{"type":"shout"}'))).toBe('UnknownMessageType')
    expect(code(() => decodeClientMessage('{"type":"subscribe","channels":["peers","gossip"]}'))).toBe('UnknownChannel')
    expect(code(() => decodeClientMessage('{"type":"subscribe","channels":[]}'))).toBe('InvalidMessage')
    expect(code(() => decodeClientMessage('{"type":"subscribe","channels":["peers"],"peer":"x/y"}'))).toBe(
      'InvalidPeerId',
    )
    expect(code(() => decodeClientMessage(`{"type":"ping","pad":"${'x'.repeat(5000)}"}`))).toBe('FrameTooLarge')
    expect(code(() => decodeClientMessage(new Uint8Array([1, 2]), true))).toBe('BinaryFrame')
    // multi-byte characters count as bytes, not UTF-16 units
    expect(code(() => decodeClientMessage(`{"type":"ping","pad":"${'é'.repeat(2100)}"}`))).toBe('FrameTooLarge')
  })
})

describe('decodeServerMessage', () => {
  it('any string or JSON: a server message or a typed InvalidServerMessage', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
        ),
        (s) => {
          const e = typed(() => decodeServerMessage(s))
          if (e !== undefined) expect(e.code).toBe('InvalidServerMessage')
        },
      ),
      { numRuns: 500 },
    )
    expect(
      decodeServerMessage('{"type":"event","channel":"peers","seq":1,"ts":5,"data":{"snapshot":[]}}'),
    ).toMatchObject({
      type: 'event',
      seq: 1,
    })
  })
})

describe('backoffDelay', () => {
  it('grows by the factor up to the cap; jitter takes off at most its share', () => {
    const b = { initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.5 }
    expect([0, 1, 2, 3].map((n) => backoffDelay(n, b, () => 0))).toEqual([100, 200, 400, 800])
    expect(backoffDelay(30, b, () => 0)).toBe(5000)
    expect(backoffDelay(30, b, () => 0.999_999)).toBe(2500)
    fc.assert(
      fc.property(fc.nat(1000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const d = backoffDelay(n, b, () => r)
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(5000)
      }),
    )
  })
})
