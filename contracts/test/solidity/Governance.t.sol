// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Governance} from "../../contracts/Governance.sol";
import {Staking} from "../../contracts/Staking.sol";
import {TierTooLow} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";

contract GovernanceTest is Suite {
    address internal t3;
    address internal t2;
    address internal t1;
    address internal t0;

    function setUp() public {
        deploySuite();
        (t3, t2, t1, t0) = (nodes[0], nodes[1], nodes[2], nodes[3]);
        makeTier(t3, 3);
        makeTier(t2, 2);
        makeTier(t1, 1);
        vm.warp(block.timestamp + 1); // proposals snapshot the second before they are made
    }

    function proposeCooldown(address proposer, uint64 cooldown) internal returns (uint256) {
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Staking.setCooldown, (cooldown));
        vm.prank(proposer);
        return governance.propose(targets, data, "shorter cooldown");
    }

    function test_VoteWeightIsStakeTimesTier() public {
        uint256 id = proposeCooldown(t3, 8 days);
        assertEq(governance.proposalOf(id).snapshot, block.timestamp - 1, "snapshot: the second before");
        vm.prank(t3);
        vm.expectEmit();
        emit Governance.VoteCast(t3, id, Governance.Support.For, 30_000 ether);
        governance.castVote(id, Governance.Support.For);
        vm.prank(t2);
        assertEq(governance.castVote(id, Governance.Support.Against), 2_000 ether, "1,000 at tier 2");
        vm.prank(t1);
        assertEq(governance.castVote(id, Governance.Support.Abstain), 100 ether, "100 at tier 1");
        Governance.Proposal memory p = governance.proposalOf(id);
        assertEq(p.forVotes, 30_000 ether, "for");
        assertEq(p.againstVotes, 2_000 ether, "against");
        assertEq(p.abstainVotes, 100 ether, "abstain");
        vm.prank(t0);
        vm.expectRevert(abi.encodeWithSelector(Governance.NoVotingPower.selector, t0));
        governance.castVote(id, Governance.Support.For);
    }

    function test_NoDoubleVote() public {
        uint256 id = proposeCooldown(t3, 8 days);
        vm.startPrank(t2);
        governance.castVote(id, Governance.Support.For);
        vm.expectRevert(abi.encodeWithSelector(Governance.AlreadyVoted.selector, id, t2));
        governance.castVote(id, Governance.Support.Against);
        vm.stopPrank();
        assertTrue(governance.hasVoted(id, t2), "recorded");
    }

    function testFuzz_NoDoubleVoteWhateverTheSequence(uint8 seed) public {
        uint256 id = proposeCooldown(t3, 8 days);
        address[3] memory voters = [t3, t2, t1];
        uint256 total;
        for (uint256 i = 0; i < 6; i++) {
            address v = voters[(seed >> (i % 8)) % 3];
            if (governance.hasVoted(id, v)) {
                vm.prank(v);
                vm.expectRevert(abi.encodeWithSelector(Governance.AlreadyVoted.selector, id, v));
                governance.castVote(id, Governance.Support.For);
            } else {
                vm.prank(v);
                total += governance.castVote(id, Governance.Support.For);
            }
        }
        assertEq(governance.proposalOf(id).forVotes, total, "each voter counted once");
        assertLe(total, 32_100 ether, "at most 30,000 + 2,000 + 100");
    }

    function test_PassedProposalExecutesAfterTimelock() public {
        uint256 id = proposeCooldown(t3, 4 days);
        vm.prank(t3);
        governance.castVote(id, Governance.Support.For);
        vm.prank(t1);
        governance.castVote(id, Governance.Support.For);
        vm.expectRevert(abi.encodeWithSelector(Governance.WrongProposalState.selector, id, Governance.ProposalState.Active));
        governance.queue(id);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        uint64 eta = governance.queue(id);
        vm.expectRevert(abi.encodeWithSelector(Governance.TimelockActive.selector, eta));
        governance.execute(id);
        vm.warp(eta);
        vm.expectEmit();
        emit Governance.ProposalExecuted(id);
        governance.execute(id);
        assertEq(staking.cooldown(), 4 days, "applied");
        assertEq(uint256(governance.state(id)), uint256(Governance.ProposalState.Executed), "executed");
    }

    function test_QuorumAndMajorityDecide() public {
        uint256 id = proposeCooldown(t3, 8 days);
        vm.prank(t2);
        governance.castVote(id, Governance.Support.For);
        vm.prank(t1);
        governance.castVote(id, Governance.Support.For); // 2,100 < quorum 30,000
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        assertEq(uint256(governance.state(id)), uint256(Governance.ProposalState.Defeated), "below quorum");

        address other3 = nodes[4];
        makeTier(other3, 3);
        vm.warp(block.timestamp + 1);
        uint256 id2 = proposeCooldown(t3, 8 days);
        vm.prank(t3);
        governance.castVote(id2, Governance.Support.For);
        vm.prank(other3);
        governance.castVote(id2, Governance.Support.Against); // 30,000 for vs 30,000 against
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        assertEq(uint256(governance.state(id2)), uint256(Governance.ProposalState.Defeated), "tie loses");
    }

    function test_ProposingNeedsTier2() public {
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        vm.prank(t1);
        vm.expectRevert(abi.encodeWithSelector(TierTooLow.selector, t1, 1, 2));
        governance.propose(targets, data, "x");
    }

    function test_ProposingNeedsTier2AtTheSnapshot() public {
        // stake and reputation raised in the proposal's own second do not count (no flash proposals)
        stakeAs(t1, 900 ether);
        reputation.increase(t1, 100);
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        vm.prank(t1);
        vm.expectRevert(abi.encodeWithSelector(TierTooLow.selector, t1, 1, 2));
        governance.propose(targets, data, "x");
        vm.warp(block.timestamp + 1);
        vm.prank(t1);
        governance.propose(targets, data, "x");
    }

    function test_SlashingByGovernance() public {
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Staking.slash, (t1, 40 ether, "governance"));
        vm.prank(t3);
        uint256 id = governance.propose(targets, data, "slash t1");
        vm.prank(t3);
        governance.castVote(id, Governance.Support.For);
        vm.prank(t2);
        governance.castVote(id, Governance.Support.For);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        vm.warp(governance.queue(id));
        governance.execute(id);
        assertEq(staking.stakeOf(t1), 60 ether, "slashed");
    }

    function test_FailingActionRevertsExecution() public {
        uint256 id = proposeCooldown(t3, 400 days); // over MAX_COOLDOWN
        vm.prank(t3);
        governance.castVote(id, Governance.Support.For);
        vm.prank(t2);
        governance.castVote(id, Governance.Support.For);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        vm.warp(governance.queue(id));
        bytes memory reason = abi.encodeWithSelector(Staking.CooldownTooLong.selector, 400 days, 365 days);
        vm.expectRevert(abi.encodeWithSelector(Governance.ActionFailed.selector, 0, reason));
        governance.execute(id);
    }

    function test_OnlyGovernanceAndOnlyProposer() public {
        vm.expectRevert(Governance.OnlyGovernance.selector);
        governance.setParams(1, 1, 1, 1);
        uint256 id = proposeCooldown(t3, 8 days);
        vm.prank(t2);
        vm.expectRevert(abi.encodeWithSelector(Governance.OnlyProposer.selector, t3));
        governance.cancel(id);
        vm.prank(t3);
        governance.cancel(id);
        vm.prank(t2);
        vm.expectRevert(abi.encodeWithSelector(Governance.WrongProposalState.selector, id, Governance.ProposalState.Canceled));
        governance.castVote(id, Governance.Support.For);
    }

    function test_GovernanceChangesItsOwnParams() public {
        address[] memory targets = new address[](1);
        targets[0] = address(governance);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Governance.setParams, (1 days, 1 days, 5, 3));
        vm.prank(t2);
        uint256 id = governance.propose(targets, data, "params");
        vm.prank(t3);
        governance.castVote(id, Governance.Support.For);
        vm.prank(t2);
        governance.castVote(id, Governance.Support.For);
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        vm.warp(governance.queue(id));
        governance.execute(id);
        assertEq(governance.quorumVotes(), 5, "quorum");
        assertEq(governance.proposalTier(), 3, "proposal tier");
    }
}
