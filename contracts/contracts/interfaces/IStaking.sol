// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What other vAIn contracts read from, and do to, the staking contract.
interface IStaking {
    /// @notice Tokens `node` has at stake (excluding amounts waiting out the unstake cooldown).
    function stakeOf(address node) external view returns (uint256);

    /// @notice Tokens `node` had at stake at the end of second `timepoint` (unix seconds), which
    /// must be in the past; reverts with FutureLookup otherwise.
    function stakeAt(address node, uint48 timepoint) external view returns (uint256);

    /// @notice The unstake cooldown (seconds).
    function cooldown() external view returns (uint64);

    /// @notice The minimum stake for `tier` (1..3).
    function minStake(uint8 tier) external view returns (uint256);

    /// @notice Takes up to `amount` from `node`'s stake (active first, then pending); returns what was taken.
    function slash(address node, uint256 amount, bytes32 reason) external returns (uint256 slashed);
}
