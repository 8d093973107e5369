import { createHash } from 'node:crypto'
import type { Libp2p } from '@libp2p/interface'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { RateLimitedError } from '../src/errors.js'
import {
  definePayloadProtocol,
  defineRequestProtocol,
  FramedStream,
  handlePayloads,
  handleRequests,
  sendPayload,
  sendRequest,
} from '../src/protocols/index.js'
import { encodeMessage } from '../src/wire/index.js'
import { createTestLibp2p, stopAll } from './fixtures/libp2p.js'

const echo = defineRequestProtocol({
  id: '/vain-test/echo/1.0.0',
  request: z.object({ text: z.string().max(1000), delayMs: z.number().int().max(60_000).optional() }),
  response: z.object({ text: z.string(), from: z.string() }),
  maxRequestBytes: 4096,
  timeoutMs: 5_000,
})

const limited = defineRequestProtocol({
  id: '/vain-test/limited/1.0.0',
  request: z.object({}),
  response: z.object({ ok: z.boolean() }),
})

const blob = definePayloadProtocol({
  id: '/vain-test/blob/1.0.0',
  meta: z.object({ name: z.string().max(100), sha256: z.string().length(64) }),
  maxPayloadBytes: 300 * 1024 * 1024,
  chunkBytes: 1024 * 1024,
})

