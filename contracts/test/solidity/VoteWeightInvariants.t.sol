// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VainToken} from "../../contracts/VainToken.sol";
import {Staking} from "../../contracts/Staking.sol";
import {Reputation} from "../../contracts/Reputation.sol";
import {Governance} from "../../contracts/Governance.sol";
import {Suite, Vm} from "./utils/Suite.sol";

/// @notice Random sequences of stake moves (stake, unstake, withdraw, slash, tokens handed to
/// another address and staked there), reputation changes, time passing, parameter changes that
/// may break the cooldown rule, proposals and votes.
contract VoteHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant MAX_PROPOSALS = 6;

    VainToken internal immutable token;
    Staking internal immutable staking;
    Reputation internal immutable reputation;
    Governance internal immutable governance;
    address internal immutable proposer;
    address[] public actors;

    uint256[] public proposals;
    /// @dev proposal => voter => weight cast (0: not voted)
    mapping(uint256 => mapping(address => uint256)) public cast;

    constructor(
        VainToken token_,
        Staking staking_,
        Reputation reputation_,
        Governance governance_,
        address proposer_,
        address[] memory actors_
    ) {
        token = token_;
        staking = staking_;
        reputation = reputation_;
        governance = governance_;
        proposer = proposer_;
        actors = actors_;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function proposalCount() external view returns (uint256) {
        return proposals.length;
    }

    function actor(uint256 who) internal view returns (address) {
        return actors[who % actors.length];
    }

    function stake(uint256 who, uint256 amount) public {
        address a = actor(who);
        amount = amount % (token.balanceOf(a) + 1);
        if (amount == 0) return;
        vm.startPrank(a);
        token.approve(address(staking), amount);
        staking.stake(amount);
        vm.stopPrank();
    }

    function requestUnstake(uint256 who, uint256 amount) external {
        address a = actor(who);
        amount = amount % (staking.stakeOf(a) + 1);
        if (amount == 0) return;
        vm.prank(a);
        staking.requestUnstake(amount);
    }

    function withdraw(uint256 who) external {
        address a = actor(who);
        Staking.Account memory acc = staking.accountOf(a);
        if (acc.pending == 0 || block.timestamp < acc.unlockAt) return;
        vm.prank(a);
        staking.withdraw();
    }

    /// @dev Splits or moves stake: `from` unstakes, hands liquid tokens to `to`, which stakes them.
    function moveStake(uint256 from, uint256 to, uint256 amount) external {
        address a = actor(from);
        address b = actor(to);
        uint256 staked = staking.stakeOf(a);
        if (staked > 0) {
            vm.prank(a);
            staking.requestUnstake(amount % staked + 1);
        }
        amount = amount % (token.balanceOf(a) + 1);
        vm.prank(a);
        token.transfer(b, amount);
        stake(to, amount);
    }

    function slash(uint256 who, uint256 amount) external {
        staking.slash(actor(who), (amount % 5_000 ether) + 1, "fuzz");
    }

    function reputationUp(uint256 who, uint256 amount) external {
        reputation.increase(actor(who), amount % 3_000);
    }

    function reputationDown(uint256 who, uint256 amount) external {
        reputation.decrease(actor(who), amount % 3_000);
    }

    function passTime(uint256 secs) external {
        vm.warp(block.timestamp + (secs % 2 days));
    }

    /// @dev Tries any cooldown and any voting period; the contracts must refuse those that break
    /// cooldown > voting period.
    function setTimes(uint64 cooldown, uint64 votingPeriod, bool viaGovernance) external {
        cooldown = cooldown % 30 days;
        votingPeriod = votingPeriod % 30 days + 1;
        if (viaGovernance) {
            vm.prank(address(governance));
            try governance.setParams(votingPeriod, 1 days, 30_000 ether, 2) {} catch {}
        } else {
            try staking.setCooldown(cooldown) {} catch {}
        }
    }

    function propose() external {
        reputation.increase(proposer, 2_000); // keeps it at tier 3 for the next second's proposals
        if (proposals.length >= MAX_PROPOSALS) return;
        if (reputation.tierAt(proposer, uint48(block.timestamp - 1)) < governance.proposalTier()) return;
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Staking.setTreasury, (address(0)));
        vm.prank(proposer);
        proposals.push(governance.propose(targets, data, "fuzz"));
    }

    function vote(uint256 who, uint256 which, uint8 support) external {
        if (proposals.length == 0) return;
        uint256 id = proposals[which % proposals.length];
        address a = actor(who);
        if (governance.state(id) != Governance.ProposalState.Active || governance.hasVoted(id, a)) return;
        if (governance.votingPowerAt(a, governance.proposalOf(id).snapshot) == 0) return;
        vm.prank(a);
        cast[id][a] = governance.castVote(id, Governance.Support(support % 3));
    }
}

