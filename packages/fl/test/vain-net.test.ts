/**
 * The round's transport over real @vain/net nodes on 127.0.0.1: signed envelopes on each gossip
 * channel, updates admitted before their payload is read (a refused header costs the receiver no
 * payload bytes; a payload over the admitted size is refused while it streams), catch-up and
 * secure-aggregation requests.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type VainNode } from '@vain/net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  NoHandlerError,
  PayloadNotReadError,
  ROUND_TOPICS,
  roundTransport,
  UPDATE_PROTOCOL,
  type VainNetRoundTransport,
} from '../src/adapters/vain-net/index.js'
import { type MessageKind, type SignedMessage, signingInput, signMessage } from '../src/round/envelope.js'
import { RejectedUpdateError } from '../src/round/errors.js'
import type { ReadPayload, RoundChannel } from '../src/round/ports.js'

const JOB = 'ab'.repeat(32)

async function waitFor(check: () => boolean, label: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${label}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b))

function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

type UpdateHandler = (header: unknown, read: ReadPayload, from: string) => Promise<void>

describe('roundTransport over @vain/net', () => {
  let root: string
  let a: VainNode
  let b: VainNode
  let ta: VainNetRoundTransport
  let tb: VainNetRoundTransport
  /** The update handler b serves with (each test sets its own). */
  let onUpdate: UpdateHandler = async () => {
    throw new RejectedUpdateError('no test is running')
  }

  const sign = (kind: MessageKind, fields: object): Promise<SignedMessage> => signMessage(kind, fields, ta.sign)

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-fl-net-'))
    const config = (name: string, bootstrap: string[]) => ({
      dataDir: join(root, name),
      profile: 'loopback' as const,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap,
      discovery: { mdns: false, pexIntervalMs: 1_000 },
    })
    a = await createNode(config('a', []))
    await a.start()
    b = await createNode(config('b', a.multiaddrs.map(String)))
    await b.start()
    await waitFor(
      () => a.authenticatedPeers().length === 1 && b.authenticatedPeers().length === 1,
      'a and b authenticated each other',
    )
    ta = await roundTransport(a)
    tb = await roundTransport(b)
    tb.onUpdate((header, read, from) => onUpdate(header, read, from))
  })

  afterAll(async () => {
    await Promise.allSettled([ta?.stop(), tb?.stop()])
    await Promise.allSettled([a?.stop(), b?.stop()])
    await rm(root, { recursive: true, force: true })
  })

  it('signs with the node identity and verifies by peer id', async () => {
    const data = new TextEncoder().encode('the exact bytes sent')
    const signature = await ta.sign(data)
    expect(ta.self).toBe(a.peerId.toString())
    expect(await tb.verify(ta.self, data, signature)).toBe(true)
    expect(await tb.verify(tb.self, data, signature)).toBe(false)
    expect(await tb.verify(ta.self, new TextEncoder().encode('other bytes'), signature)).toBe(false)
  })

  const channels: Array<[RoundChannel, MessageKind]> = [
    ['jobs', 'job'],
    ['results', 'result'],
    ['holdings', 'holdings'],
  ]
  for (const [channel, kind] of channels) {
    it(`gossips signed envelopes on '${channel}' (${ROUND_TOPICS[channel].name}) as sent`, async () => {
      const got: Array<{ message: unknown; from: string }> = []
      const off = tb.subscribe(channel, (message, from) => got.push({ message, from }))
      try {
        await waitFor(
          () => a.topicPeers(ROUND_TOPICS[channel]).some((p) => p.equals(b.peerId)),
          `a sees b subscribed to ${channel}`,
        )
        const message = await sign(kind, { v: 1, jobId: JOB, channel })
        await ta.publish(channel, message)
        await waitFor(() => got.length > 0, `b receives the ${channel} message`)
        const [first] = got
        expect(first?.from).toBe(ta.self)
        const received = first?.message as SignedMessage
        expect(same(received.body, message.body)).toBe(true)
        expect(same(received.signature, message.signature)).toBe(true)
        expect(await tb.verify(first?.from as string, signingInput(kind, received.body), received.signature)).toBe(true)
      } finally {
        off()
      }
    })
  }

  it('refuses to publish what is not a signed envelope, or too large for the channel', async () => {
    await expect(ta.publish('jobs', { body: 'not bytes' } as never)).rejects.toMatchObject({
      name: 'InvalidMessageError',
    })
    const big = { body: new Uint8Array(2 * 1024 * 1024), signature: new Uint8Array(64) }
    await expect(ta.publish('jobs', big)).rejects.toMatchObject({ name: 'MessageTooLargeError' })
  })

  it('property: any value published is sent as a signed envelope or refused with a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.anything({ withTypedArray: true }), async (value) => {
        try {
          await ta.publish('results', value as SignedMessage)
          expect(value).toMatchObject({ body: expect.any(Uint8Array), signature: expect.any(Uint8Array) })
        } catch (err) {
          expect(['InvalidMessageError', 'MessageTooLargeError']).toContain((err as Error).name)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('delivers an update: the signed header first, the payload when the handler reads it', async () => {
    const header = await sign('update', { v: 1, jobId: JOB, round: 3 })
    const payload = pattern(3 * 1024 * 1024 + 17, 1)
    const seen: Array<{ header: SignedMessage; payload: Uint8Array; from: string }> = []
    onUpdate = async (h, read, from) => {
      const payloadBytes = await read(4 * 1024 * 1024)
      seen.push({ header: h as SignedMessage, payload: payloadBytes, from })
    }
    await ta.sendUpdate(tb.self, header, payload)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.from).toBe(ta.self)
    expect(same(seen[0]?.header.body as Uint8Array, header.body)).toBe(true)
    expect(same(seen[0]?.header.signature as Uint8Array, header.signature)).toBe(true)
    expect(same(seen[0]?.payload as Uint8Array, payload)).toBe(true)
  })

  it('a header the handler refuses: the payload is never read, the sender gets the typed error', async () => {
    const header = await sign('update', { v: 1, jobId: JOB, round: 4 })
    // incompressible: @vain/net compresses chunks that compress well
    const payload = new Uint8Array(randomBytes(64 * 1024 * 1024))
    let reads = 0
    let refused = 0
    onUpdate = async (_h, read) => {
      refused++
      // the reader exists, but a refused header never calls it
      if (refused < 0) reads += (await read(payload.byteLength)).byteLength
      throw new RejectedUpdateError('not in this committee')
    }
    const before = b.sessions.get(a.peerId)?.bytesIn ?? 0
    const err = await ta.sendUpdate(tb.self, header, payload).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RemoteError', remoteName: 'RejectedUpdateError' })
    expect((err as Error).message).toMatch(/not in this committee/)
    expect(refused).toBe(1)
    expect(reads).toBe(0)
    // what b's stream took in before it refused: the header and at most its read-ahead
    await waitFor(() => (b.sessions.get(a.peerId)?.bytesIn ?? 0) > before, 'b accounted the refused stream')
    expect((b.sessions.get(a.peerId)?.bytesIn ?? 0) - before).toBeLessThan(16 * 1024 * 1024)

    // the sender stops as soon as the refusal comes (the receiver reset the stream): streamed
    // from a generator, far fewer than the 64 chunks are ever produced
    let produced = 0
    const chunk = payload.subarray(0, 1024 * 1024)
    async function* chunks() {
      for (; produced < 64; ) {
        produced++
        yield chunk
      }
    }
    await expect(a.sendPayload(b.peerId, UPDATE_PROTOCOL, header, chunks())).rejects.toMatchObject({
      name: 'RemoteError',
      remoteName: 'RejectedUpdateError',
    })
    expect(refused).toBe(2)
    expect(produced).toBeLessThan(32)

    // the connection still carries the next update
    const next = pattern(100_000, 2)
    let got: Uint8Array | undefined
    onUpdate = async (_h, read) => {
      got = await read(next.byteLength)
    }
    await ta.sendUpdate(tb.self, header, next)
    expect(same(got as Uint8Array, next)).toBe(true)
  })

  it('readPayload refuses a payload over maxBytes (declared size, or while it streams)', async () => {
    const header = await sign('update', { v: 1, jobId: JOB, round: 5 })
    const errors: string[] = []
    onUpdate = async (_h, read) => {
      try {
        await read(1000)
      } catch (err) {
        errors.push((err as Error).name)
        throw err
      }
    }
    // the declared size is over the limit: refused before any payload byte is read
    await expect(ta.sendUpdate(tb.self, header, pattern(5000, 3))).rejects.toMatchObject({
      name: 'RemoteError',
      remoteName: 'MessageTooLargeError',
    })
    // no declared size (a streamed payload): refused as soon as it passes the limit
    onUpdate = async (_h, read) => {
      try {
        await read(1536 * 1024)
      } catch (err) {
        errors.push((err as Error).name)
        throw err
      }
    }
    let yielded = 0
    const chunk = new Uint8Array(randomBytes(1024 * 1024))
    async function* endless() {
      for (;;) {
        yielded++
        yield chunk
      }
    }
    await expect(a.sendPayload(b.peerId, UPDATE_PROTOCOL, header, endless())).rejects.toMatchObject({
      name: 'RemoteError',
      remoteName: 'MessageTooLargeError',
    })
    expect(errors).toEqual(['MessageTooLargeError', 'MessageTooLargeError'])
    // the sender stopped soon after the refusal, not at 1 GiB
    expect(yielded).toBeLessThan(32)
  })

  it('a handler that returns without reading refuses the update; with no handler, NoHandlerError', async () => {
    const header = await sign('update', { v: 1, jobId: JOB, round: 6 })
    onUpdate = async () => {}
    await expect(ta.sendUpdate(tb.self, header, pattern(10_000, 4))).rejects.toMatchObject({
      name: 'RemoteError',
      remoteName: PayloadNotReadError.name,
    })
    // a: no update handler registered
    await expect(tb.sendUpdate(ta.self, header, pattern(10_000, 5))).rejects.toMatchObject({
      name: 'RemoteError',
      remoteName: NoHandlerError.name,
    })
  })

  it('answers secure-aggregation frames, with the member errors as typed errors', async () => {
    const off = tb.onSecAggRequest(async (frame, from) => {
      if (frame[0] === 0) throw new RejectedUpdateError('stage closed')
      return Uint8Array.from([...frame].reverse(), (x) => x ^ (from === ta.self ? 0xff : 0))
    })
    try {
      const answer = await ta.requestSecAgg(tb.self, Uint8Array.of(1, 2, 3))
      expect([...answer]).toEqual([3 ^ 0xff, 2 ^ 0xff, 1 ^ 0xff])
      await expect(ta.requestSecAgg(tb.self, Uint8Array.of(0))).rejects.toMatchObject({
        name: 'RemoteError',
        remoteName: 'RejectedUpdateError',
      })
    } finally {
      off()
    }
    await expect(ta.requestSecAgg(tb.self, Uint8Array.of(1))).rejects.toMatchObject({ remoteName: 'NoHandlerError' })
  })

  it('serves the latest results of a job to nodes catching up', async () => {
    const results = [await sign('result', { v: 1, jobId: JOB, n: 1 }), await sign('result', { v: 1, jobId: JOB, n: 2 })]
    const off = tb.onLatestRequest((jobId) => (jobId === JOB ? results : undefined))
    try {
      const got = (await ta.requestLatest(JOB)) as SignedMessage[]
      expect(got).toHaveLength(2)
      expect(same(got[1]?.body as Uint8Array, results[1]?.body as Uint8Array)).toBe(true)
      expect(same(got[1]?.signature as Uint8Array, results[1]?.signature as Uint8Array)).toBe(true)
      expect(await ta.requestLatest('cd'.repeat(32))).toEqual([])
    } finally {
      off()
    }
    expect(await ta.requestLatest(JOB)).toEqual([])
  })

  it('stop() unsubscribes and stops serving (the node stays up)', async () => {
    const tc = await roundTransport(a).catch((e: unknown) => e)
    // one transport per node: its protocols are taken
    expect(tc).toBeInstanceOf(Error)
    await tb.stop()
    const header = await sign('update', { v: 1, jobId: JOB, round: 7 })
    await expect(ta.sendUpdate(tb.self, header, pattern(1000, 6))).rejects.toBeInstanceOf(Error)
    expect(b.isStarted).toBe(true)
    tb = await roundTransport(b)
  })
})