describe('protocols: request/response and payload streaming on real nodes', () => {
  let a: Libp2p
  let b: Libp2p
  let calls = 0
  const received: Array<{ name: string; ok: boolean; bytes: number }> = []

  beforeAll(async () => {
    a = await createTestLibp2p()
    b = await createTestLibp2p()
    await handleRequests(b, echo, async (req, ctx) => {
      if (req.delayMs !== undefined) await new Promise((r) => setTimeout(r, req.delayMs))
      return { text: req.text, from: ctx.remotePeer.toString() }
    })
    await handleRequests(b, limited, () => ({ ok: true }), {
      admit: () => {
        calls++
        if (calls > 3) throw new RateLimitedError('too many requests', 1234)
      },
    })
    await handlePayloads(b, blob, async (meta, body) => {
      const hash = createHash('sha256')
      let bytes = 0
      for await (const chunk of body) {
        hash.update(chunk)
        bytes += chunk.byteLength
        // a slow consumer: the sender must wait, not overflow buffers
        if (bytes % (16 * 1024 * 1024) < chunk.byteLength) await new Promise((r) => setTimeout(r, 20))
      }
      const ok = hash.digest('hex') === meta.sha256
      received.push({ name: meta.name, ok, bytes })
      if (!ok) throw new Error('hash mismatch')
    })
  })

  afterAll(async () => {
    await stopAll([a, b])
  })

  it('answers a validated request', async () => {
    const { response, bytesIn, bytesOut } = await sendRequest(a, b.getMultiaddrs(), echo, { text: 'hello' })
    expect(response).toEqual({ text: 'hello', from: a.peerId.toString() })
    expect(bytesIn).toBeGreaterThan(0)
    expect(bytesOut).toBeGreaterThan(0)
  })

  it('refuses an invalid request locally before sending', async () => {
    await expect(sendRequest(a, b.peerId, echo, { text: 'x'.repeat(2000) })).rejects.toMatchObject({
      name: 'InvalidMessageError',
    })
  })

  it('times out a stalled handler with a TimeoutError', async () => {
    await expect(
      sendRequest(a, b.peerId, echo, { text: 'slow', delayMs: 3_000 }, { timeoutMs: 300 }),
    ).rejects.toMatchObject({ name: 'TimeoutError' })
    // the server keeps serving
    const { response } = await sendRequest(a, b.peerId, echo, { text: 'after' })
    expect(response.text).toBe('after')
  })

  it('turns a remote rate limit into a typed RateLimitedError with retryAfterMs', async () => {
    for (let i = 0; i < 3; i++) await sendRequest(a, b.peerId, limited, {})
    const err = await sendRequest(a, b.peerId, limited, {}).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RateLimitedError)
    expect((err as RateLimitedError).retryAfterMs).toBe(1234)
  })

  it('answers malformed and oversized frames with a typed error and keeps serving', async () => {
    const cases: Uint8Array[] = [
      new Uint8Array([1, 2, 3, 4, 5]), // not CBOR of the envelope
      encodeMessage({ v: 1, b: { text: 42 } }), // wrong body type
      encodeMessage({ v: 9, b: { text: 'hi' } }), // wrong version
    ]
    for (const bytes of cases) {
      const stream = await a.dialProtocol(b.peerId, echo.id)
      const framed = new FramedStream(stream, { maxFrameBytes: 1 << 20 })
      await framed.write(bytes)
      await framed.closeWrite()
      const reply = await framed.read({ signal: AbortSignal.timeout(5000) })
      expect(reply).not.toBeNull()
      const { decode } = await import('cborg')
      const envelope = decode(reply as Uint8Array) as { ok: boolean; e: { n: string } }
      expect(envelope.ok).toBe(false)
      expect(['InvalidMessageError', 'UnsupportedVersionError']).toContain(envelope.e.n)
      framed.release()
    }
    // an oversized frame: the server aborts the stream instead of buffering it
    const stream = await a.dialProtocol(b.peerId, echo.id)
    const framed = new FramedStream(stream, { maxFrameBytes: 1 << 20 })
    await framed.write(new Uint8Array(100_000)).catch(() => {})
    await framed.read({ signal: AbortSignal.timeout(5000) }).catch(() => null)
    framed.release()
    const { response } = await sendRequest(a, b.peerId, echo, { text: 'still here' })
    expect(response.text).toBe('still here')
  })

  it('property: random bytes as a request never crash the server', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const stream = await a.dialProtocol(b.peerId, echo.id)
        const framed = new FramedStream(stream, { maxFrameBytes: 1 << 20 })
        await framed.write(bytes).catch(() => {})
        await framed.closeWrite().catch(() => {})
        await framed.read({ signal: AbortSignal.timeout(5000) }).catch(() => null)
        framed.release()
      }),
      { numRuns: 25 },
    )
    const { response } = await sendRequest(a, b.peerId, echo, { text: 'alive' })
    expect(response.text).toBe('alive')
  })

  it('streams a 200 MB payload intact under backpressure', async () => {
    const size = 200 * 1024 * 1024
    const piece = new Uint8Array(4 * 1024 * 1024)
    for (let i = 0; i < piece.length; i++) piece[i] = (i * 2654435761) >>> 24
    const hash = createHash('sha256')
    for (let off = 0; off < size; off += piece.length) hash.update(piece)
    const sha256 = hash.digest('hex')
    async function* source() {
      for (let off = 0; off < size; off += piece.length) yield piece
    }
    let progressCalls = 0
    const result = await sendPayload(a, b.peerId, blob, { name: 'big', sha256 }, source(), {
      onProgress: () => {
        progressCalls++
      },
    })
    expect(result.payloadBytes).toBe(size)
    expect(progressCalls).toBe(200)
    expect(received.at(-1)).toEqual({ name: 'big', ok: true, bytes: size })
  })

  it('reports a receiver-side rejection to the sender', async () => {
    const data = new Uint8Array(10_000).fill(7)
    await expect(sendPayload(a, b.peerId, blob, { name: 'bad', sha256: '0'.repeat(64) }, data)).rejects.toMatchObject({
      name: 'RemoteError',
    })
  })

  it('refuses a payload over the size limit before sending it', async () => {
    const small = definePayloadProtocol({
      id: blob.id,
      meta: blob.meta,
      maxPayloadBytes: 1024,
    })
    await expect(
      sendPayload(a, b.peerId, small, { name: 'x', sha256: '0'.repeat(64) }, new Uint8Array(2048)),
    ).rejects.toMatchObject({ name: 'MessageTooLargeError' })
  })
})
