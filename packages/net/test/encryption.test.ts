/**
 * Secure channel choice (`encryption`) and yamux tuning (`muxer`) on real nodes over 127.0.0.1:
 * TLS 1.3 carries the vAIn handshake, requests and payloads like noise does; nodes without a
 * common channel cannot connect; nodes that list both agree on the dialler's first choice.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  ConfigError,
  createNode,
  definePayloadProtocol,
  defineRequestProtocol,
  encryptionOf,
  parseNodeConfig,
  type VainNode,
} from '../src/index.js'
import { startNode, stopNodes, testConfig } from './fixtures/network.js'

const echo = defineRequestProtocol({
  id: '/vain-test/enc-echo/1.0.0',
  request: z.object({ text: z.string() }),
  response: z.object({ text: z.string(), from: z.string() }),
  timeoutMs: 60_000,
})
const upload = definePayloadProtocol({
  id: '/vain-test/enc-upload/1.0.0',
  meta: z.object({ name: z.string() }),
})

/** Bytes that differ at every offset, so a dropped or reordered chunk changes the content. */
function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed >>> 0
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** The secure channel protocol of the (single) connection from `a` to `b`. */
function channelBetween(a: VainNode, b: VainNode): string | undefined {
  return a.libp2p.getConnections(b.peerId)[0]?.encryption
}

/** A request and a 1 MiB payload from `b` to `a`, checked end to end. */
async function exchange(a: VainNode, b: VainNode): Promise<void> {
  await a.handle(echo, (req) => ({ text: req.text, from: a.peerId.toString() }))
  const got: Uint8Array[] = []
  await a.handlePayload(upload, async (_meta, body) => {
    const parts: Uint8Array[] = []
    for await (const chunk of body) parts.push(chunk)
    got.push(Buffer.concat(parts))
  })
  await expect(b.request(a.peerId, echo, { text: 'over the channel' })).resolves.toEqual({
    text: 'over the channel',
    from: a.peerId.toString(),
  })
  const bytes = pattern(1024 * 1024, 7)
  const result = await b.sendPayload(a.peerId, upload, { name: 'mib' }, bytes, { compress: false })
  expect(result.payloadBytes).toBe(bytes.byteLength)
  expect(got).toHaveLength(1)
  expect(Buffer.compare(got[0] as Uint8Array, bytes)).toBe(0)
}

describe('encryption: secure channel choice', () => {
  let a: VainNode | undefined
  let b: VainNode | undefined
  afterEach(async () => {
    await stopNodes([a, b])
    a = undefined
    b = undefined
  })

  it('two nodes with tls authenticate (vAIn handshake) and exchange a request and a 1 MiB payload', async () => {
    a = await startNode({ encryption: ['tls'] })
    b = await startNode({ encryption: ['tls'] })
    const peer = await b.connect(a.multiaddrs[0]!)
    expect(peer.equals(a.peerId)).toBe(true)
    expect(b.libp2p.services.handshake.isAuthenticated(a.peerId)).toBe(true)
    expect(channelBetween(b, a)).toBe('/tls/1.0.0')
    await exchange(a, b)
  }, 120_000)

  it('tls with a larger yamux window carries the same exchange', async () => {
    const muxer = { initialStreamWindowSize: 4 * 2 ** 20, maxStreamWindowSize: 16 * 2 ** 20, maxMessageSize: 2 ** 20 }
    a = await startNode({ encryption: ['tls'], muxer })
    b = await startNode({ encryption: ['tls'], muxer })
    await b.connect(a.multiaddrs[0]!)
    expect(channelBetween(b, a)).toBe('/tls/1.0.0')
    await exchange(a, b)
  }, 120_000)

  it('a tls-only node and a noise-only node cannot connect', async () => {
    a = await startNode({ encryption: ['noise'] })
    b = await startNode({ encryption: ['tls'] })
    await expect(b.connect(a.multiaddrs[0]!)).rejects.toThrow()
    expect(b.libp2p.getConnections(a.peerId)).toHaveLength(0)
    expect(b.authenticatedPeers()).toHaveLength(0)
  }, 120_000)

  it("nodes that list both agree on the dialler's first choice; a noise-only node still reaches a ['tls','noise'] node", async () => {
    a = await startNode({ encryption: ['tls', 'noise'] })
    b = await startNode({ encryption: ['tls', 'noise'] })
    await b.connect(a.multiaddrs[0]!)
    expect(channelBetween(b, a)).toBe('/tls/1.0.0')
    expect(channelBetween(a, b)).toBe('/tls/1.0.0')
    await exchange(a, b)
    await b.stop()
    b = await startNode({ encryption: ['noise'] })
    await b.connect(a.multiaddrs[0]!)
    expect(channelBetween(b, a)).toBe('/noise')
    expect(b.libp2p.services.handshake.isAuthenticated(a.peerId)).toBe(true)
  }, 120_000)

  it("loopback and lan default to ['tls', 'noise']; public to ['noise'] (a noise-only node still reaches a default one)", async () => {
    expect(encryptionOf(parseNodeConfig({ profile: 'loopback' }))).toEqual(['tls', 'noise'])
    expect(encryptionOf(parseNodeConfig({ profile: 'lan' }))).toEqual(['tls', 'noise'])
    expect(encryptionOf(parseNodeConfig({ profile: 'public' }))).toEqual(['noise'])
    expect(encryptionOf(parseNodeConfig({ profile: 'public', encryption: ['tls'] }))).toEqual(['tls'])
    a = await startNode()
    b = await startNode()
    await b.connect(a.multiaddrs[0]!)
    expect(channelBetween(b, a)).toBe('/tls/1.0.0')
    await b.stop()
    // what a public node offers by default: noise only
    b = await startNode({ encryption: ['noise'] })
    await b.connect(a.multiaddrs[0]!)
    expect(channelBetween(b, a)).toBe('/noise')
  }, 120_000)
})

describe('encryption and muxer: config validation', () => {
  it.each([
    [{ encryption: [] }],
    [{ encryption: ['plaintext'] }],
    [{ encryption: ['tls', 'tls'] }],
    [{ encryption: 'tls' }],
    [{ muxer: { initialStreamWindowSize: 1024 } }],
    [{ muxer: { initialStreamWindowSize: 8 * 2 ** 20, maxStreamWindowSize: 2 ** 20 } }],
    [{ muxer: { maxMessageSize: 10 } }],
    [{ muxer: { windowSize: 2 ** 20 } }],
  ])('%j is a ConfigError', async (bad) => {
    const err = await createNode(testConfig(bad as never)).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).name).toBe('ConfigError')
  })
})
