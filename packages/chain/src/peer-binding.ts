/**
 * Proof that a libp2p peer id belongs to a chain address, for the NodeRegistry. Peer ids are
 * public: the registry binds one to an address only with a signature by the peer's own key over
 * (chain id, registry, address, peer id). Nodes that stake use **secp256k1** libp2p identities
 * (peer ids `16Uiu2HA…`), whose signatures the contract checks with `ecrecover`; Ed25519 peer ids
 * (`12D3KooW…`) cannot be registered.
 *
 * What the key signs: `"vain-peer-binding-v1\0"` followed by the EIP-712 digest of
 * `PeerIdBinding(address node,string peerId)` under the domain `{ name: 'vAIn NodeRegistry',
 * version: '1', chainId, verifyingContract: registry }` — signed the way libp2p signs (ECDSA over
 * the SHA-256 of the bytes), so a libp2p `PrivateKey` is a {@link PeerKeySigner} as it is.
 *
 * @example
 * ```ts
 * import { generateKeyPair } from '@libp2p/crypto/keys'
 * import { signPeerIdBinding } from '@vain/chain'
 *
 * const key = await generateKeyPair('secp256k1')
 * const { peerId, proof } = await signPeerIdBinding(key, { chainId: 31337, registry, node: address })
 * await vain.registry.register(key) // or: vain.contracts.registry.write.register([peerId, proof])
 * ```
 * @module
 */
import { base58btc } from 'multiformats/bases/base58'
import {
  type Address,
  bytesToHex,
  concat,
  getAddress,
  type Hex,
  hashTypedData,
  hexToBigInt,
  hexToBytes,
  numberToHex,
  recoverPublicKey,
  serializeSignature,
  sha256,
  stringToBytes,
} from 'viem'
import { InvalidInputError, PeerKeySignatureError, UnsupportedPeerKeyError } from './errors.js'

/**
 * Bytes before the EIP-712 digest in what a peer's key signs (the contract's `BINDING_TAG`): no
 * other message a node signs with its key can be taken for a binding.
 */
export const PEER_BINDING_TAG = 'vain-peer-binding-v1\0'

/** The EIP-712 types of a binding. */
export const PEER_ID_BINDING_TYPES = {
  PeerIdBinding: [
    { name: 'node', type: 'address' },
    { name: 'peerId', type: 'string' },
  ],
} as const

/**
 * The key of a peer, as much of a libp2p `PrivateKey` as a proof needs (a libp2p secp256k1
 * `PrivateKey` is one): its public key and `sign`.
 */
export interface PeerKeySigner {
  /** `type` must be `'secp256k1'`; `raw` is the 33-byte compressed public key. */
  publicKey: { type: string; raw: Uint8Array }
  /**
   * Signs `data` with ECDSA over SHA-256(data), as libp2p does: a DER signature, or 64 (r ‖ s)
   * or 65 (r ‖ s ‖ v) bytes.
   */
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>
}

/** The proof `NodeRegistry.register` / `updatePeerId` take (the contract's `PeerKeyProof`). */
export interface PeerKeyProof {
  /** Public key, x coordinate. */
  x: Hex
  /** Public key, y coordinate. */
  y: Hex
  r: Hex
  /** In the lower half of the curve order. */
  s: Hex
  /** 27 or 28. */
  v: number
}

/** Where a binding is valid: the chain, the registry and the address the peer id is bound to. */
export interface PeerBindingDomain {
  chainId: number
  /** The NodeRegistry's address. */
  registry: Address
  /** The chain address the peer id is bound to (the transaction's sender). */
  node: Address
}

const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n
/** Identity multihash (0x00, 37 bytes) of a protobuf PublicKey { Type: Secp256k1, Data: 33 bytes }. */
const SECP256K1_PEER_ID_PREFIX = Uint8Array.of(0x00, 0x25, 0x08, 0x02, 0x12, 0x21)

/**
 * The peer id string (`16Uiu2HA…`) of a secp256k1 public key (33 bytes, compressed).
 *
 * @throws {UnsupportedPeerKeyError} when `compressedKey` is not 33 bytes starting 0x02 or 0x03
 * @example
 * ```ts
 * secp256k1PeerId(key.publicKey.raw) === peerIdFromPrivateKey(key).toString() // true
 * ```
 */
export function secp256k1PeerId(compressedKey: Uint8Array): string {
  if (compressedKey.byteLength !== 33 || (compressedKey[0] !== 2 && compressedKey[0] !== 3)) {
    throw new UnsupportedPeerKeyError('not a compressed secp256k1 public key (33 bytes, 0x02 or 0x03 first)')
  }
  const bytes = new Uint8Array(SECP256K1_PEER_ID_PREFIX.byteLength + 33)
  bytes.set(SECP256K1_PEER_ID_PREFIX)
  bytes.set(compressedKey, SECP256K1_PEER_ID_PREFIX.byteLength)
  return base58btc.baseEncode(bytes)
}

/**
 * The EIP-712 typed data of binding `peerId` to `domain.node` (for `hashTypedData` or a wallet).
 *
 * @example
 * ```ts
 * const digest = hashTypedData(peerIdBindingTypedData(peerId, { chainId, registry, node }))
 * ```
 */
