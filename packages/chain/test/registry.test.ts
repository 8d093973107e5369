import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { type Address, getAddress, hashTypedData, parseEther } from 'viem'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  ContractRevertError,
  checkClaimedAddress,
  decodeRevert,
  PeerAddressMismatchError,
  peerIdBindingTypedData,
  secp256k1PeerId,
  signPeerIdBinding,
  UnsupportedPeerKeyError,
  type VainClient,
} from '../src/index.js'
import { createChainDirectory } from '../src/settlement/index.js'
import { freshSuite, libp2pIdentity, sharedChain } from './helpers.js'

const shared = sharedChain()

/** The custom error a registry write reverts with, decoded. */
async function revertOf(call: Promise<unknown>): Promise<string | undefined> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => decodeRevert(e),
  )
  return err instanceof ContractRevertError ? err.errorName : err === undefined ? 'no revert' : String(err)
}

describe('NodeRegistry: a peer id is bound only with its own libp2p key (issue 11: peer-id squatting)', () => {
  let honest: VainClient
  let squatter: VainClient
  let registry: Address

  beforeAll(async () => {
    const suite = await freshSuite(shared, { nodes: [1, 2] })
    ;[honest, squatter] = suite.nodes as [VainClient, VainClient]
    registry = suite.deployment.addresses.registry
    await honest.staking.stake(parseEther('100'))
    await squatter.staking.stake(parseEther('100'))
  })

  it('an honest node registers with its real libp2p secp256k1 key', async () => {
    const key = await generateKeyPair('secp256k1')
    const peerId = peerIdFromPrivateKey(key).toString()
    expect(secp256k1PeerId(key.publicKey.raw)).toBe(peerId)
    const tx = await honest.registry.register(key)
    expect(tx.events.some((e) => e.eventName === 'NodeRegistered')).toBe(true)
    expect(await honest.registry.nodeOf(peerId)).toBe(getAddress(honest.account!))
    expect(await honest.registry.peerIdOf()).toBe(peerId)

    // a key rotation: the new key proves the new peer id, the old one is freed
    const next = await generateKeyPair('secp256k1')
    await honest.registry.updatePeerId(next)
    expect(await honest.registry.peerIdOf()).toBe(peerIdFromPrivateKey(next).toString())
    expect(await honest.registry.nodeOf(peerId)).toBeUndefined()
  })

  it('a staked squatter without the key cannot take an honest peer id; the honest node still can', async () => {
    const victim = libp2pIdentity('victim')
    const chainId = await shared.publicClient.getChainId()
    // the honest node's own proof (seen in the mempool, or given away): bound to its address
    const { proof } = await signPeerIdBinding(victim.key, { chainId, registry, node: honest.account! })
    const attempt = (p: typeof proof) =>
      squatter.contracts.registry.simulate.register([victim.peerId, p], { account: squatter.account! })
    expect(await revertOf(attempt(proof))).toBe('InvalidPeerSignature')
    // the squatter's own key with the victim's peer id
    const own = await signPeerIdBinding(libp2pIdentity('squatter').key, { chainId, registry, node: squatter.account! })
    expect(await revertOf(attempt(own.proof))).toBe('PeerKeyMismatch')
    // the victim's public key with the squatter's signature
    expect(await revertOf(attempt({ ...proof, r: own.proof.r, s: own.proof.s, v: own.proof.v }))).toBe(
      'InvalidPeerSignature',
    )
    // a proof for another chain or another registry
    for (const domain of [
      { chainId: chainId + 1, registry, node: squatter.account! },
      { chainId, registry: honest.addresses.staking, node: squatter.account! },
    ]) {
      const other = await signPeerIdBinding(victim.key, domain)
      expect(await revertOf(attempt(other.proof))).toBe('InvalidPeerSignature')
    }
    expect(await squatter.registry.nodeOf(victim.peerId)).toBeUndefined()

    const fresh = await freshSuite(shared, { nodes: [3] })
    const owner = fresh.nodes[0]!
    await owner.staking.stake(parseEther('100'))
    await owner.registry.register(victim.key)
    expect(await owner.registry.nodeOf(victim.peerId)).toBe(getAddress(owner.account!))
  })

  it('the proof signs what the contract checks: the same EIP-712 digest', async () => {
    const { peerId } = libp2pIdentity('digest')
    const chainId = await shared.publicClient.getChainId()
    const onChain = await honest.contracts.registry.read.bindingDigest([honest.account!, peerId])
    expect(hashTypedData(peerIdBindingTypedData(peerId, { chainId, registry, node: honest.account! }))).toBe(onChain)
  })

  it('an Ed25519 identity cannot be bound: UnsupportedPeerKeyError before any transaction', async () => {
    const ed = await generateKeyPair('Ed25519')
    await expect(squatter.registry.register(ed)).rejects.toBeInstanceOf(UnsupportedPeerKeyError)
  })
})

describe('cross-check: the address a peer claims in its handshake against the registry', () => {
  it('checkClaimedAddress: agrees, no claim, or a typed mismatch', () => {
    const registered = getAddress('0x70997970c51812dc3a010c7d01b50e0d17dc79c8')
    const peerId = libp2pIdentity('x').peerId
    expect(checkClaimedAddress(peerId, registered.toLowerCase(), registered)).toBeUndefined()
    expect(checkClaimedAddress(peerId, undefined, registered)).toBeUndefined()
    const err = checkClaimedAddress(peerId, '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', registered)
    expect(err).toBeInstanceOf(PeerAddressMismatchError)
    expect(err?.name).toBe('PeerAddressMismatchError')
    expect(err?.registered).toBe(registered)
    expect(checkClaimedAddress(peerId, `0x${'zz'.repeat(5000)}`, registered)?.claimed.length).toBeLessThanOrEqual(43)
  })

  it('a registered peer claiming another address is refused as not registered; the right claim is eligible', async () => {
    const { nodes } = await freshSuite(shared, { nodes: [4, 5] })
    const [node, other] = nodes as [VainClient, VainClient]
    const id = libp2pIdentity('cross-check')
    await node.staking.stake(parseEther('100'))
    await node.registry.register(id.key)
    const claims = new Map<string, string>()
    const directory = createChainDirectory(node, { claimedAddressOf: (p) => claims.get(p) })

    claims.set(id.peerId, other.account!)
    const refused = await directory.verdict(id.peerId, 'light', { light: 1 })
    expect(refused.eligible).toBe(false)
    if (refused.eligible) return
    expect(refused.error).toBeInstanceOf(PeerAddressMismatchError)
    expect(refused.reason).toContain(`claims chain address ${other.account}`)

    claims.set(id.peerId, node.account!)
    expect((await directory.verdict(id.peerId, 'light', { light: 1 })).eligible).toBe(true)
    claims.delete(id.peerId)
    expect((await directory.verdict(id.peerId, 'light', { light: 1 })).eligible).toBe(true)
  })
})
