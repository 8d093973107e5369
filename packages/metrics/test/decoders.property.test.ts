import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeMessage, encodeMessage } from '@vain/net/wire'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeChunk, GorillaEncoder, openStore, parseSummary } from '../src/index.js'
import { decimalScale, decodeDecimal, encodeDecimal } from '../src/store/decimal.js'
import { metricsProtocol } from '../src/vain-net.js'

const points = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.double()), { minLength: 1, maxLength: 300 })
  .chain((steps) =>
    fc.integer({ min: 0, max: 2 ** 45 }).map((start) => {
      let t = start
      return steps.map(([dt, v], i) => {
        if (i > 0) t += dt
        return { t, v }
      })
    }),
  )

describe('Gorilla chunks', () => {
  it('round-trip any increasing times and any float64 (NaN, ±0, ±Infinity, subnormals)', () => {
    fc.assert(
      fc.property(points, (ps) => {
        const e = new GorillaEncoder()
        const kept = ps.filter((p) => {
          if (!e.fits(p.t)) return false
          e.append(p.t, p.v)
          return true
        })
        const { ts, vs } = decodeChunk(e.bytes(), e.count)
        expect(ts).toEqual(kept.map((p) => p.t))
        expect(vs.map((v) => (Object.is(v, -0) ? '-0' : v))).toEqual(kept.map((p) => (Object.is(p.v, -0) ? '-0' : p.v)))
      }),
      { numRuns: 300 },
    )
  })

  it('any bytes and count: points or a ChunkDecodeError, never another throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: -5, max: 5000 }), (bytes, count) => {
        try {
          const { ts, vs } = decodeChunk(bytes, count)
          expect(ts.length).toBe(count)
          expect(vs.length).toBe(count)
        } catch (err) {
          expect((err as Error).name).toBe('ChunkDecodeError')
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('decimal chunks: values with up to 6 decimals round-trip exactly; any bytes give points or a ChunkDecodeError', () => {
    fc.assert(
      fc.property(
        points,
        fc.integer({ min: 0, max: 6 }),
        fc.array(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), { minLength: 300, maxLength: 300 }),
        (ps, k, ints) => {
          const ts = ps.map((p) => p.t)
          const vs = ts.map((_, i) => (ints[i] as number) / 10 ** k)
          const scale = decimalScale(vs)
          expect(scale).toBeGreaterThanOrEqual(0)
          expect(scale).toBeLessThanOrEqual(k)
          const bytes = encodeDecimal(ts, vs, scale)
          if (bytes === undefined) return // a delta-of-delta past 32 bits: the store keeps XOR
          const back = decodeDecimal(bytes, ts.length, scale)
          expect(back.ts).toEqual(ts)
          expect(back.vs).toEqual(vs)
        },
      ),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: -2, max: 3000 }),
        fc.integer({ min: -1, max: 8 }),
        (bytes, count, k) => {
          try {
            expect(decodeDecimal(bytes, count, k).ts.length).toBe(count)
          } catch (err) {
            expect((err as Error).name).toBe('ChunkDecodeError')
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('a store file of any bytes opens: its points, or set aside with a StoreCorruptError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vain-tsdb-fuzz-'))
    try {
      let i = 0
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, withMagic) => {
          const d = join(dir, String(i++))
          const store0 = openStore({ dir: d })
          store0.close()
          const magic = new TextEncoder().encode('VTSCHK01')
          writeFileSync(join(d, 'chunks.log'), withMagic ? Buffer.concat([magic, bytes]) : bytes)
          const store = openStore({ dir: d })
          for (const e of store.damaged) expect(e.name).toBe('StoreCorruptError')
          for (const h of store.list()) store.query(h)
          store.close()
        }),
        { numRuns: 100 },
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('/vain/metrics messages', () => {
  it('any bytes: a valid summary or a typed error, never another throw', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.anything().map((x) => {
            try {
              return encodeMessage(x)
            } catch {
              return new Uint8Array([0xff])
            }
          }),
        ),
        (bytes) => {
          try {
            const s = decodeMessage(bytes, metricsProtocol.response)
            expect(s.v).toBe(1)
          } catch (err) {
            expect(['InvalidMessageError', 'MessageTooLargeError']).toContain((err as Error).name)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('parseSummary: any value gives a summary or an InvalidSummaryError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({
            v: fc.constant(1),
            at: fc.integer({ min: -5, max: 2 ** 40 }),
            figures: fc.dictionary(fc.string(), fc.double()),
          }),
        ),
        (x) => {
          try {
            expect(parseSummary(x).v).toBe(1)
          } catch (err) {
            expect((err as Error).name).toBe('InvalidSummaryError')
          }
        },
      ),
      { numRuns: 1000 },
    )
  })
})
