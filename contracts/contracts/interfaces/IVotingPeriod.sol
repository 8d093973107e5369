// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice What Staking reads from governance: the voting period its unstake cooldown must exceed.
interface IVotingPeriod {
    /// @notice How long a proposal is open for votes (seconds).
    function votingPeriod() external view returns (uint64);
}