/// @notice "No vote power from splitting", over random sequences: every vote is worth exactly its
/// voter's stake × tier at the proposal's snapshot whatever moved afterwards, a proposal's votes
/// never exceed what all its voters' snapshot stake would weigh on one address, and the cooldown
/// stays longer than the voting period.
contract VoteWeightInvariantsTest is Suite {
    VoteHandler internal handler;

    function setUp() public {
        deploySuite();
        makeTier(nodes[5], 3); // the proposer, not an actor
        address[] memory actors = new address[](5);
        for (uint256 i = 0; i < 5; i++) {
            actors[i] = nodes[i];
        }
        handler = new VoteHandler(token, staking, reputation, governance, nodes[5], actors);
        staking.grantRole(staking.SLASHER_ROLE(), address(handler));
        staking.grantRole(staking.GOVERNOR_ROLE(), address(handler));
        reputation.grantRole(reputation.UPDATER_ROLE(), address(handler));
        vm.warp(block.timestamp + 1);
        targetContract(address(handler));
    }

    /// @dev Each vote equals the voter's weight at the snapshot, recomputed now; the totals add up.
    function invariant_VotesAreSnapshotWeights() public view {
        for (uint256 p = 0; p < handler.proposalCount(); p++) {
            uint256 id = handler.proposals(p);
            Governance.Proposal memory prop = governance.proposalOf(id);
            uint256 sum;
            for (uint256 i = 0; i < handler.actorCount(); i++) {
                address a = handler.actors(i);
                uint256 w = handler.cast(id, a);
                if (w == 0) continue;
                assertEq(w, governance.votingPowerAt(a, prop.snapshot), "vote == weight at the snapshot");
                sum += w;
            }
            assertEq(prop.forVotes + prop.againstVotes + prop.abstainVotes, sum, "totals");
        }
    }

    /// @dev No vote power from splitting: a proposal's votes are at most what its voters' stake at
    /// the snapshot, held by one address with the best of their reputations, would weigh.
    function invariant_NoVotePowerFromSplitting() public view {
        for (uint256 p = 0; p < handler.proposalCount(); p++) {
            uint256 id = handler.proposals(p);
            Governance.Proposal memory prop = governance.proposalOf(id);
            uint48 at = uint48(prop.snapshot);
            uint256 stakeSum;
            uint256 bestRep;
            for (uint256 i = 0; i < handler.actorCount(); i++) {
                address a = handler.actors(i);
                if (handler.cast(id, a) == 0) continue;
                stakeSum += staking.stakeAt(a, at);
                uint256 rep = reputation.reputationAt(a, at);
                if (rep > bestRep) bestRep = rep;
            }
            uint256 total = prop.forVotes + prop.againstVotes + prop.abstainVotes;
            assertLe(total, stakeSum * tierFor(stakeSum, bestRep), "one address would weigh at least as much");
        }
    }

    function invariant_CooldownLongerThanVotingPeriod() public view {
        assertTrue(staking.cooldown() > governance.votingPeriod(), "cooldown > voting period");
    }

    /// @dev The tier rule, written out independently of Reputation (the Suite's thresholds).
    function tierFor(uint256 staked, uint256 rep) internal pure returns (uint256) {
        uint256[3] memory m = minStakes();
        uint256[3] memory r = minReps();
        for (uint256 t = 3; t >= 1; t--) {
            if (staked >= m[t - 1] && rep >= r[t - 1]) return t;
        }
        return 0;
    }
}
