// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {StakeTooLow, ZeroAddress} from "./Errors.sol";

/// @title NodeRegistry
/// @notice Binds a node's chain address to its libp2p peer id (the string form, `16Uiu2HA...`).
/// Both sides are proven on chain: the address by sending the transaction, the peer id by a
/// signature of the peer's own libp2p key over (chain id, this registry, the address, the peer id).
/// Only secp256k1 libp2p identities can be bound (their key is checked with `ecrecover`); a peer
/// id belongs to at most one address. Registering needs at least the tier-1 minimum stake.
///
/// The proof: the EIP-712 digest of `PeerIdBinding(address node,string peerId)` under this
/// registry's domain (name "vAIn NodeRegistry", version "1", chain id, this address), prefixed
/// with `BINDING_TAG`, is signed by the libp2p key the way libp2p signs (ECDSA over the SHA-256
/// of the bytes; low s). The caller passes the uncompressed public key (x, y) and (r, s, v); the
/// contract checks that (x, y) is on the curve, that its compressed form is the key inside the
/// peer id (identity multihash of the protobuf public key, base58btc), and that `ecrecover`
/// gives (x, y)'s address.
contract NodeRegistry is EIP712 {
    /// @notice Longest accepted peer id string.
    uint256 public constant MAX_PEER_ID_LENGTH = 128;

    /// @notice EIP-712 type of the statement a peer's key signs.
    bytes32 public constant PEER_ID_BINDING_TYPEHASH = keccak256("PeerIdBinding(address node,string peerId)");

    /// @notice Domain tag before the EIP-712 digest in the bytes the libp2p key signs, so that no
    /// other message the node signs with its key can be taken for a binding.
    bytes21 public constant BINDING_TAG = "vain-peer-binding-v1\x00";

    /// @dev Length of a secp256k1 peer id string: '1' (the identity multihash's 0x00) + 52 digits.
    uint256 private constant SECP256K1_PEER_ID_LENGTH = 53;
    /// @dev Bytes 1..5 of a secp256k1 peer id: multihash length 37, protobuf Type = 2 (Secp256k1),
    /// Data of 33 bytes; the sixth byte is the compressed key's parity byte (2 or 3).
    uint256 private constant SECP256K1_PEER_ID_PREFIX = 0x250802122100;
    /// @dev The secp256k1 field prime.
    uint256 private constant FIELD_P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F;
    /// @dev Base58btc digit of each character from '1' (0x31) to 'z' (0x7a), 0xff for the others.
    uint256 private constant BASE58_DIGITS_0 = 0x000102030405060708ffffffffffffff090a0b0c0d0e0f10ff1112131415ff16;
    uint256 private constant BASE58_DIGITS_1 = 0x1718191a1b1c1d1e1f20ffffffffffff2122232425262728292a2bff2c2d2e2f;
    uint256 private constant BASE58_DIGITS_2 = 0x30313233343536373839ffffffffffffffffffffffffffffffffffffffffffff;

    /// @notice A peer's proof that its libp2p key binds the peer id to the sender.
    /// @param x the public key's x coordinate
    /// @param y the public key's y coordinate
    /// @param r the signature's r
    /// @param s the signature's s (in the lower half of the curve order)
    /// @param v 27 or 28
    struct PeerKeyProof {
        bytes32 x;
        bytes32 y;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    IStaking public immutable staking;
    uint256 public nodeCount;
    mapping(address => string) private _peerIdOf;
    mapping(bytes32 => address) private _nodeOfPeerId;

    event NodeRegistered(address indexed node, string peerId);
    event PeerIdChanged(address indexed node, string oldPeerId, string newPeerId);
    event NodeDeregistered(address indexed node, string peerId);

    /// @dev The address already has a peer id.
    error AlreadyRegistered(address node);
    /// @dev The address has no peer id.
    error NotRegistered(address node);
    /// @dev The peer id is bound to another address.
    error PeerIdTaken(string peerId, address node);
    /// @dev The peer id is empty or longer than MAX_PEER_ID_LENGTH.
    error InvalidPeerId(string peerId);
    /// @dev The public key is not a secp256k1 point, or not the key inside `peerId` (which may not
    /// be a secp256k1 peer id at all, e.g. an Ed25519 `12D3KooW...` one).
    error PeerKeyMismatch(string peerId);
    /// @dev The signature is malformed or was not made by `peerId`'s key over this binding (the
    /// sender, this chain, this registry).
    error InvalidPeerSignature(string peerId);

    constructor(IStaking staking_) EIP712("vAIn NodeRegistry", "1") {
        if (address(staking_) == address(0)) revert ZeroAddress();
        staking = staking_;
    }

    /// @notice Registers the caller with `peerId`, proven by `proof` from the peer's key.
    function register(string calldata peerId, PeerKeyProof calldata proof) external {
        if (bytes(_peerIdOf[msg.sender]).length != 0) revert AlreadyRegistered(msg.sender);
        uint256 staked = staking.stakeOf(msg.sender);
        uint256 required = staking.minStake(1);
        if (staked < required) revert StakeTooLow(msg.sender, staked, required);
        _bind(msg.sender, peerId, proof);
        nodeCount += 1;
        emit NodeRegistered(msg.sender, peerId);
    }

    /// @notice Replaces the caller's peer id (e.g. after a key rotation), proven by the new key.
    function updatePeerId(string calldata peerId, PeerKeyProof calldata proof) external {
        string memory old = _peerIdOf[msg.sender];
        if (bytes(old).length == 0) revert NotRegistered(msg.sender);
        delete _nodeOfPeerId[keccak256(bytes(old))];
        _bind(msg.sender, peerId, proof);
        emit PeerIdChanged(msg.sender, old, peerId);
    }

    /// @notice Removes the caller's binding.
    function deregister() external {
        string memory old = _peerIdOf[msg.sender];
        if (bytes(old).length == 0) revert NotRegistered(msg.sender);
        delete _nodeOfPeerId[keccak256(bytes(old))];
        delete _peerIdOf[msg.sender];
        nodeCount -= 1;
        emit NodeDeregistered(msg.sender, old);
    }

    /// @notice The peer id bound to `node`, or "" if none.
    function peerIdOf(address node) external view returns (string memory) {
        return _peerIdOf[node];
    }

    /// @notice The address bound to `peerId`, or address(0) if none.
    function nodeOf(string calldata peerId) external view returns (address) {
        return _nodeOfPeerId[keccak256(bytes(peerId))];
    }

    /// @notice Whether `node` has a peer id.
    function isRegistered(address node) external view returns (bool) {
        return bytes(_peerIdOf[node]).length != 0;
    }

    /// @notice The EIP-712 digest of binding `peerId` to `node` on this registry and chain.
    /// The peer's key signs `BINDING_TAG ‖ digest` (ECDSA over its SHA-256).
    function bindingDigest(address node, string calldata peerId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(PEER_ID_BINDING_TYPEHASH, node, keccak256(bytes(peerId)))));
    }

    function _bind(address node, string calldata peerId, PeerKeyProof calldata proof) private {
        uint256 len = bytes(peerId).length;
        if (len == 0 || len > MAX_PEER_ID_LENGTH) revert InvalidPeerId(peerId);
        _checkProof(node, peerId, proof);
        bytes32 key = keccak256(bytes(peerId));
        address owner = _nodeOfPeerId[key];
        if (owner != address(0)) revert PeerIdTaken(peerId, owner);
        _nodeOfPeerId[key] = node;
        _peerIdOf[node] = peerId;
    }

    /// @dev Reverts unless `proof` is `peerId`'s key's signature binding `peerId` to `node`.
    function _checkProof(address node, string calldata peerId, PeerKeyProof calldata proof) private view {
        uint256 x = uint256(proof.x);
        uint256 y = uint256(proof.y);
        if (!_onCurve(x, y) || !_peerIdHoldsKey(peerId, x, y & 1 == 1)) revert PeerKeyMismatch(peerId);
        bytes32 signed = sha256(abi.encodePacked(BINDING_TAG, bindingDigest(node, peerId)));
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(signed, proof.v, proof.r, proof.s);
        address keyAddress = address(uint160(uint256(keccak256(abi.encodePacked(proof.x, proof.y)))));
        if (err != ECDSA.RecoverError.NoError || signer != keyAddress) revert InvalidPeerSignature(peerId);
    }

    /// @dev y² = x³ + 7 over the secp256k1 field.
    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x >= FIELD_P || y >= FIELD_P) return false;
        return mulmod(y, y, FIELD_P) == addmod(mulmod(mulmod(x, x, FIELD_P), x, FIELD_P), 7, FIELD_P);
    }

    /// @dev Whether `peerId` is the base58btc string of the identity multihash of the protobuf
    /// secp256k1 public key (x, parity): 0x00 0x25 0x08 0x02 0x12 0x21 (0x02 | odd) x. The leading
    /// 0x00 is the '1'; the other 38 bytes are decoded as one number in three 128-bit limbs.
    /// With the length fixed at 53, a digit string has exactly one value, so equal values mean
    /// equal strings.
    function _peerIdHoldsKey(string calldata peerId, uint256 x, bool odd) private pure returns (bool ok) {
        bytes calldata s = bytes(peerId);
        if (s.length != SECP256K1_PEER_ID_LENGTH || s[0] != "1") return false;
        uint256 l0; // bits 0..127
        uint256 l1; // bits 128..255
        uint256 l2; // bits 256.. (below 2^49: 58^52 < 2^305)
        ok = true;
        assembly ("memory-safe") {
            let mask := 0xffffffffffffffffffffffffffffffff
            let end := add(s.offset, 53)
            for { let p := add(s.offset, 1) } lt(p, end) { p := add(p, 1) } {
                // digit of the character: 0xff when it is not a base58btc one
                let i := sub(byte(0, calldataload(p)), 0x31)
                let d := 0xff
                switch shr(5, i)
                case 0 { d := byte(i, BASE58_DIGITS_0) }
                case 1 { d := byte(sub(i, 32), BASE58_DIGITS_1) }
                case 2 { d := byte(sub(i, 64), BASE58_DIGITS_2) }
                if eq(d, 0xff) {
                    ok := 0
                    break
                }
                l0 := add(mul(l0, 58), d)
                l1 := add(mul(l1, 58), shr(128, l0))
                l0 := and(l0, mask)
                l2 := add(mul(l2, 58), shr(128, l1))
                l1 := and(l1, mask)
            }
        }
        return ok && l2 == (SECP256K1_PEER_ID_PREFIX | (odd ? 3 : 2)) && ((l1 << 128) | l0) == x;
    }

}
