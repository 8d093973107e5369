// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What other vAIn contracts read from, and do to, the reputation contract.
interface IReputation {
    /// @notice The node's tier: 0 (none), 1, 2 or 3, from its stake and its decayed reputation.
    function tierOf(address node) external view returns (uint8);

    /// @notice The node's tier at the end of second `timepoint` (in the past), from its stake and
    /// its decayed reputation at that time and the current tier thresholds.
    function tierAt(address node, uint48 timepoint) external view returns (uint8);

    /// @notice The node's stake and tier at the end of second `timepoint` (in the past), read together.
    function standingAt(address node, uint48 timepoint) external view returns (uint256 staked, uint8 tier);

    /// @notice The node's reputation after decay.
    function reputationOf(address node) external view returns (uint256);

    /// @notice The node's reputation after decay, at the end of second `timepoint` (in the past).
    function reputationAt(address node, uint48 timepoint) external view returns (uint256);

    /// @notice Adds `amount` to the node's (decayed) reputation.
    function increase(address node, uint256 amount) external;

    /// @notice Removes up to `amount` from the node's (decayed) reputation.
    function decrease(address node, uint256 amount) external;
}
