import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Connection, Libp2p, Libp2pEvents, PeerId, Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import type { TypedEventTarget } from 'main-event'
import { TypedEventEmitter } from 'main-event'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  AckSchema,
  ChallengeSchema,
  createNodeDescriptor,
  encodeNodeDescriptor,
  HANDSHAKE_PROTOCOL,
  type HandshakeComponents,
  type HandshakeEvents,
  type HandshakeInit,
  type HandshakeService,
  HelloSchema,
  handshake,
  handshakeTranscript,
  type LocalDescriptorInit,
  PeerDenyList,
  verifyNodeDescriptor,
} from '../src/auth/index.js'
import { decodeMessage, encodeMessage } from '../src/wire/index.js'
import { createTestLibp2p, stopAll } from './fixtures/libp2p.js'

const GRACE_MS = 400

type HonestNode = Libp2p<{ handshake: HandshakeService }>

const running: Array<{ stop(): void | Promise<void> }> = []

afterEach(async () => {
  await stopAll(running.splice(0))
})

async function honest(
  descriptor: Partial<LocalDescriptorInit> = {},
  init: Partial<HandshakeInit> = {},
): Promise<{ node: HonestNode; handshake: HandshakeService; denyList: PeerDenyList }> {
  const denyList = new PeerDenyList()
  const node = (await createTestLibp2p<{ handshake: HandshakeService }>({
    connectionGater: denyList.gater(),
    services: {
      handshake: handshake({
        denyList,
        graceMs: GRACE_MS,
        timeoutMs: 3_000,
        retryBaseMs: 20,
        ...init,
        descriptor: { softwareVersion: 'vain-test/0.0.1', roles: ['trainer'], ...descriptor },
      }),
    },
  })) as unknown as HonestNode
  running.push(node)
  return { node, handshake: node.services.handshake, denyList }
}

async function plain(): Promise<Libp2p> {
  const node = (await createTestLibp2p()) as unknown as Libp2p
  running.push(node)
  return node
}

