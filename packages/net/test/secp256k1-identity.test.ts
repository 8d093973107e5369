import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadOrCreateIdentity, type VainNode, verifyPeerSignature } from '../src/index.js'
import { startNode, stopNodes, waitFor } from './fixtures/network.js'

const FAST_SCRYPT = { N: 2 ** 10, r: 8, p: 1 }

let root: string
let counter = 0
const freshPath = (): string => join(root, `case-${counter++}`, 'identity.key')

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vain-secp-identity-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('secp256k1 identities (nodes that stake: the NodeRegistry checks their key on chain)', () => {
  it('creates a secp256k1 key file, reloads it (plain and sealed), and keeps its type', async () => {
    for (const passphrase of [undefined, 'correct horse']) {
      const path = freshPath()
      const options = {
        path,
        keyType: 'secp256k1' as const,
        scrypt: FAST_SCRYPT,
        ...(passphrase ? { passphrase } : {}),
      }
      const first = await loadOrCreateIdentity(options)
      expect(first.created).toBe(true)
      expect(first.privateKey.type).toBe('secp256k1')
      expect(first.peerId.toString()).toMatch(/^16Uiu2HA/)
      expect(JSON.parse(await readFile(path, 'utf8')).keyType).toBe('secp256k1')
      // an existing file keeps its type whatever a later call asks for
      const again = await loadOrCreateIdentity({ ...options, keyType: 'Ed25519' })
      expect(again.created).toBe(false)
      expect(again.peerId.toString()).toBe(first.peerId.toString())
    }
  })

  it('refuses a key file whose keyType does not match its key, and unknown key types', async () => {
    const path = freshPath()
    await loadOrCreateIdentity({ path, keyType: 'secp256k1' })
    const file = JSON.parse(await readFile(path, 'utf8'))
    await writeFile(path, JSON.stringify({ ...file, keyType: 'Ed25519' }), { mode: 0o600 })
    await expect(loadOrCreateIdentity({ path })).rejects.toMatchObject({
      name: 'IdentityError',
      message: expect.stringMatching(/says Ed25519 but holds a secp256k1 key/),
    })
    await writeFile(path, JSON.stringify({ ...file, keyType: 'RSA' }), { mode: 0o600 })
    await expect(loadOrCreateIdentity({ path })).rejects.toMatchObject({ name: 'IdentityError' })
    await expect(loadOrCreateIdentity({ path: freshPath(), keyType: 'RSA' as never })).rejects.toMatchObject({
      name: 'IdentityError',
    })
  })

  it('a secp256k1 node and an Ed25519 node authenticate each other; signatures and the descriptor address work', async () => {
    const nodes: VainNode[] = []
    try {
      const address = `0x${'c0'.repeat(20)}`
      const a = await startNode({
        dataDir: join(root, 'node-a'),
        identity: { keyType: 'secp256k1' },
        chainAddress: address,
      })
      nodes.push(a)
      const b = await startNode({ bootstrap: a.multiaddrs.map(String) })
      nodes.push(b)
      expect(a.peerId.type).toBe('secp256k1')
      expect(b.peerId.type).toBe('Ed25519')
      await waitFor(
        () => a.authenticatedPeers().length === 1 && b.authenticatedPeers().length === 1,
        10_000,
        'both authenticated',
      )
      expect(b.descriptor(a.peerId)?.chainAddress).toBe(address)
      const data = new TextEncoder().encode('an update header')
      const sig = await a.sign(data)
      expect(await verifyPeerSignature(a.peerId.toString(), data, sig)).toBe(true)
      expect(await verifyPeerSignature(b.peerId.toString(), data, sig)).toBe(false)
      expect(await verifyPeerSignature(a.peerId.toString(), new TextEncoder().encode('another'), sig)).toBe(false)
    } finally {
      await stopNodes(nodes)
    }
  })
})
