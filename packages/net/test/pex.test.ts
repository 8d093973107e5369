import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Libp2p, PeerDiscovery } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type PeerExchange, type PeerExchangeInit, peerExchange } from '../src/discovery/index.js'
import { PEX_PROTOCOL, pexResponseSchema } from '../src/discovery/pex-messages.js'
import { verifySignedPeerRecord } from '../src/discovery/records.js'
import type { VainNetError } from '../src/errors.js'
import { decodeMessage, encodeMessage } from '../src/wire/index.js'
import { createTestLibp2p, stopAll, stubComponents, waitFor } from './fixtures/libp2p.js'

type PexNode = Libp2p<{ pex: PeerExchange; identify: unknown; ping: unknown }>

const FAST: PeerExchangeInit = {
  intervalMs: 400,
  targetPeers: 20,
  requestTimeoutMs: 5_000,
  dialTimeoutMs: 5_000,
  rateLimit: { requests: 100, windowMs: 1_000 },
}

const nodes: Array<Libp2p | undefined> = []
afterEach(async () => {
  await stopAll(nodes.splice(0))
})

async function pexNode(init: PeerExchangeInit = FAST): Promise<PexNode> {
  const node = await createTestLibp2p({ services: { pex: peerExchange(init) } })
  nodes.push(node)
  return node as unknown as PexNode
}

async function sealRecord(
  signer: Awaited<ReturnType<typeof generateKeyPair>>,
  described = peerIdFromPrivateKey(signer),
): Promise<Uint8Array> {
  const record = new PeerRecord({ peerId: described, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] })
  return (await RecordEnvelope.seal(record, signer)).marshal()
}

function connectedTo(node: Libp2p, others: Libp2p[]): boolean {
  return others.every((o) => node.getConnections(o.peerId).length > 0)
}

