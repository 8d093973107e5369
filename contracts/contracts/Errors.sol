// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Errors shared by several vAIn contracts, so that clients decode them the same way
/// wherever they are raised.

/// @dev `node` has `staked` tokens at stake but the action needs at least `required`.
error StakeTooLow(address node, uint256 staked, uint256 required);

/// @dev `node` is at tier `tier` (0 = none) but the action needs at least `required`.
error TierTooLow(address node, uint8 tier, uint8 required);

/// @dev An amount of zero was given where a positive amount is needed.
error ZeroAmount();

/// @dev An address of zero was given where a real one is needed.
error ZeroAddress();

/// @dev A tier outside 1..3 was given.
error InvalidTier(uint8 tier);

/// @dev Thresholds per tier must not decrease from tier 1 to tier 3.
error ThresholdsNotAscending();
