// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IStaking} from "./interfaces/IStaking.sol";
import {StakeTooLow, ZeroAddress} from "./Errors.sol";

/// @title NodeRegistry
/// @notice Binds a node's chain address to its libp2p peer id (the string form, e.g. `12D3KooW...`).
/// The node proves control of the address by sending the transaction; the peer-id side is proven
/// off chain, by a signature from the peer's key that other peers check. A peer id belongs to at
/// most one address. Registering needs at least the tier-1 minimum stake.
contract NodeRegistry {
    /// @notice Longest accepted peer id string.
    uint256 public constant MAX_PEER_ID_LENGTH = 128;

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

    constructor(IStaking staking_) {
        if (address(staking_) == address(0)) revert ZeroAddress();
        staking = staking_;
    }

    /// @notice Registers the caller with `peerId`.
    function register(string calldata peerId) external {
        if (bytes(_peerIdOf[msg.sender]).length != 0) revert AlreadyRegistered(msg.sender);
        uint256 staked = staking.stakeOf(msg.sender);
        uint256 required = staking.minStake(1);
        if (staked < required) revert StakeTooLow(msg.sender, staked, required);
        _bind(msg.sender, peerId);
        nodeCount += 1;
        emit NodeRegistered(msg.sender, peerId);
    }

    /// @notice Replaces the caller's peer id (e.g. after a key rotation).
    function updatePeerId(string calldata peerId) external {
        string memory old = _peerIdOf[msg.sender];
        if (bytes(old).length == 0) revert NotRegistered(msg.sender);
        delete _nodeOfPeerId[keccak256(bytes(old))];
        _bind(msg.sender, peerId);
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

    function _bind(address node, string calldata peerId) private {
        uint256 len = bytes(peerId).length;
        if (len == 0 || len > MAX_PEER_ID_LENGTH) revert InvalidPeerId(peerId);
        bytes32 key = keccak256(bytes(peerId));
        address owner = _nodeOfPeerId[key];
        if (owner != address(0)) revert PeerIdTaken(peerId, owner);
        _nodeOfPeerId[key] = node;
        _peerIdOf[node] = peerId;
    }
}
