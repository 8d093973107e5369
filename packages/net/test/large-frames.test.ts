import type { Libp2p } from '@libp2p/interface'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { MessageTooLargeError } from '../src/errors.js'
import {
  defineRequestProtocol,
  FramedStream,
  handleRequests,
  type InboundEvent,
  sendRequest,
} from '../src/protocols/index.js'
import { createTestLibp2p, stopAll, waitFor } from './fixtures/libp2p.js'

const MiB = 1024 * 1024

/** Bytes that differ at every offset, so a dropped or reordered chunk changes the content. */
function pattern(size: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size)
  let x = seed >>> 0
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.from(a).equals(Buffer.from(b))
}

const big = defineRequestProtocol({
  id: '/vain-test/big/1.0.0',
  request: z.object({ data: z.instanceof(Uint8Array), replyBytes: z.number().int().min(0) }),
  response: z.object({ data: z.instanceof(Uint8Array), gotBytes: z.number().int() }),
  maxRequestBytes: 32 * MiB,
  maxResponseBytes: 32 * MiB,
  // generous: two shared cores; the test waits on the exchange, not on a clock
  timeoutMs: 120_000,
})

describe('request/response frames larger than 4 MiB on real nodes', () => {
  let a: Libp2p
  let b: Libp2p
  const received: Uint8Array[] = []
  const inbound: InboundEvent[] = []

  beforeAll(async () => {
    a = await createTestLibp2p()
    b = await createTestLibp2p()
    await handleRequests(
      b,
      big,
      (req) => {
        received.push(req.data)
        return { data: pattern(req.replyBytes, 2), gotBytes: req.data.byteLength }
      },
      { onInbound: (e) => inbound.push(e) },
    )
  })

  afterAll(async () => {
    await stopAll([a, b])
  })

  it('carries a 20 MiB request and a 20 MiB response intact', async () => {
    const data = pattern(20 * MiB, 1)
    const { response } = await sendRequest(a, b.getMultiaddrs(), big, { data, replyBytes: 20 * MiB })
    expect(response.gotBytes).toBe(20 * MiB)
    expect(same(received.at(-1) as Uint8Array, data)).toBe(true)
    expect(same(response.data, pattern(20 * MiB, 2))).toBe(true)
  }, 180_000)

  it('refuses a frame above the declared limit with MessageTooLargeError, without buffering it', async () => {
    // locally, before sending
    await expect(
      sendRequest(a, b.peerId, big, { data: new Uint8Array(33 * MiB), replyBytes: 0 }),
    ).rejects.toBeInstanceOf(MessageTooLargeError)

    // remotely: a raw frame announcing 33 MiB is refused as soon as its header arrives
    const stream = await a.dialProtocol(b.peerId, big.id)
    const framed = new FramedStream(stream, { maxFrameBytes: 32 * MiB })
    const write = framed.write(new Uint8Array(33 * MiB)).catch(() => {})
    await framed.read({ signal: AbortSignal.timeout(120_000) }).catch(() => null)
    await write
    framed.release()
    await waitFor(() => inbound.some((e) => e.error === 'MessageTooLargeError'), { timeoutMs: 120_000 })
    const refused = inbound.find((e) => e.error === 'MessageTooLargeError')
    expect(refused?.bytesIn).toBeLessThan(32 * MiB)

    // a response above the reader's declared limit is refused with the typed error
    const tight = defineRequestProtocol({ ...big, maxResponseBytes: 8 * MiB })
    await expect(
      sendRequest(a, b.peerId, tight, { data: new Uint8Array(16), replyBytes: 20 * MiB }),
    ).rejects.toBeInstanceOf(MessageTooLargeError)

    // the server still serves
    const { response } = await sendRequest(a, b.peerId, big, { data: new Uint8Array(8), replyBytes: 8 })
    expect(response.gotBytes).toBe(8)
  }, 180_000)
})
