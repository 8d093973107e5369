// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {InvalidTier, ThresholdsNotAscending, ZeroAddress} from "./Errors.sol";

/// @title Reputation
/// @notice Reputation rises with accepted contributions (UPDATER_ROLE: the round manager) and
/// decays over time: every `decayPeriod` seconds a node keeps (10000 - decayBps) / 10000 of it.
/// A node's tier is the highest of 1..3 whose minimum stake (in Staking) and minimum reputation
/// (here) it meets, or 0 if it meets none. Thresholds and decay are set by GOVERNOR_ROLE.
contract Reputation is IReputation, AccessControl {
    /// @notice May raise or lower reputation.
    bytes32 public constant UPDATER_ROLE = keccak256("UPDATER_ROLE");
    /// @notice May change decay and tier thresholds.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    uint16 public constant BPS = 10_000;

    struct Record {
        uint192 score;
        uint64 updatedAt;
    }

    IStaking public immutable staking;
    uint64 public decayPeriod;
    uint16 public decayBps;
    uint256[3] private _minReputation;
    mapping(address => Record) private _records;

    event ReputationChanged(address indexed node, int256 delta, uint256 reputation);
    event DecaySet(uint64 period, uint16 bps);
    event MinReputationSet(uint256[3] minReputation);

    /// @dev Decay must have a period > 0 and a rate of at most 10000 bps.
    error InvalidDecay(uint64 period, uint16 bps);

    constructor(
        IStaking staking_,
        uint64 decayPeriod_,
        uint16 decayBps_,
        uint256[3] memory minReputation_,
        address admin
    ) {
        if (address(staking_) == address(0) || admin == address(0)) revert ZeroAddress();
        staking = staking_;
        _setDecay(decayPeriod_, decayBps_);
        _setMinReputation(minReputation_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
    }

    // ---------------------------------------------------------------- privileged

    /// @inheritdoc IReputation
    function increase(address node, uint256 amount) external onlyRole(UPDATER_ROLE) {
        if (amount == 0) return;
        uint256 current = _settle(node);
        uint256 next = current + amount;
        if (next > type(uint192).max) next = type(uint192).max;
        _records[node].score = uint192(next);
        emit ReputationChanged(node, int256(next - current), next);
    }

    /// @inheritdoc IReputation
    function decrease(address node, uint256 amount) external onlyRole(UPDATER_ROLE) {
        if (amount == 0) return;
        uint256 current = _settle(node);
        uint256 next = amount >= current ? 0 : current - amount;
        _records[node].score = uint192(next);
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
        Record memory r = _records[node];
        if (r.score == 0) return 0;
        return _decayed(r.score, (block.timestamp - r.updatedAt) / decayPeriod);
    }

    /// @inheritdoc IReputation
    function tierOf(address node) external view returns (uint8) {
        uint256 staked = staking.stakeOf(node);
        uint256 rep = reputationOf(node);
        for (uint8 tier = 3; tier >= 1; tier--) {
            if (staked >= staking.minStake(tier) && rep >= _minReputation[tier - 1]) return tier;
        }
        return 0;
    }

    /// @notice The minimum reputation of `tier` (1..3).
    function minReputation(uint8 tier) external view returns (uint256) {
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
        return _minReputation[tier - 1];
    }

    // ---------------------------------------------------------------- internal

    /// @dev Applies the decay accrued so far, keeping the part of a period not yet elapsed.
    function _settle(address node) private returns (uint256 current) {
        Record storage r = _records[node];
        if (r.score == 0) {
            r.updatedAt = uint64(block.timestamp);
            return 0;
        }
        uint256 periods = (block.timestamp - r.updatedAt) / decayPeriod;
        current = _decayed(r.score, periods);
        r.updatedAt += uint64(periods * decayPeriod);
        r.score = uint192(current);
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
