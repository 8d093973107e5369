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

/// @dev The unstake cooldown (`cooldown` seconds) must be longer than the voting period
/// (`votingPeriod` seconds), so that stake that voted is still locked, and slashable, when the vote
/// closes. Raised by Staking.setCooldown and Governance.setParams.
error CooldownNotLongerThanVoting(uint64 cooldown, uint64 votingPeriod);

/// @dev A snapshot was asked for `timepoint`, which is not yet in the past (now: `current`).
error FutureLookup(uint256 timepoint, uint48 current);
