// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {FutureLookup, InvalidTier, ThresholdsNotAscending, ZeroAddress} from "./Errors.sol";

/// @title Reputation
/// @notice Reputation rises with accepted contributions (UPDATER_ROLE: the round manager) and
/// decays over time: every `decayPeriod` seconds a node keeps (10000 - decayBps) / 10000 of it.
/// A node's tier is the highest of 1..3 whose minimum stake (in Staking) and minimum reputation
/// (here) it meets, or 0 if it meets none. Thresholds and decay are set by GOVERNOR_ROLE.
/// Every change of a node's reputation is checkpointed by block timestamp, so that governance can
/// read a node's tier as it was when a proposal was made (`tierAt`, `standingAt`).
/// A new network starts with a genesis set: the constructor gives each of its members the same
/// reputation (enough for tier 3 with a tier-3 stake, so that the first committees can form). It
/// decays like any other reputation, so the genesis set must keep earning (as trainers, or as
/// committee members of settled rounds) or fade; it can never be granted again after deployment.
/// @dev A past reputation is decayed with the current decay parameters, and a past tier uses the
/// current thresholds: only the per-node inputs (stake, reputation) are snapshotted.
contract Reputation is IReputation, AccessControl {
    using Checkpoints for Checkpoints.Trace208;

    /// @notice May raise or lower reputation.
    bytes32 public constant UPDATER_ROLE = keccak256("UPDATER_ROLE");
    /// @notice May change decay and tier thresholds.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint16 public constant BPS = 10_000;
    /// @notice Reputation saturates here (it is stored with its decay origin in 208 bits).
    uint256 public constant MAX_REPUTATION = type(uint160).max;
    /// @notice Largest genesis set (the largest committee of the round manager).
    uint256 public constant MAX_GENESIS = 64;

    IStaking public immutable staking;
    uint64 public decayPeriod;
    uint16 public decayBps;
    uint256[3] private _minReputation;
    /// @dev Per node, checkpointed by block timestamp: (updatedAt << 160) | score, where score had
    /// decayed up to `updatedAt` (the start of the current decay period). Latest = current.
    mapping(address => Checkpoints.Trace208) private _records;

    event ReputationChanged(address indexed node, int256 delta, uint256 reputation);
    event DecaySet(uint64 period, uint16 bps);
    event MinReputationSet(uint256[3] minReputation);

    /// @dev Decay must have a period > 0 and a rate of at most 10000 bps.
    error InvalidDecay(uint64 period, uint16 bps);
    /// @dev The genesis set is larger than `MAX_GENESIS`, names a member twice or the zero address,
    /// or its reputation is 0 or above `MAX_REPUTATION`.
    error InvalidGenesis();

    /// @param genesis The genesis set: nodes that start with `genesisReputation` (empty: none).
    /// At most `MAX_GENESIS`, distinct, none the zero address.
    /// @param genesisReputation What each genesis member starts with (ignored when `genesis` is
    /// empty; else 1..`MAX_REPUTATION`); it decays from deployment on.
    constructor(
        IStaking staking_,
        uint64 decayPeriod_,
        uint16 decayBps_,
        uint256[3] memory minReputation_,
        address admin,
        address[] memory genesis,
        uint256 genesisReputation
    ) {
        if (address(staking_) == address(0) || admin == address(0)) revert ZeroAddress();
        staking = staking_;
        _setDecay(decayPeriod_, decayBps_);
        _setMinReputation(minReputation_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        uint256 size = genesis.length;
        if (size == 0) return;
        if (size > MAX_GENESIS || genesisReputation == 0 || genesisReputation > MAX_REPUTATION) revert InvalidGenesis();
        for (uint256 i = 0; i < size; i++) {
            address member = genesis[i];
            if (member == address(0) || _records[member].length() != 0) revert InvalidGenesis();
            _write(member, genesisReputation, uint48(block.timestamp));
            emit ReputationChanged(member, int256(genesisReputation), genesisReputation);
        }
    }

    // ---------------------------------------------------------------- privileged

    /// @inheritdoc IReputation
    function increase(address node, uint256 amount) external onlyRole(UPDATER_ROLE) {
        if (amount == 0) return;
        (uint256 current, uint48 updatedAt) = _settled(node);
        uint256 next = current + amount;
        if (next > MAX_REPUTATION) next = MAX_REPUTATION;
        _write(node, next, updatedAt);
        emit ReputationChanged(node, int256(next - current), next);
    }

    /// @inheritdoc IReputation
    function decrease(address node, uint256 amount) external onlyRole(UPDATER_ROLE) {
        if (amount == 0) return;
        (uint256 current, uint48 updatedAt) = _settled(node);
        uint256 next = amount >= current ? 0 : current - amount;
        _write(node, next, updatedAt);
        emit ReputationChanged(node, -int256(current - next), next);
    }

    /// @notice Sets the decay: each `period` seconds, `bps`/10000 of reputation is lost.
    function setDecay(uint64 period, uint16 bps) external onlyRole(GOVERNOR_ROLE) {
        _setDecay(period, bps);
    }

    /// @notice Sets the minimum reputation of tiers 1, 2 and 3 (non-decreasing).
    function setMinReputation(uint256[3] calldata minReputation_) external onlyRole(GOVERNOR_ROLE) {
        _setMinReputation(minReputation_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IReputation
    function reputationOf(address node) public view returns (uint256) {
        return _reputation(_records[node].latest(), block.timestamp);
    }

    /// @inheritdoc IReputation
    function reputationAt(address node, uint48 timepoint) public view returns (uint256) {
        if (timepoint >= block.timestamp) revert FutureLookup(timepoint, uint48(block.timestamp));
        return _reputation(_records[node].upperLookupRecent(timepoint), timepoint);
    }

    /// @inheritdoc IReputation
    function tierOf(address node) external view returns (uint8) {
        return _tier(staking.stakeOf(node), reputationOf(node));
    }

    /// @inheritdoc IReputation
    function tierAt(address node, uint48 timepoint) external view returns (uint8 tier) {
        (, tier) = standingAt(node, timepoint);
    }

    /// @inheritdoc IReputation
    function standingAt(address node, uint48 timepoint) public view returns (uint256 staked, uint8 tier) {
        staked = staking.stakeAt(node, timepoint); // reverts for a timepoint not in the past
        tier = _tier(staked, reputationAt(node, timepoint));
    }

    /// @notice The minimum reputation of `tier` (1..3).
    function minReputation(uint8 tier) external view returns (uint256) {
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
        return _minReputation[tier - 1];
    }

    // ---------------------------------------------------------------- internal

    /// @dev The highest tier whose minimum stake and reputation are met (thresholds ascend), or 0.
    /// Non-decreasing in both `staked` and `rep`.
    function _tier(uint256 staked, uint256 rep) private view returns (uint8) {
        for (uint8 tier = 3; tier >= 1; tier--) {
            if (staked >= staking.minStake(tier) && rep >= _minReputation[tier - 1]) return tier;
        }
        return 0;
    }

    /// @dev The reputation a packed record stands for at time `at` (not before the record).
    function _reputation(uint208 record, uint256 at) private view returns (uint256) {
        uint256 score = uint160(record);
        if (score == 0) return 0;
        return _decayed(score, (at - (record >> 160)) / decayPeriod);
    }

    /// @dev The decay accrued so far applied, keeping the part of a period not yet elapsed:
    /// the current score and the start of its decay period.
    function _settled(address node) private view returns (uint256 current, uint48 updatedAt) {
        uint208 record = _records[node].latest();
        current = uint160(record);
        if (current == 0) return (0, uint48(block.timestamp));
        updatedAt = uint48(record >> 160);
        uint256 periods = (block.timestamp - updatedAt) / decayPeriod;
        current = _decayed(current, periods);
        updatedAt += SafeCast.toUint48(periods * decayPeriod);
    }

    /// @dev Checkpoints `score` (decayed up to `updatedAt`) from this block's timestamp on.
    function _write(address node, uint256 score, uint48 updatedAt) private {
        uint208 record = (uint208(updatedAt) << 160) | uint208(uint160(score));
        _records[node].push(SafeCast.toUint48(block.timestamp), record);
    }

    /// @dev score * (1 - decayBps/BPS)^periods, by squaring in 1e18 fixed point.
    function _decayed(uint256 score, uint256 periods) private view returns (uint256) {
        if (periods == 0 || decayBps == 0) return score;
        if (decayBps == BPS) return 0;
        uint256 base = (uint256(BPS - decayBps) * 1e18) / BPS;
        uint256 factor = 1e18;
        while (periods > 0 && factor > 0) {
            if (periods & 1 == 1) factor = (factor * base) / 1e18;
            base = (base * base) / 1e18;
            periods >>= 1;
        }
        return (score * factor) / 1e18;
    }

    function _setDecay(uint64 period, uint16 bps) private {
        if (period == 0 || bps > BPS) revert InvalidDecay(period, bps);
        decayPeriod = period;
        decayBps = bps;
        emit DecaySet(period, bps);
    }

    function _setMinReputation(uint256[3] memory m) private {
        if (m[1] < m[0] || m[2] < m[1]) revert ThresholdsNotAscending();
        _minReputation = m;
        emit MinReputationSet(m);
    }
}
