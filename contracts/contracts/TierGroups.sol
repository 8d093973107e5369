// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {InternalLeanIMT, LeanIMTData} from "@zk-kit/lean-imt.sol/InternalLeanIMT.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {ITierGroups} from "./interfaces/ITierGroups.sol";
import {FutureLookup, InvalidTier, ZeroAddress} from "./Errors.sol";

/// @title TierGroups
/// @notice One Semaphore group per tier: a lean incremental Merkle tree (zk-kit's LeanIMT, Poseidon)
/// of identity commitments of the nodes of that tier. Governance lets a member vote anonymously with
/// a zero-knowledge proof of membership in its tier's group as it was at a proposal's snapshot.
/// @dev A node is in at most one group at a time, the one of its tier when it joined. Its tier is
/// checked only at `join`: when it later falls (stake withdrawn, reputation decayed), anyone may
/// `evict` it; until someone does, it stays a member of the higher group. When its tier rises it may
/// `leave` and `join` again. Roots and memberships are checkpointed by time, so a proposal reads
/// them at its snapshot, like stake and tier. Each tree holds at most 2^16 members (the circuit's depth).
/// PoseidonT3 (poseidon-solidity) is an external library: link it when deploying.
contract TierGroups is ITierGroups {
    using InternalLeanIMT for LeanIMTData;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice The circuit's maximum tree depth (circuits/vote/vote.circom: Semaphore(16)).
    uint256 public constant MAX_DEPTH = 16;

    IReputation public immutable reputation;

    LeanIMTData[3] private _trees;
    /// Every root each tree has had, oldest first.
    uint256[][3] private _roots;
    /// Time -> 1 + index in `_roots` of the root from then on.
    Checkpoints.Trace208[3] private _rootAt;
    /// Time -> the tier group the node is in from then on (0 = none).
    mapping(address => Checkpoints.Trace208) private _memberTier;
    mapping(address => uint256) private _commitmentOf;

    /// @notice `node` added `commitment` at `index` of tier `tier`'s tree, whose root is now `root`.
    event MemberAdded(uint8 indexed tier, address indexed node, uint256 commitment, uint256 index, uint256 root);
    /// @notice `node`'s `commitment` at `index` of tier `tier`'s tree was set to 0 (left or evicted).
    event MemberRemoved(uint8 indexed tier, address indexed node, uint256 commitment, uint256 index, uint256 root);

    /// @dev The node has tier 0: it cannot join a group.
    error NoTier(address node);
    /// @dev The node is already in group `tier`: leave first.
    error AlreadyMember(address node, uint8 tier);
    /// @dev The node is in no group.
    error NotMember(address node);
    /// @dev The node's current tier is still at least its group's: it cannot be evicted.
    error StillInTier(address node, uint8 tier);
    /// @dev The group holds 2^MAX_DEPTH members already.
    error GroupFull(uint8 tier);

    /// @param reputation_ Reputation, read for a node's current tier.
    constructor(IReputation reputation_) {
        if (address(reputation_) == address(0)) revert ZeroAddress();
        reputation = reputation_;
    }

    /// @notice Adds the caller's Semaphore identity commitment to the group of its current tier.
    /// @param commitment Poseidon(Ax, Ay) of the identity's Baby Jubjub public key; non-zero, below the
    /// field modulus and not already in that group.
    /// @return tier The group joined.
    function join(uint256 commitment) external returns (uint8 tier) {
        tier = reputation.tierOf(msg.sender);
        if (tier == 0) revert NoTier(msg.sender);
        uint8 current = _currentTier(msg.sender);
        if (current != 0) revert AlreadyMember(msg.sender, current);
        LeanIMTData storage tree = _trees[tier - 1];
        if (tree.size >= 2 ** MAX_DEPTH) revert GroupFull(tier);
        uint256 newRoot = tree._insert(commitment);
        _commitmentOf[msg.sender] = commitment;
        _memberTier[msg.sender].push(_now(), tier);
        _recordRoot(tier, newRoot);
        emit MemberAdded(tier, msg.sender, commitment, tree.size - 1, newRoot);
    }

    /// @notice Removes the caller's commitment from its group (its leaf becomes 0).
    /// @param siblingNodes The Merkle proof's siblings of the caller's leaf (LeanIMT.generateProof).
    function leave(uint256[] calldata siblingNodes) external {
        _remove(msg.sender, siblingNodes);
    }

    /// @notice Removes `node` from its group once its current tier is below the group's. Anyone may call.
    /// @param siblingNodes The Merkle proof's siblings of the node's leaf.
    function evict(address node, uint256[] calldata siblingNodes) external {
        uint8 group = _currentTier(node);
        if (group == 0) revert NotMember(node);
        if (reputation.tierOf(node) >= group) revert StillInTier(node, group);
        _remove(node, siblingNodes);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITierGroups
    function rootAt(uint8 tier, uint48 timepoint) external view returns (uint256) {
        _checkTier(tier);
        if (timepoint >= block.timestamp) revert FutureLookup(timepoint, _now());
        uint256 i = _rootAt[tier - 1].upperLookupRecent(timepoint);
        return i == 0 ? 0 : _roots[tier - 1][i - 1];
    }

    /// @inheritdoc ITierGroups
    function memberTierAt(address node, uint48 timepoint) external view returns (uint8) {
        if (timepoint >= block.timestamp) revert FutureLookup(timepoint, _now());
        return uint8(_memberTier[node].upperLookupRecent(timepoint));
    }

    /// @notice The current root of tier `tier`'s group (0 if empty).
    function root(uint8 tier) external view returns (uint256) {
        _checkTier(tier);
        return _trees[tier - 1]._root();
    }

    /// @notice The number of leaves of tier `tier`'s tree, removed ones (now 0) included.
    function size(uint8 tier) external view returns (uint256) {
        _checkTier(tier);
        return _trees[tier - 1].size;
    }

    /// @notice The group `node` is in now (0 if none) and its commitment there.
    function membershipOf(address node) external view returns (uint8 tier, uint256 commitment) {
        tier = _currentTier(node);
        commitment = tier == 0 ? 0 : _commitmentOf[node];
    }

    function _remove(address node, uint256[] calldata siblingNodes) private {
        uint8 tier = _currentTier(node);
        if (tier == 0) revert NotMember(node);
        LeanIMTData storage tree = _trees[tier - 1];
        uint256 commitment = _commitmentOf[node];
        uint256 index = tree._indexOf(commitment);
        uint256 newRoot = tree._remove(commitment, siblingNodes);
        delete _commitmentOf[node];
        _memberTier[node].push(_now(), 0);
        _recordRoot(tier, newRoot);
        emit MemberRemoved(tier, node, commitment, index, newRoot);
    }

    function _recordRoot(uint8 tier, uint256 newRoot) private {
        uint256[] storage roots = _roots[tier - 1];
        roots.push(newRoot);
        _rootAt[tier - 1].push(_now(), SafeCast.toUint208(roots.length));
    }

    function _currentTier(address node) private view returns (uint8) {
        return uint8(_memberTier[node].latest());
    }

    function _checkTier(uint8 tier) private pure {
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
    }

    function _now() private view returns (uint48) {
        return SafeCast.toUint48(block.timestamp);
    }
}
