import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { decodeMessage, encodeMessage } from '../src/wire/index.js'

const Hello = z.object({ v: z.literal(1), text: z.string().max(100), n: z.number().int() })

describe('wire: cbor + zod messages', () => {
  it('round-trips a valid message', () => {
    const msg = { v: 1 as const, text: 'hello', n: 42 }
    expect(decodeMessage(encodeMessage(msg), Hello)).toEqual(msg)
  })

  it('rejects oversized input with MessageTooLargeError', () => {
    const bytes = encodeMessage({ v: 1, text: 'x'.repeat(90), n: 1 })
    expect(() => decodeMessage(bytes, Hello, { maxBytes: 10 })).toThrow(
      expect.objectContaining({ name: 'MessageTooLargeError' }),
    )
  })

  it('rejects a well-formed message of the wrong shape with InvalidMessageError', () => {
    expect(() => decodeMessage(encodeMessage({ v: 2, text: 'a', n: 1 }), Hello)).toThrow(
      expect.objectContaining({ name: 'InvalidMessageError' }),
    )
  })

  it('property: any bytes give a valid value or a typed error, never another throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
        try {
          const v = decodeMessage(bytes, Hello)
          expect(Hello.safeParse(v).success).toBe(true)
        } catch (err) {
          expect(['InvalidMessageError', 'MessageTooLargeError']).toContain((err as Error).name)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('property: encode/decode round-trips arbitrary valid messages', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.integer(), (text, n) => {
        const msg = { v: 1 as const, text, n }
        expect(decodeMessage(encodeMessage(msg), Hello)).toEqual(msg)
      }),
    )
  })
})
