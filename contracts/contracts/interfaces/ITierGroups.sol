// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What Governance reads from the tier groups of anonymous voters (see TierGroups).
interface ITierGroups {
    /// @notice The root of tier `tier`'s group at the end of second `timepoint` (in the past); 0 if
    /// the group was empty then.
    function rootAt(uint8 tier, uint48 timepoint) external view returns (uint256);

    /// @notice The tier group `node` was a member of at the end of second `timepoint` (in the past);
    /// 0 if none.
    function memberTierAt(address node, uint48 timepoint) external view returns (uint8);
}