describe('peer exchange (/vain/pex/1.0.0)', () => {
  it('is a PeerDiscovery and rejects bad options with ConfigError', async () => {
    const node = await pexNode()
    const discovery: PeerDiscovery = node.services.pex
    expect(typeof discovery.addEventListener).toBe('function')
    expect(() => peerExchange({ targetPeers: -1 })).toThrow(expect.objectContaining({ name: 'ConfigError' }))
  })

  it('stop() releases every timer', async () => {
    vi.useFakeTimers()
    try {
      const pex = peerExchange({ intervalMs: 1_000 })(
        stubComponents(peerIdFromPrivateKey(await generateKeyPair('Ed25519'))) as never,
      )
      await pex.start()
      expect(vi.getTimerCount()).toBeGreaterThan(0)
      await vi.advanceTimersByTimeAsync(5_000) // a few rounds
      await pex.stop()
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })

  it('a node that knows only the hub learns every other peer and connects to them', { timeout: 40_000 }, async () => {
    const hub = await pexNode()
    const others: PexNode[] = []
    for (let i = 0; i < 6; i++) {
      const n = await pexNode()
      await n.dial(hub.getMultiaddrs()[0]!)
      others.push(n)
    }
    // the hub holds a signed record of each (identify stored them)
    await waitFor(
      async () => {
        for (const o of others) {
          const peer = await hub.peerStore.get(o.peerId).catch(() => undefined)
          if (peer?.peerRecordEnvelope === undefined) return false
        }
        return true
      },
      { message: 'hub did not get every signed record' },
    )

    const newcomer = await pexNode()
    const discovered = new Set<string>()
    newcomer.services.pex.addEventListener('peer', (evt) => discovered.add(evt.detail.id.toString()))
    await newcomer.dial(hub.getMultiaddrs()[0]!)

    await waitFor(() => connectedTo(newcomer, [hub, ...others]), {
      timeoutMs: 30_000,
      message: 'newcomer did not connect to every peer',
    })
    for (const o of others) expect(discovered.has(o.peerId.toString())).toBe(true)
    expect(newcomer.services.pex.stats.recordsAccepted).toBeGreaterThanOrEqual(others.length)
    expect(newcomer.services.pex.stats.invalidRecords).toBe(0)
    expect(hub.services.pex.stats.requestsServed).toBeGreaterThan(0)
  })

  it('drops forged and corrupt records, keeps valid ones', { timeout: 20_000 }, async () => {
    const victim = await pexNode({ ...FAST, exchangeOnIdentify: false, intervalMs: 60_000 })
    const evil = await createTestLibp2p()
    nodes.push(evil)

    const keyA = await generateKeyPair('Ed25519')
    const keyB = await generateKeyPair('Ed25519')
    const keyC = await generateKeyPair('Ed25519')
    const keyD = await generateKeyPair('Ed25519')
    const idA = peerIdFromPrivateKey(keyA)
    const idC = peerIdFromPrivateKey(keyC)
    const idD = peerIdFromPrivateKey(keyD)
    // A's record, signed with B's key: a valid signature, but not A's
    const forged = await sealRecord(keyB, idA)
    await expect(verifySignedPeerRecord(forged)).rejects.toMatchObject({ name: 'InvalidMessageError' })
    // C's own record with one signature byte flipped
    const tampered = await sealRecord(keyC)
    tampered[tampered.length - 1]! ^= 0xff
    const valid = await sealRecord(keyD)
    const records = [forged, tampered, Uint8Array.from([1, 2, 3]), valid]

    await evil.handle(PEX_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(encodeMessage({ v: 1, records }))
      await stream.close()
    })
    await victim.dial(evil.getMultiaddrs()[0]!)

    const result = await victim.services.pex.exchange(evil.peerId)
    expect(result.received).toBe(4)
    expect(result.invalid).toBe(3)
    expect(result.accepted).toBe(1)
    expect(result.discovered.map((p) => p.id.toString())).toEqual([idD.toString()])
    expect(await victim.peerStore.has(idA)).toBe(false)
    expect(await victim.peerStore.has(idC)).toBe(false)
    const stored = await victim.peerStore.get(idD)
    expect(stored.addresses.every((a) => a.isCertified)).toBe(true)
    expect(victim.services.pex.stats.invalidRecords).toBe(3)
  })

  it('a malformed answer gives a typed error on the asking side', { timeout: 20_000 }, async () => {
    const asker = await pexNode({ ...FAST, exchangeOnIdentify: false, intervalMs: 60_000 })
    const evil = await createTestLibp2p()
    nodes.push(evil)
    await evil.handle(PEX_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(Uint8Array.from([0xff, 0x00, 0x13]))
      await stream.close()
    })
    await asker.dial(evil.getMultiaddrs()[0]!)
    await expect(asker.services.pex.exchange(evil.peerId)).rejects.toMatchObject({ name: 'InvalidMessageError' })
    expect(asker.services.pex.stats.exchangeFailures).toBe(1)
  })

  it('malformed requests get typed errors, close only that stream; the server keeps serving', {
    timeout: 20_000,
  }, async () => {
    const server = await pexNode({ ...FAST, maxMessageBytes: 4_096 })
    const errors: VainNetError[] = []
    server.services.pex.addEventListener('request:error', (evt) => errors.push(evt.detail.error))
    const raw = await createTestLibp2p()
    nodes.push(raw)
    await raw.dial(server.getMultiaddrs()[0]!)

    // 1. not CBOR of the request shape: the server answers with the error and closes the stream
    const s1 = await raw.dialProtocol(server.peerId, PEX_PROTOCOL)
    const lp1 = lpStream(s1)
    await lp1.write(Uint8Array.from([0xff, 0xfe, 0x00]))
    const answer = decodeMessage((await lp1.read()).subarray(), pexResponseSchema(50))
    expect('error' in answer && answer.error.name).toBe('InvalidMessageError')

    // 2. a length prefix far over maxMessageBytes
    const s2 = await raw.dialProtocol(server.peerId, PEX_PROTOCOL)
    s2.send(Uint8Array.from([0x80, 0xad, 0xe2, 0x04])) // varint 10 000 000
    await waitFor(() => errors.length >= 2, { message: 'server did not report the oversized request' })
    expect(errors.map((e) => e.name)).toEqual(['InvalidMessageError', 'MessageTooLargeError'])
    expect(server.services.pex.stats.malformedRequests).toBe(2)

    // the connection survived; a well-formed request on it is answered
    expect(raw.getConnections(server.peerId).some((c) => c.status === 'open')).toBe(true)
    const s3 = await raw.dialProtocol(server.peerId, PEX_PROTOCOL)
    const lp3 = lpStream(s3)
    await lp3.write(encodeMessage({ v: 1, max: 10 }))
    const ok = decodeMessage((await lp3.read()).subarray(), pexResponseSchema(50))
    expect('records' in ok).toBe(true)

    // and a real PEX client still gets served
    const client = await pexNode({ ...FAST, exchangeOnIdentify: false, intervalMs: 60_000 })
    await client.dial(server.getMultiaddrs()[0]!)
    const result = await client.services.pex.exchange(server.peerId)
    expect(result.invalid).toBe(0)
  })

  it('rate-limits requests per peer on the serving side', { timeout: 20_000 }, async () => {
    const server = await pexNode({ ...FAST, rateLimit: { requests: 2, windowMs: 60_000 } })
    const client = await pexNode({ ...FAST, exchangeOnIdentify: false, intervalMs: 60_000 })
    await client.dial(server.getMultiaddrs()[0]!)
    await client.services.pex.exchange(server.peerId)
    await client.services.pex.exchange(server.peerId)
    const err = await client.services.pex.exchange(server.peerId).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'RateLimitedError' })
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0)
    expect(server.services.pex.stats.requestsRateLimited).toBe(1)
  })
})