/** Resolve with the detail of the next `type` event matching `filter` (fails after 20 s). */
function next<K extends keyof HandshakeEvents>(
  target: TypedEventTarget<HandshakeEvents>,
  type: K,
  filter: (detail: HandshakeEvents[K]['detail']) => boolean = () => true,
): Promise<HandshakeEvents[K]['detail']> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener)
      reject(new Error(`no ${String(type)} event`))
    }, 20_000)
    const listener = (evt: HandshakeEvents[K]): void => {
      if (!filter(evt.detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, listener)
      resolve(evt.detail)
    }
    target.addEventListener(type, listener)
  })
}

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (condition()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting until ${what}`)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * `dialer` tries to connect to `target` again: the target's gater must refuse it before the
 * connection is established (the dialer may see a connection that closes at once, since
 * multistream-select negotiates the muxer optimistically).
 */
async function expectGated(dialer: Libp2p, target: Libp2p): Promise<void> {
  let opened = 0
  const onOpen = (evt: CustomEvent<Connection>): void => {
    if (evt.detail.remotePeer.equals(dialer.peerId)) opened++
  }
  target.addEventListener('connection:open', onOpen)
  try {
    const connection = await dialer.dial(target.getMultiaddrs()).catch(() => undefined)
    if (connection !== undefined) await waitUntil(() => connection.status !== 'open', 'the refused connection closes')
    expect(opened).toBe(0)
    expect(target.getConnections(dialer.peerId)).toHaveLength(0)
  } finally {
    target.removeEventListener('connection:open', onOpen)
  }
}

/** Open a raw handshake stream from `attacker` to `victim` and run the dialer side by hand. */
async function rawDial(attacker: Libp2p, victim: Libp2p) {
  const stream = await attacker.dialProtocol(victim.getMultiaddrs(), HANDSHAKE_PROTOCOL)
  const lp = lpStream(stream)
  const nonce = randomBytes(32)
  await lp.write(encodeMessage({ t: 'hello', v: 1, nonce }))
  const challenge = decodeMessage((await lp.read()).subarray(), ChallengeSchema)
  if (challenge.t !== 'challenge') throw new Error(`expected a challenge, got ${challenge.reason}`)
  return { stream, lp, nonce, challenge }
}

describe('handshake between honest nodes', () => {
  it('authenticates both ways and exposes each other’s descriptor', async () => {
    const a = await honest({
      roles: ['trainer', 'validator'],
      capabilities: ['fl/mnist-mlp'],
      attributes: { gpu: false, maxModelBytes: 1_000_000 },
      chainAddress: `0x${'ab'.repeat(20)}`,
    })
    const b = await honest({ roles: ['aggregator'], softwareVersion: 'vain-test/9.9.9' })
    const aSawB = next(a.handshake, 'peer:authenticated', (d) => d.peerId.equals(b.node.peerId))
    const bSawA = next(b.handshake, 'peer:authenticated', (d) => d.peerId.equals(a.node.peerId))

    await a.node.dial(b.node.getMultiaddrs())
    const [fromA, fromB] = await Promise.all([aSawB, bSawA])

    expect(fromA.descriptor).toMatchObject({
      peerId: b.node.peerId.toString(),
      roles: ['aggregator'],
      softwareVersion: 'vain-test/9.9.9',
      protocolVersion: 1,
    })
    expect(fromB.descriptor).toMatchObject({
      peerId: a.node.peerId.toString(),
      roles: ['trainer', 'validator'],
      capabilities: ['fl/mnist-mlp'],
      attributes: { gpu: false, maxModelBytes: 1_000_000 },
      chainAddress: `0x${'ab'.repeat(20)}`,
    })
    expect(a.handshake.isAuthenticated(b.node.peerId)).toBe(true)
    expect(b.handshake.isAuthenticated(a.node.peerId)).toBe(true)
    expect(a.handshake.descriptor(b.node.peerId)?.roles).toEqual(['aggregator'])
    expect(b.handshake.authenticatedPeers().map((p) => p.peerId.toString())).toEqual([a.node.peerId.toString()])
    await expect(a.handshake.authenticate(b.node.peerId)).resolves.toMatchObject({ roles: ['aggregator'] })

    // still connected and authenticated well after the grace period
    await sleep(GRACE_MS * 3)
    expect(a.node.getConnections(b.node.peerId).length).toBeGreaterThan(0)
    expect(b.handshake.isAuthenticated(a.node.peerId)).toBe(true)
    expect(a.denyList.size + b.denyList.size).toBe(0)
  })

  it('authenticate() dials a known peer and waits for the handshake; concurrent calls share it', async () => {
    const a = await honest()
    const b = await honest({ roles: ['validator'] })
    await a.node.peerStore.merge(b.node.peerId, { multiaddrs: b.node.getMultiaddrs() })
    let events = 0
    a.handshake.addEventListener('peer:authenticated', () => events++)

    const results = await Promise.all([
      a.handshake.authenticate(b.node.peerId),
      a.handshake.authenticate(b.node.peerId),
      a.handshake.authenticate(b.node.peerId, { signal: AbortSignal.timeout(20_000) }),
    ])
    for (const descriptor of results) expect(descriptor.roles).toEqual(['validator'])
    expect(events).toBe(1)
    await waitUntil(() => b.handshake.isAuthenticated(a.node.peerId), 'b authenticated a')
  })

  it('forgets authentication when the peer disconnects', async () => {
    const a = await honest()
    const b = await honest()
    const authed = next(a.handshake, 'peer:authenticated')
    await a.node.dial(b.node.getMultiaddrs())
    await authed
    await a.node.hangUp(b.node.peerId)
    await waitUntil(() => !a.handshake.isAuthenticated(b.node.peerId), 'a forgot b')
    expect(a.handshake.descriptor(b.node.peerId)).toBeUndefined()
    expect(a.denyList.isDenied(b.node.peerId)).toBe(false)
  })

  it('rejects a peer speaking an unsupported protocol version, on both sides', async () => {
    const a = await honest({ protocolVersion: 2 })
    const b = await honest()
    const aRejects = next(a.handshake, 'peer:rejected')
    const bRejects = next(b.handshake, 'peer:rejected')
    await a.node.dial(b.node.getMultiaddrs())
    const [ra, rb] = await Promise.all([aRejects, bRejects])
    expect(ra.error.name).toBe('UnsupportedVersionError')
    expect(rb.error.name === 'UnsupportedVersionError' || /version/.test(rb.reason)).toBe(true)
    expect(a.handshake.isAuthenticated(b.node.peerId)).toBe(false)
    expect(b.handshake.isAuthenticated(a.node.peerId)).toBe(false)
  })

  it('applies the authorize() policy', async () => {
    const a = await honest({ roles: ['light'] })
    const b = await honest({}, { authorize: (d) => (d.roles.includes('light') ? 'light nodes not accepted' : true) })
    const rejected = next(b.handshake, 'peer:rejected')
    await a.node.dial(b.node.getMultiaddrs())
    const r = await rejected
    expect(r.reason).toMatch(/light nodes not accepted/)
    expect(b.denyList.isDenied(a.node.peerId)).toBe(true)
  })
})

describe('handshake against attackers', () => {
  it('rejects a proof signed with another key, disconnects and gates the attacker', async () => {
    const victim = await honest()
    const attacker = await plain()
    const rejected = next(victim.handshake, 'peer:rejected')

    const { lp, nonce, challenge } = await rawDial(attacker, victim.node)
    // the listener signed over our nonce and our peer id (sanity check of the transcript)
    const listenerSigOk = await victim.node.peerId.publicKey?.verify(
      handshakeTranscript('responder', nonce, attacker.peerId.toMultihash().bytes, challenge.descriptor),
      challenge.sig,
    )
    expect(listenerSigOk).toBe(true)
    const descriptor = encodeNodeDescriptor(
      createNodeDescriptor({ softwareVersion: 'evil/1', roles: ['aggregator'] }, attacker.peerId, Date.now()),
    )
    const otherKey = await generateKeyPair('Ed25519')
    const sig = await otherKey.sign(
      handshakeTranscript('initiator', challenge.nonce, victim.node.peerId.toMultihash().bytes, descriptor),
    )
    await lp.write(encodeMessage({ t: 'proof', descriptor, sig }))
    const ack = decodeMessage((await lp.read()).subarray(), AckSchema)
    expect(ack.t).toBe('error')

    const r = await rejected
    expect(r.peerId.equals(attacker.peerId)).toBe(true)
    expect(r.error.name).toBe('HandshakeError')
    expect(r.reason).toMatch(/invalid handshake signature/)
    expect(victim.handshake.isAuthenticated(attacker.peerId)).toBe(false)
    await waitUntil(() => victim.node.getConnections(attacker.peerId).length === 0, 'attacker disconnected')

    // the gater refuses the attacker both ways
    await expectGated(attacker, victim.node)
    await expect(victim.node.dial(attacker.getMultiaddrs())).rejects.toMatchObject({ name: 'DialDeniedError' })
    await expect(victim.handshake.authenticate(attacker.peerId)).rejects.toMatchObject({ name: 'PeerDeniedError' })
    expect(victim.denyList.get(attacker.peerId)?.reason).toMatch(/signature/)
  })

  it('rejects a replayed signature made for another nonce', async () => {
    const victim = await honest()
    const attackerKey = await generateKeyPair('Ed25519')
    const attacker = (await createTestLibp2p({ privateKey: attackerKey })) as unknown as Libp2p
    running.push(attacker)
    const rejected = next(victim.handshake, 'peer:rejected')

    const { lp } = await rawDial(attacker, victim.node)
    const descriptor = encodeNodeDescriptor(
      createNodeDescriptor({ softwareVersion: 'evil/1', roles: ['trainer'] }, attacker.peerId, Date.now()),
    )
    // a genuine signature by the attacker's own key, but over a nonce from an earlier session
    const staleNonce = randomBytes(32)
    const sig = await attackerKey.sign(
      handshakeTranscript('initiator', staleNonce, victim.node.peerId.toMultihash().bytes, descriptor),
    )
    await lp.write(encodeMessage({ t: 'proof', descriptor, sig }))

    const r = await rejected
    expect(r.peerId.equals(attacker.peerId)).toBe(true)
    expect(r.reason).toMatch(/invalid handshake signature/)
    await waitUntil(() => victim.node.getConnections(attacker.peerId).length === 0, 'attacker disconnected')
    await expectGated(attacker, victim.node)
  })

  it('rejects a validly signed descriptor that names another peer', async () => {
    const victim = await honest()
    const attackerKey = await generateKeyPair('Ed25519')
    const attacker = (await createTestLibp2p({ privateKey: attackerKey })) as unknown as Libp2p
    running.push(attacker)
    const someoneElse = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const rejected = next(victim.handshake, 'peer:rejected')

    const { lp, challenge } = await rawDial(attacker, victim.node)
    const descriptor = encodeNodeDescriptor(
      createNodeDescriptor({ softwareVersion: 'evil/1', roles: ['trainer'] }, someoneElse, Date.now()),
    )
    const sig = await attackerKey.sign(
      handshakeTranscript('initiator', challenge.nonce, victim.node.peerId.toMultihash().bytes, descriptor),
    )
    await lp.write(encodeMessage({ t: 'proof', descriptor, sig }))
    const r = await rejected
    expect(r.error.name).toBe('HandshakeError')
    expect(r.reason).toMatch(/does not match/)
    expect(victim.denyList.isDenied(attacker.peerId)).toBe(true)
  })

  it('rejects a listener that answers with a forged signature (dialer side)', async () => {
    const victim = await honest()
    const attacker = await plain()
    const otherKey = await generateKeyPair('Ed25519')
    await attacker.handle(HANDSHAKE_PROTOCOL, async (stream: Stream) => {
      const lp = lpStream(stream)
      const hello = decodeMessage((await lp.read()).subarray(), HelloSchema)
      const descriptor = encodeNodeDescriptor(
        createNodeDescriptor({ softwareVersion: 'evil/1', roles: ['aggregator'] }, attacker.peerId, Date.now()),
      )
      const sig = await otherKey.sign(
        handshakeTranscript('responder', hello.nonce, victim.node.peerId.toMultihash().bytes, descriptor),
      )
      await lp.write(encodeMessage({ t: 'challenge', nonce: randomBytes(32), descriptor, sig }))
    })
    const rejected = next(victim.handshake, 'peer:rejected')
    await victim.node.dial(attacker.getMultiaddrs())
    const r = await rejected
    expect(r.peerId.equals(attacker.peerId)).toBe(true)
    expect(r.reason).toMatch(/invalid handshake signature/)
    await waitUntil(() => victim.node.getConnections(attacker.peerId).length === 0, 'attacker disconnected')
    expect(victim.handshake.isAuthenticated(attacker.peerId)).toBe(false)
  })

  it('disconnects and denies a peer that never speaks the protocol, after graceMs', async () => {
    const victim = await honest()
    const silent = await plain()
    const rejected = next(victim.handshake, 'peer:rejected')
    await silent.dial(victim.node.getMultiaddrs())
    await waitUntil(() => victim.node.getConnections(silent.peerId).length > 0, 'victim sees the silent peer')

    const r = await rejected
    expect(r.peerId.equals(silent.peerId)).toBe(true)
    expect(r.error.name).toBe('TimeoutError')
    expect(r.reason).toMatch(/did not complete the handshake/)
    await waitUntil(() => victim.node.getConnections(silent.peerId).length === 0, 'silent peer disconnected')
    await expectGated(silent, victim.node)
  })

  it('rejects at once a dialled peer that does not support the protocol', async () => {
    const victim = await honest({}, { graceMs: 60_000 })
    const other = await plain()
    const rejected = next(victim.handshake, 'peer:rejected')
    await victim.node.dial(other.getMultiaddrs())
    const r = await rejected
    expect(r.peerId.equals(other.peerId)).toBe(true)
    expect(r.reason).toMatch(/does not speak/)
  })

  it('rejects malformed bytes with a typed error and keeps serving other peers', async () => {
    const victim = await honest({}, { graceMs: 60_000 })

    // a well-framed message that is not CBOR
    const garbler = await plain()
    const garbage = next(victim.handshake, 'peer:rejected', (d) => d.peerId.equals(garbler.peerId))
    const s1 = await garbler.dialProtocol(victim.node.getMultiaddrs(), HANDSHAKE_PROTOCOL)
    await lpStream(s1).write(Uint8Array.from([0xff, 0xfe, 0x1c, 0x00, 0x13, 0x37]))
    const r1 = await garbage
    expect(r1.error.name).toBe('InvalidMessageError')

    // a length prefix far beyond the frame limit
    const flooder = await plain()
    const flood = next(victim.handshake, 'peer:rejected', (d) => d.peerId.equals(flooder.peerId))
    const s2 = await flooder.dialProtocol(victim.node.getMultiaddrs(), HANDSHAKE_PROTOCOL)
    s2.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]))
    const r2 = await flood
    expect(r2.error.name).toBe('InvalidMessageError')

    // valid CBOR of the wrong shape
    const shaper = await plain()
    const shape = next(victim.handshake, 'peer:rejected', (d) => d.peerId.equals(shaper.peerId))
    const s3 = await shaper.dialProtocol(victim.node.getMultiaddrs(), HANDSHAKE_PROTOCOL)
    await lpStream(s3).write(encodeMessage({ t: 'hello', v: 1, nonce: randomBytes(5) }))
    expect((await shape).error.name).toBe('InvalidMessageError')

    // an honest peer still gets in
    const friend = await honest()
    const authed = next(victim.handshake, 'peer:authenticated')
    await friend.node.dial(victim.node.getMultiaddrs())
    expect((await authed).peerId.equals(friend.node.peerId)).toBe(true)
  })
})

// --- unit tests with stub components ---------------------------------------------------------

function noopLogger() {
  const log: any = () => {}
  log.error = () => {}
  log.trace = () => {}
  log.enabled = false
  log.newScope = () => log
  return { forComponent: () => log }
}

interface FakeConnection {
  connection: Connection
  newStream: ReturnType<typeof vi.fn>
}

function fakeConnection(remotePeer: PeerId, direction: 'inbound' | 'outbound', newStream: () => Promise<Stream>) {
  const fn = vi.fn(newStream)
  const connection = {
    id: `${direction}-${Math.random()}`,
    remotePeer,
    direction,
    status: 'open',
    streams: [],
    newStream: fn,
    close: vi.fn(async () => {
      connection.status = 'closed'
    }),
    abort: vi.fn(() => {
      connection.status = 'aborted'
    }),
  }
  return { connection: connection as unknown as Connection, newStream: fn } satisfies FakeConnection
}

async function stubService(init: Partial<HandshakeInit> = {}) {
  const privateKey = await generateKeyPair('Ed25519')
  const events = new TypedEventEmitter<Libp2pEvents>()
  const connections = new Map<string, Connection[]>()
  const components: HandshakeComponents = {
    peerId: peerIdFromPrivateKey(privateKey),
    privateKey,
    registrar: { handle: vi.fn(async () => {}), unhandle: vi.fn(async () => {}) },
    connectionManager: {
      getConnections: (peer?: PeerId) =>
        peer === undefined ? [...connections.values()].flat() : (connections.get(peer.toString()) ?? []),
      openConnection: vi.fn(async () => {
        throw new Error('no dialling in unit tests')
      }),
    },
    events,
    logger: noopLogger() as any,
  }
  const denyList = new PeerDenyList()
  const service = handshake({
    denyList,
    graceMs: 1_000,
    timeoutMs: 500,
    maxAttempts: 3,
    retryBaseMs: 100,
    descriptor: { softwareVersion: 't/1', roles: ['trainer'] },
    ...init,
  })(components)
  const open = (c: Connection): void => {
    connections.set(c.remotePeer.toString(), [...(connections.get(c.remotePeer.toString()) ?? []), c])
    events.safeDispatchEvent('connection:open', { detail: c })
  }
  return { service, components, denyList, open }
}

const randomPeer = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

const resetError = (): Error => Object.assign(new Error('stream reset'), { name: 'StreamResetError' })

describe('handshake service (stub components)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('runs one handshake per peer across several connections', async () => {
    const { service, open } = await stubService()
    await service.start()
    const peer = await randomPeer()
    const hang = (): Promise<Stream> => new Promise(() => {})
    const c1 = fakeConnection(peer, 'outbound', hang)
    const c2 = fakeConnection(peer, 'outbound', hang)
    open(c1.connection)
    open(c2.connection)
    await sleep(10)
    expect(c1.newStream.mock.calls.length + c2.newStream.mock.calls.length).toBe(1)
    await service.stop()
  })

  it('retries transient failures with backoff, then denies and disconnects', async () => {
    vi.useFakeTimers()
    const { service, denyList, open } = await stubService()
    await service.start()
    const peer = await randomPeer()
    const c = fakeConnection(peer, 'outbound', async () => {
      throw resetError()
    })
    const rejected = next(service, 'peer:rejected')
    open(c.connection)
    await vi.advanceTimersByTimeAsync(0)
    expect(c.newStream).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(99)
    expect(c.newStream).toHaveBeenCalledTimes(1) // still backing off
    await vi.advanceTimersByTimeAsync(1)
    expect(c.newStream).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(200) // second backoff doubles
    expect(c.newStream).toHaveBeenCalledTimes(3)
    const r = await rejected
    expect(r.reason).toMatch(/after 3 attempts/)
    expect(denyList.isDenied(peer)).toBe(true)
    expect(c.connection.close).toHaveBeenCalled()
    await service.stop()
  })

  it('a permanent failure is not retried', async () => {
    const { service, denyList, open } = await stubService()
    await service.start()
    const peer = await randomPeer()
    const c = fakeConnection(peer, 'outbound', async () => {
      throw Object.assign(new Error('protocol selection failed'), { name: 'UnsupportedProtocolError' })
    })
    const rejected = next(service, 'peer:rejected')
    open(c.connection)
    expect((await rejected).reason).toMatch(/does not speak/)
    expect(c.newStream).toHaveBeenCalledTimes(1)
    expect(denyList.isDenied(peer)).toBe(true)
    await service.stop()
  })

  it('closes connections of an already denied peer on open', async () => {
    const { service, denyList, open } = await stubService()
    await service.start()
    const peer = await randomPeer()
    denyList.deny(peer, 'earlier failure')
    const c = fakeConnection(peer, 'inbound', () => new Promise(() => {}))
    open(c.connection)
    await sleep(10)
    expect(c.connection.close).toHaveBeenCalled()
  })

  it('stop() releases every timer (grace, step deadline, backoff)', async () => {
    vi.useFakeTimers()
    const { service, open } = await stubService({ graceMs: 60_000 })
    await service.start()
    // inbound peer: grace timer
    open(fakeConnection(await randomPeer(), 'inbound', () => new Promise(() => {})).connection)
    // outbound peer whose stream never opens: step deadline timer
    open(fakeConnection(await randomPeer(), 'outbound', () => new Promise(() => {})).connection)
    // outbound peer failing transiently: backoff timer
    open(
      fakeConnection(await randomPeer(), 'outbound', async () => {
        throw resetError()
      }).connection,
    )
    await vi.advanceTimersByTimeAsync(0)
    expect(vi.getTimerCount()).toBeGreaterThanOrEqual(3)
    await service.stop()
    expect(vi.getTimerCount()).toBe(0)
    await expect(service.authenticate(await randomPeer())).rejects.toMatchObject({ name: 'NotStartedError' })
  })

  it('authenticate() honours its abort signal with a TimeoutError', async () => {
    const { service, open } = await stubService()
    await service.start()
    const peer = await randomPeer()
    open(fakeConnection(peer, 'inbound', () => new Promise(() => {})).connection)
    const controller = new AbortController()
    const pending = service.authenticate(peer, { signal: controller.signal })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' })
    await service.stop()
  })
})

describe('descriptor and deny list', () => {
  it('verifyNodeDescriptor checks timestamps against the skew', async () => {
    const peer = await randomPeer()
    const now = 1_700_000_000_000
    const policy = { peerId: peer, now, maxClockSkewMs: 60_000, supportedProtocolVersions: [1] }
    const at = (t: number): Uint8Array =>
      encodeNodeDescriptor(createNodeDescriptor({ softwareVersion: 'x', roles: ['light'] }, peer, t))
    expect(verifyNodeDescriptor(at(now - 59_000), policy).timestamp).toBe(now - 59_000)
    expect(() => verifyNodeDescriptor(at(now - 61_000), policy)).toThrow(/in the past/)
    expect(() => verifyNodeDescriptor(at(now + 61_000), policy)).toThrow(/in the future/)
    expect(() => verifyNodeDescriptor(Uint8Array.from([1, 2, 3]), policy)).toThrow(
      expect.objectContaining({ name: 'InvalidMessageError' }),
    )
  })

  it('createNodeDescriptor refuses a malformed chain address', async () => {
    const peer = await randomPeer()
    expect(() =>
      createNodeDescriptor({ softwareVersion: 'x', roles: ['trainer'], chainAddress: '0x1234' }, peer, Date.now()),
    ).toThrow(expect.objectContaining({ name: 'HandshakeError' }))
  })

  it('PeerDenyList expires entries and drives the gater', async () => {
    let now = 0
    const list = new PeerDenyList({ defaultTtlMs: 1_000, now: () => now })
    const peer = await randomPeer()
    const gater = list.gater()
    expect(await gater.denyDialPeer?.(peer)).toBe(false)
    list.deny(peer, 'bad signature')
    expect(list.isDenied(peer)).toBe(true)
    expect(await gater.denyDialPeer?.(peer)).toBe(true)
    expect(await gater.denyInboundEncryptedConnection?.(peer, {} as any)).toBe(true)
    expect(await gater.denyOutboundEncryptedConnection?.(peer, {} as any)).toBe(true)
    now = 999
    expect(list.isDenied(peer)).toBe(true)
    now = 1_000
    expect(list.isDenied(peer)).toBe(false)
    expect(await gater.denyDialPeer?.(peer)).toBe(false)
    list.deny(peer, 'again', 50)
    expect(list.allow(peer)).toBe(true)
    expect(list.isDenied(peer)).toBe(false)
  })

  it('PeerDenyList stays within maxEntries and composes with a base gater', async () => {
    const list = new PeerDenyList({ maxEntries: 3 })
    const peers = await Promise.all(Array.from({ length: 5 }, randomPeer))
    for (const [i, p] of peers.entries()) list.deny(p, `r${i}`, 1_000 + i)
    expect(list.size).toBe(3)
    expect(list.isDenied(peers[4]!)).toBe(true)
    expect(list.isDenied(peers[0]!)).toBe(false)
    const other = await randomPeer()
    const gater = list.gater({ denyDialPeer: (p) => p.equals(other) })
    expect(await gater.denyDialPeer?.(other)).toBe(true)
    expect(await gater.denyDialPeer?.(peers[4]!)).toBe(true)
    expect(await gater.denyDialPeer?.(peers[0]!)).toBe(false)
  })
})
