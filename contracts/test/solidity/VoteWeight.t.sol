// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Governance} from "../../contracts/Governance.sol";
import {Staking} from "../../contracts/Staking.sol";
import {IVotingPeriod} from "../../contracts/interfaces/IVotingPeriod.sol";
import {CooldownNotLongerThanVoting, FutureLookup} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";

/// @dev A governance stand-in with a fixed voting period.
contract FixedVotingPeriod is IVotingPeriod {
    uint64 public immutable votingPeriod;

    constructor(uint64 votingPeriod_) {
        votingPeriod = votingPeriod_;
    }
}

/// @notice Vote weight = stake × tier at the proposal's snapshot: splitting stake never adds
/// weight, stake moved after a proposal never votes, and the cooldown stays longer than the
/// voting period on both sides (issue 11, item 2).
contract VoteWeightTest is Suite {
    address internal proposer;

    function setUp() public {
        deploySuite();
        proposer = nodes[0];
        makeTier(proposer, 3);
        staking.grantRole(staking.SLASHER_ROLE(), admin);
        vm.warp(block.timestamp + 1);
    }

    function propose() internal returns (uint256) {
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Staking.setCooldown, (8 days));
        vm.prank(proposer);
        return governance.propose(targets, data, "longer cooldown");
    }

    function fresh(uint256 i) internal pure returns (address) {
        return address(uint160(0xF00D0000 + i));
    }

    function fund(address who, uint256 amount) internal {
        token.transfer(who, amount);
    }

    function vote(address who, uint256 id, Governance.Support support) internal returns (uint256) {
        vm.prank(who);
        return governance.castVote(id, support);
    }

    // ------------------------------------------------------------ splitting

    /// The issue's case: 1,000 VAIN on 10 addresses of 100 each used to weigh 10 (ten tier-1 votes)
    /// against 2 for the same 1,000 VAIN on one tier-2 address.
    function test_SplittingAThousandAcrossTenAddressesAddsNoWeight() public {
        address whole = fresh(100);
        fund(whole, 1_000 ether);
        stakeAs(whole, 1_000 ether);
        reputation.increase(whole, 100); // tier 2 with 1,000 staked
        uint256 split;
        for (uint256 i = 0; i < 10; i++) {
            fund(fresh(i), 100 ether);
            stakeAs(fresh(i), 100 ether);
            reputation.increase(fresh(i), 100); // same reputation, but 100 VAIN is only tier 1
        }
        vm.warp(block.timestamp + 1);
        uint256 id = propose();
        for (uint256 i = 0; i < 10; i++) {
            split += vote(fresh(i), id, Governance.Support.For);
        }
        uint256 concentrated = vote(whole, id, Governance.Support.Against);
        assertEq(split, 1_000 ether, "ten tier-1 votes of 100 VAIN");
        assertEq(concentrated, 2_000 ether, "one tier-2 vote of 1,000 VAIN");
        assertLe(split, concentrated, "splitting adds no weight");
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        assertEq(uint256(governance.state(id)), uint256(Governance.ProposalState.Defeated), "split side loses");
    }

    function test_StakeBelowTier1HasNoVote() public {
        address dust = fresh(1);
        fund(dust, 99 ether);
        stakeAs(dust, 99 ether);
        vm.warp(block.timestamp + 1);
        uint256 id = propose();
        vm.prank(dust);
        vm.expectRevert(abi.encodeWithSelector(Governance.NoVotingPower.selector, dust));
        governance.castVote(id, Governance.Support.For);
    }

    /// Any total, any split into up to 8 addresses with any reputations, any tier thresholds: the
    /// parts' weights never add up to more than the whole on one address with the best reputation.
    function testFuzz_SplittingNeverAddsVotingPower(
        uint256 total,
        uint256 parts,
        uint256 seed,
        uint256[3] memory stakeSteps,
        uint256[2] memory repSteps
    ) public {
        total = bound(total, 1, 200_000 ether);
        parts = bound(parts, 2, 8);
        setThresholds(stakeSteps, repSteps);
        uint256 bestRep = stakeSplit(total, parts, seed);
        address whole = fresh(99);
        fund(whole, total);
        stakeAs(whole, total);
        reputation.increase(whole, bestRep);
        vm.warp(block.timestamp + 1);

        uint64 at = uint64(block.timestamp - 1);
        uint256 split;
        for (uint256 i = 0; i < parts; i++) {
            split += governance.votingPowerAt(fresh(i), at);
        }
        uint256 concentrated = governance.votingPowerAt(whole, at);
        assertLe(split, concentrated, "no vote power from splitting");
        assertLe(concentrated, total * 3, "at most three times the stake");
    }

    /// @dev Random ascending tier thresholds: stake 1..150,000 VAIN, reputation 0..4,000.
    function setThresholds(uint256[3] memory stakeSteps, uint256[2] memory repSteps) internal {
        uint256[3] memory m;
        m[0] = bound(stakeSteps[0], 1, 50_000 ether);
        m[1] = m[0] + bound(stakeSteps[1], 0, 50_000 ether);
        m[2] = m[1] + bound(stakeSteps[2], 0, 50_000 ether);
        staking.setMinStake(m);
        uint256[3] memory r;
        r[1] = bound(repSteps[0], 0, 2_000);
        r[2] = r[1] + bound(repSteps[1], 0, 2_000);
        reputation.setMinReputation(r);
    }

    /// @dev Stakes `total` split at random over fresh(0..parts-1), each with a random reputation;
    /// returns the best of those reputations.
    function stakeSplit(uint256 total, uint256 parts, uint256 seed) internal returns (uint256 bestRep) {
        uint256 left = total;
        for (uint256 i = 0; i < parts; i++) {
            uint256 rand = uint256(keccak256(abi.encode(seed, i)));
            uint256 amount = i == parts - 1 ? left : bound(rand, 0, left);
            left -= amount;
            uint256 rep = bound(rand >> 128, 0, 4_000);
            if (rep > bestRep) bestRep = rep;
            if (amount > 0) {
                fund(fresh(i), amount);
                stakeAs(fresh(i), amount);
            }
            reputation.increase(fresh(i), rep);
        }
    }

    // ------------------------------------------------------------ snapshots

    /// Stake moved after the proposal (unstaked by one address, staked by another) votes once.
    function test_StakeMovedAfterProposalDoesNotVoteTwice() public {
        address a = nodes[1];
        address b = nodes[2];
        makeTier(a, 3);
        vm.warp(block.timestamp + 1);
        uint256 id = propose();
        assertEq(vote(a, id, Governance.Support.For), 30_000 ether, "a at the snapshot");
        // a unstakes everything; its tokens move to b, which stakes them for tier 3
        vm.prank(a);
        staking.requestUnstake(10_000 ether);
        vm.prank(a);
        token.transfer(b, 10_000 ether);
        makeTier(b, 3);
        vm.warp(block.timestamp + 1);
        assertEq(reputation.tierOf(b), 3, "b is tier 3 now");
        vm.prank(b);
        vm.expectRevert(abi.encodeWithSelector(Governance.NoVotingPower.selector, b));
        governance.castVote(id, Governance.Support.For);
        assertEq(governance.proposalOf(id).forVotes, 30_000 ether, "counted once");
    }

    /// Weight is the snapshot's: staking more, unstaking, being slashed or losing reputation after
    /// the proposal changes nothing for it; the next proposal sees the change.
    function test_WeightIsReadAtTheSnapshot() public {
        address up = nodes[1];
        address down = nodes[2];
        address slashed = nodes[3];
        makeTier(up, 1);
        makeTier(down, 3);
        makeTier(slashed, 2);
        vm.warp(block.timestamp + 1);
        uint256 id = propose();
        stakeAs(up, 20_000 ether);
        reputation.increase(up, 2_000);
        vm.prank(down);
        staking.requestUnstake(9_800 ether);
        reputation.decrease(down, 1_000);
        staking.slash(slashed, 1_000 ether, "test");
        vm.warp(block.timestamp + 1 days);
        assertEq(vote(up, id, Governance.Support.For), 100 ether, "up: 100 at tier 1");
        assertEq(vote(down, id, Governance.Support.For), 30_000 ether, "down: 10,000 at tier 3");
        assertEq(vote(slashed, id, Governance.Support.For), 2_000 ether, "slashed: 1,000 at tier 2");

        uint256 next = propose();
        assertEq(vote(up, next, Governance.Support.For), 60_300 ether, "up: 20,100 at tier 3");
        assertEq(vote(down, next, Governance.Support.For), 200 ether, "down: 200 at tier 1");
        vm.prank(slashed);
        vm.expectRevert(abi.encodeWithSelector(Governance.NoVotingPower.selector, slashed));
        governance.castVote(next, Governance.Support.For);
    }

    function test_StakeAtFollowsStakeUnstakeAndSlash() public {
        address n = nodes[1];
        uint256 t0 = block.timestamp;
        stakeAs(n, 500 ether);
        vm.warp(t0 + 10);
        vm.prank(n);
        staking.requestUnstake(200 ether);
        vm.warp(t0 + 20);
        staking.slash(n, 250 ether, "test"); // 300 active, 200 pending: takes 250 active
        vm.warp(t0 + 30);
        staking.slash(n, 100 ether, "test"); // 50 active, 200 pending: 50 active, 50 pending
        vm.warp(t0 + 40);
        assertEq(staking.stakeAt(n, uint48(t0 - 1)), 0, "before");
        assertEq(staking.stakeAt(n, uint48(t0)), 500 ether, "staked");
        assertEq(staking.stakeAt(n, uint48(t0 + 9)), 500 ether, "still");
        assertEq(staking.stakeAt(n, uint48(t0 + 10)), 300 ether, "unstake requested");
        assertEq(staking.stakeAt(n, uint48(t0 + 20)), 50 ether, "slashed");
        assertEq(staking.stakeAt(n, uint48(t0 + 39)), 0, "slashed to zero");
        assertEq(staking.stakeOf(n), 0, "now");
        assertEq(staking.accountOf(n).pending, 150 ether, "pending after the second slash");
        vm.expectRevert(abi.encodeWithSelector(FutureLookup.selector, t0 + 40, uint48(t0 + 40)));
        staking.stakeAt(n, uint48(t0 + 40));
    }

    function test_ReputationAtFollowsChangesAndDecay() public {
        address n = nodes[1];
        uint256 t0 = block.timestamp;
        reputation.increase(n, 1_000);
        vm.warp(t0 + 1 days); // one decay period: 5 % lost
        reputation.decrease(n, 50); // 950 - 50
        vm.warp(t0 + 3 days);
        assertEq(reputation.reputationAt(n, uint48(t0 - 1)), 0, "before");
        assertEq(reputation.reputationAt(n, uint48(t0)), 1_000, "raised");
        assertEq(reputation.reputationAt(n, uint48(t0 + 1 days - 1)), 1_000, "within the first period");
        assertEq(reputation.reputationAt(n, uint48(t0 + 1 days)), 900, "decayed then lowered");
        assertEq(reputation.reputationAt(n, uint48(t0 + 2 days)), 855, "decayed again");
        assertEq(reputation.reputationOf(n), reputation.reputationAt(n, uint48(t0 + 3 days - 1)) * 95 / 100, "now");
        vm.expectRevert(abi.encodeWithSelector(FutureLookup.selector, t0 + 3 days, uint48(t0 + 3 days)));
        reputation.reputationAt(n, uint48(t0 + 3 days));
    }

    // ------------------------------------------------------------ cooldown > voting period

    function test_CooldownMustExceedVotingPeriodInStaking() public {
        vm.expectRevert(abi.encodeWithSelector(CooldownNotLongerThanVoting.selector, VOTING_PERIOD, VOTING_PERIOD));
        staking.setCooldown(VOTING_PERIOD);
        staking.setCooldown(VOTING_PERIOD + 1);
        assertEq(staking.cooldown(), VOTING_PERIOD + 1, "just longer is fine");
    }

    function test_VotingPeriodMustBeShorterThanCooldownInGovernance() public {
        vm.prank(address(governance));
        vm.expectRevert(abi.encodeWithSelector(CooldownNotLongerThanVoting.selector, COOLDOWN, COOLDOWN));
        governance.setParams(COOLDOWN, TIMELOCK, QUORUM, 2);
        vm.prank(address(governance));
        governance.setParams(COOLDOWN - 1, TIMELOCK, QUORUM, 2);
        assertEq(governance.votingPeriod(), COOLDOWN - 1, "just shorter is fine");
        vm.expectRevert(abi.encodeWithSelector(CooldownNotLongerThanVoting.selector, COOLDOWN, COOLDOWN + 1));
        new Governance(staking, reputation, COOLDOWN + 1, TIMELOCK, QUORUM, 2);
    }

    /// A proposal to lengthen the voting period past the cooldown passes the vote but cannot execute.
    function test_ProposalBreakingTheRuleFailsToExecute() public {
        address[] memory targets = new address[](1);
        targets[0] = address(governance);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Governance.setParams, (8 days, TIMELOCK, QUORUM, 2));
        vm.prank(proposer);
        uint256 id = governance.propose(targets, data, "long vote");
        vote(proposer, id, Governance.Support.For);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        vm.warp(governance.queue(id));
        bytes memory reason = abi.encodeWithSelector(CooldownNotLongerThanVoting.selector, COOLDOWN, 8 days);
        vm.expectRevert(abi.encodeWithSelector(Governance.ActionFailed.selector, 0, reason));
        governance.execute(id);
    }

    function test_WiringGovernanceChecksTheCooldown() public {
        FixedVotingPeriod longVote = new FixedVotingPeriod(COOLDOWN);
        vm.expectRevert(abi.encodeWithSelector(CooldownNotLongerThanVoting.selector, COOLDOWN, COOLDOWN));
        staking.setGovernance(longVote);
        bytes32 adminRole = staking.DEFAULT_ADMIN_ROLE();
        vm.prank(outsider);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, adminRole)
        );
        staking.setGovernance(governance);
        // unwired: no check (deployment order); wired again: checked
        staking.setGovernance(IVotingPeriod(address(0)));
        staking.setCooldown(1 hours);
        vm.expectRevert(abi.encodeWithSelector(CooldownNotLongerThanVoting.selector, 1 hours, VOTING_PERIOD));
        staking.setGovernance(governance);
    }

    /// Stake that voted cannot be withdrawn before the vote closes.
    function test_VotedStakeStaysLockedUntilTheVoteCloses() public {
        uint256 id = propose();
        vote(proposer, id, Governance.Support.For);
        vm.prank(proposer);
        staking.requestUnstake(10_000 ether);
        uint64 unlockAt = staking.accountOf(proposer).unlockAt;
        vm.warp(governance.proposalOf(id).voteEnd);
        assertEq(uint256(governance.state(id)), uint256(Governance.ProposalState.Active), "still open");
        vm.prank(proposer);
        vm.expectRevert(abi.encodeWithSelector(Staking.CooldownActive.selector, unlockAt));
        staking.withdraw();
    }
}
