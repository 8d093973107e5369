import { type Address, concat, type Hex, hashTypedData, sha256, toHex } from 'viem'
import { privateKeyToAccount, sign } from 'viem/accounts'

/**
 * A secp256k1 libp2p identity for the tests: private key 0x9EE3 and its peer id (computed with
 * @libp2p/crypto and @libp2p/peer-id; the Solidity tests use the same one).
 */
export const PEER_KEY = toHex(0x9ee3, { size: 32 })
export const PEER_ID = '16Uiu2HAm7ykVKoDDjsUwwAK5c5MoNnJgMxDzv8yiXAvAK3dtw1Yv'

/**
 * The proof `NodeRegistry.register` takes: the peer key's signature (ECDSA over the SHA-256 of
 * "vain-peer-binding-v1\0" ‖ the EIP-712 digest, as libp2p signs) binding `peerId` to `node`.
 */
export async function peerProof(params: {
  chainId: number
  registry: Address
  node: Address
  peerId?: string
  key?: Hex
}) {
  const key = params.key ?? PEER_KEY
  const publicKey = privateKeyToAccount(key).publicKey
  const digest = hashTypedData({
    domain: { name: 'vAIn NodeRegistry', version: '1', chainId: params.chainId, verifyingContract: params.registry },
    types: {
      PeerIdBinding: [
        { name: 'node', type: 'address' },
        { name: 'peerId', type: 'string' },
      ],
    },
    primaryType: 'PeerIdBinding',
    message: { node: params.node, peerId: params.peerId ?? PEER_ID },
  })
  const sig = await sign({ hash: sha256(concat([toHex('vain-peer-binding-v1\0'), digest])), privateKey: key })
  return {
    x: `0x${publicKey.slice(4, 68)}` as Hex,
    y: `0x${publicKey.slice(68)}` as Hex,
    r: sig.r,
    s: sig.s,
    v: Number(sig.v),
  }
}