export function peerIdBindingTypedData(peerId: string, domain: PeerBindingDomain) {
  return {
    domain: { name: 'vAIn NodeRegistry', version: '1', chainId: domain.chainId, verifyingContract: domain.registry },
    types: PEER_ID_BINDING_TYPES,
    primaryType: 'PeerIdBinding' as const,
    message: { node: domain.node, peerId },
  }
}

/**
 * The bytes a peer's key signs to bind `peerId` to `domain.node`: {@link PEER_BINDING_TAG} then
 * the EIP-712 digest (the contract's `bindingDigest`).
 *
 * @example
 * ```ts
 * const signature = await key.sign(peerIdBindingMessage(peerId, { chainId, registry, node }))
 * ```
 */
export function peerIdBindingMessage(peerId: string, domain: PeerBindingDomain): Uint8Array {
  return hexToBytes(
    concat([bytesToHex(stringToBytes(PEER_BINDING_TAG)), hashTypedData(peerIdBindingTypedData(peerId, domain))]),
  )
}

/**
 * Signs the binding of `key`'s peer id to `domain.node` with `key` and returns the peer id and
 * the proof the registry checks. Works with a libp2p secp256k1 `PrivateKey` as it is.
 *
 * @throws {UnsupportedPeerKeyError} when `key` is not a secp256k1 key (e.g. Ed25519)
 * @throws {PeerKeySignatureError} when the signature is malformed or not by `key`
 * @example
 * ```ts
 * const { peerId, proof } = await signPeerIdBinding(libp2pKey, { chainId, registry, node: account })
 * await vain.contracts.registry.write.register([peerId, proof])
 * ```
 */
export async function signPeerIdBinding(
  key: PeerKeySigner,
  domain: PeerBindingDomain,
): Promise<{ peerId: string; proof: PeerKeyProof }> {
  if (key.publicKey.type !== 'secp256k1') {
    throw new UnsupportedPeerKeyError(
      `a ${key.publicKey.type} peer key cannot be bound on chain: nodes that stake need a secp256k1 libp2p identity`,
    )
  }
  const compressed = key.publicKey.raw
  const peerId = secp256k1PeerId(compressed)
  let node: Address
  try {
    node = getAddress(domain.node)
    getAddress(domain.registry)
  } catch (cause) {
    throw new InvalidInputError(`invalid address in the binding domain: ${(cause as Error).message}`, { cause })
  }
  const message = peerIdBindingMessage(peerId, { ...domain, node })
  const signature = await key.sign(message)
  const { r, s } = parseEcdsaSignature(signature)
  const hash = sha256(message)
  const wanted = bytesToHex(compressed)
  for (const yParity of [0, 1] as const) {
    let uncompressed: Hex
    try {
      uncompressed = await recoverPublicKey({
        hash,
        signature: serializeSignature({ r: numberToHex(r, { size: 32 }), s: numberToHex(s, { size: 32 }), yParity }),
      })
    } catch {
      continue
    }
    const point = hexToBytes(uncompressed)
    const y = point.slice(33, 65)
    const recovered = bytesToHex(Uint8Array.of((y[31]! & 1) === 1 ? 3 : 2, ...point.slice(1, 33)))
    if (recovered !== wanted) continue
    return {
      peerId,
      proof: {
        x: bytesToHex(point.slice(1, 33)),
        y: bytesToHex(y),
        r: numberToHex(r, { size: 32 }),
        s: numberToHex(s, { size: 32 }),
        v: 27 + yParity,
      },
    }
  }
  throw new PeerKeySignatureError(`the peer key's signature of the binding of ${peerId} does not verify`)
}

/** (r, s) of a DER, 64-byte or 65-byte ECDSA signature, with s in the lower half. */
function parseEcdsaSignature(sig: Uint8Array): { r: bigint; s: bigint } {
  let r: bigint
  let s: bigint
  if (sig.byteLength === 64 || sig.byteLength === 65) {
    r = hexToBigInt(bytesToHex(sig.slice(0, 32)))
    s = hexToBigInt(bytesToHex(sig.slice(32, 64)))
  } else {
    const der = parseDer(sig)
    if (der === undefined) throw new PeerKeySignatureError('the peer key returned a malformed ECDSA signature')
    ;({ r, s } = der)
  }
  if (r === 0n || r >= CURVE_N || s === 0n || s >= CURVE_N) {
    throw new PeerKeySignatureError('the peer key returned an ECDSA signature out of range')
  }
  // the contract takes the low-s form only (a high s is the same signature mirrored)
  return { r, s: s > CURVE_N / 2n ? CURVE_N - s : s }
}

/** Strict DER: SEQUENCE { INTEGER r, INTEGER s }, short lengths, nothing after. */
function parseDer(der: Uint8Array): { r: bigint; s: bigint } | undefined {
  if (der.byteLength < 8 || der.byteLength > 72 || der[0] !== 0x30 || der[1] !== der.byteLength - 2) return undefined
  const ints: bigint[] = []
  let at = 2
  for (let i = 0; i < 2; i++) {
    if (der[at] !== 0x02) return undefined
    const len = der[at + 1] ?? 0
    if (len === 0 || len > 33 || at + 2 + len > der.byteLength) return undefined
    ints.push(hexToBigInt(bytesToHex(der.slice(at + 2, at + 2 + len))))
    at += 2 + len
  }
  if (at !== der.byteLength) return undefined
  return { r: ints[0]!, s: ints[1]! }
}
