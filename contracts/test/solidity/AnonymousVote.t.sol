// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Governance} from "../../contracts/Governance.sol";
import {Staking} from "../../contracts/Staking.sol";
import {TierGroups} from "../../contracts/TierGroups.sol";
import {ITierGroups} from "../../contracts/interfaces/ITierGroups.sol";
import {IVoteVerifier} from "../../contracts/interfaces/IVoteVerifier.sol";
import {VoteVerifier} from "../../contracts/verifiers/VoteVerifier.sol";
import {Suite} from "./utils/Suite.sol";
import {VoteFixture} from "./utils/VoteFixture.sol";

/// @notice Anonymous votes with real Groth16 proofs (VoteFixture, made by
/// packages/chain/scripts/vote-fixture.ts with the committed vote circuit artefacts).
/// alice and bob are in tier 3's group, carol in tier 1's.
contract AnonymousVoteTest is Suite {
    TierGroups internal groups;
    VoteVerifier internal verifier;
    address internal alice;
    address internal bob;
    address internal carol;
    uint256 internal proposalId;

    function setUp() public {
        deploySuite();
        groups = new TierGroups(reputation);
        verifier = new VoteVerifier();
        governance.setAnonymousVoting(groups, IVoteVerifier(address(verifier)));
        (alice, bob, carol) = (nodes[0], nodes[1], nodes[2]);
        makeTier(alice, 3);
        makeTier(bob, 3);
        makeTier(carol, 1);
        makeTier(nodes[3], 2);
        vm.prank(alice);
        groups.join(VoteFixture.ALICE);
        vm.prank(bob);
        groups.join(VoteFixture.BOB);
        vm.prank(carol);
        groups.join(VoteFixture.CAROL);
        vm.warp(block.timestamp + 1);
        proposalId = propose(nodes[3]);
    }

    function propose(address proposer) internal returns (uint256) {
        address[] memory targets = new address[](1);
        targets[0] = address(staking);
        bytes[] memory data = new bytes[](1);
        data[0] = abi.encodeCall(Staking.setCooldown, (8 days));
        vm.prank(proposer);
        return governance.propose(targets, data, "longer cooldown");
    }

    function test_FixtureMatchesTheDeployment() public view {
        assertEq(address(governance), VoteFixture.GOVERNANCE, "governance address");
        assertEq(governance.voteScope(proposalId), VoteFixture.SCOPE_1, "scope");
        // the TypeScript lean IMT and zk-kit's Solidity one agree
        assertEq(groups.root(3), VoteFixture.ROOT_TIER3, "tier-3 root");
        assertEq(groups.root(1), VoteFixture.ROOT_TIER1, "tier-1 root");
        assertEq(groups.rootAt(3, uint48(block.timestamp - 1)), VoteFixture.ROOT_TIER3, "snapshot root");
        assertEq(groups.root(2), 0, "empty tier-2 group");
    }

    function test_ValidVoteCountsOnceWithTheTierWeight() public {
        uint256 weight = anonVote(3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, VoteFixture.aliceForProof());
        assertEq(weight, 3 * 10_000 ether, "tier 3 x its minimum stake");
        assertEq(governance.proposalOf(proposalId).forVotes, 30_000 ether, "counted for");
        assertTrue(governance.nullifierUsed(proposalId, VoteFixture.ALICE_NULLIFIER), "nullifier spent");
        uint256 w1 =
            anonVote(1, Governance.Support.Against, VoteFixture.CAROL_NULLIFIER, VoteFixture.carolAgainstProof());
        assertEq(w1, 100 ether, "tier 1 x its minimum stake");
        assertEq(governance.proposalOf(proposalId).againstVotes, 100 ether, "counted against");
    }

    function test_ReplayedNullifierReverts() public {
        anonVote(3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, VoteFixture.aliceForProof());
        uint256[8] memory proof = VoteFixture.aliceForProof();
        vm.expectRevert(
            abi.encodeWithSelector(Governance.NullifierUsed.selector, proposalId, VoteFixture.ALICE_NULLIFIER)
        );
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, proof);
        assertEq(governance.proposalOf(proposalId).forVotes, 30_000 ether, "counted once");
    }

    function test_LowerTierMemberCannotVoteInAHigherGroup() public {
        // carol's valid tier-1 proof, claimed for tier 3: tier 3's root is not the proof's root
        uint256[8] memory proof = VoteFixture.carolAgainstProof();
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.Against, VoteFixture.CAROL_NULLIFIER, proof);
        // tier 2's group was empty at the snapshot: no root to prove against
        vm.expectRevert(abi.encodeWithSelector(Governance.UnknownRoot.selector, proposalId, uint8(2)));
        governance.castAnonymousVote(proposalId, 2, Governance.Support.Against, VoteFixture.CAROL_NULLIFIER, proof);
    }

    function test_TamperedPublicSignalsRevert() public {
        uint256[8] memory proof = VoteFixture.aliceForProof();
        // another vote than the one proven
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.Against, VoteFixture.ALICE_NULLIFIER, proof);
        // another nullifier
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER + 1, proof);
        // another proposal (scope)
        uint256 other = propose(nodes[3]);
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(other, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, proof);
    }

    function test_MalformedProofReverts() public {
        uint256[8] memory proof = VoteFixture.aliceForProof();
        proof[0] += 1; // not a curve point any more
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, proof);
        uint256[8] memory zeros;
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, zeros);
        // a nullifier above the field modulus is refused by the verifier's field check
        vm.expectRevert(Governance.InvalidVoteProof.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, type(uint256).max, proof);
    }

    function test_EmptyGroupAndBadTierRevert() public {
        uint256[8] memory proof = VoteFixture.aliceForProof();
        vm.expectRevert(abi.encodeWithSelector(Governance.UnknownRoot.selector, proposalId, uint8(2)));
        governance.castAnonymousVote(proposalId, 2, Governance.Support.For, 1, proof);
        vm.expectRevert();
        governance.castAnonymousVote(proposalId, 4, Governance.Support.For, 1, proof);
    }

    function test_GroupMembersVoteOnlyAnonymously() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(Governance.VotesAnonymously.selector, alice));
        governance.castVote(proposalId, Governance.Support.For);
        vm.prank(nodes[3]); // not a member: votes publicly
        governance.castVote(proposalId, Governance.Support.For);
    }

    function test_SnapshotRootIgnoresLaterJoins() public {
        makeTier(nodes[4], 3);
        vm.prank(nodes[4]);
        groups.join(777);
        assertTrue(groups.root(3) != VoteFixture.ROOT_TIER3, "current root moved");
        // alice's proof against the snapshot root still verifies
        anonVote(3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, VoteFixture.aliceForProof());
    }

    function test_VotingClosedAfterThePeriod() public {
        vm.warp(block.timestamp + VOTING_PERIOD + 1);
        uint256[8] memory proof = VoteFixture.aliceForProof();
        vm.expectRevert(
            abi.encodeWithSelector(Governance.WrongProposalState.selector, proposalId, Governance.ProposalState.Defeated)
        );
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, proof);
    }

    function test_OnlyDeployerOnceBeforeProposalsOrGovernanceSetsAnonymousVoting() public {
        vm.expectRevert(Governance.NotConfigurator.selector);
        governance.setAnonymousVoting(ITierGroups(address(0)), IVoteVerifier(address(0)));
        vm.prank(address(governance));
        governance.setAnonymousVoting(ITierGroups(address(0)), IVoteVerifier(address(0)));
        uint256[8] memory proof = VoteFixture.aliceForProof();
        vm.expectRevert(Governance.AnonymousVotingOff.selector);
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, proof);
    }

    function test_JoinLeaveEvict() public {
        // one group per node
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(TierGroups.AlreadyMember.selector, alice, uint8(3)));
        groups.join(999);
        // a node without tier cannot join
        vm.prank(nodes[5]);
        vm.expectRevert(abi.encodeWithSelector(TierGroups.NoTier.selector, nodes[5]));
        groups.join(999);
        // carol still has tier 1: no eviction
        uint256[] memory none = new uint256[](0);
        vm.expectRevert(abi.encodeWithSelector(TierGroups.StillInTier.selector, carol, uint8(1)));
        groups.evict(carol, none);
        // carol unstakes: tier 0, anyone evicts her (a lone leaf has no siblings)
        vm.prank(carol);
        staking.requestUnstake(100 ether);
        groups.evict(carol, none);
        (uint8 tier,) = groups.membershipOf(carol);
        assertEq(tier, 0, "evicted");
        assertEq(groups.root(1), 0, "tier-1 root after removal");
        // alice leaves: her sibling is bob
        uint256[] memory sib = new uint256[](1);
        sib[0] = VoteFixture.BOB;
        vm.prank(alice);
        groups.leave(sib);
        (tier,) = groups.membershipOf(alice);
        assertEq(tier, 0, "left");
        // past memberships and roots stay readable for proposals made before
        assertEq(groups.memberTierAt(alice, uint48(block.timestamp - 1)), 3, "member at the snapshot");
        assertEq(groups.rootAt(3, uint48(block.timestamp - 1)), VoteFixture.ROOT_TIER3, "snapshot root kept");
    }

    function test_AnonymousVoteGas() public {
        uint256[8] memory proof = VoteFixture.aliceForProof();
        uint256 g0 = gasleft();
        verifier.verifyProof(
            [proof[0], proof[1]],
            [[proof[2], proof[3]], [proof[4], proof[5]]],
            [proof[6], proof[7]],
            [VoteFixture.ROOT_TIER3, VoteFixture.ALICE_NULLIFIER, 1, VoteFixture.SCOPE_1]
        );
        uint256 verifyGas = g0 - gasleft();
        g0 = gasleft();
        governance.castAnonymousVote(proposalId, 3, Governance.Support.For, VoteFixture.ALICE_NULLIFIER, proof);
        uint256 voteGas = g0 - gasleft();
        // measured 216,085 (verifier) and 298,336 (whole vote, without the 21k transaction base)
        assertTrue(verifyGas < 230_000, "verifier gas (216k measured)");
        assertTrue(voteGas < 320_000, "castAnonymousVote gas (298k measured)");
    }

    function anonVote(uint8 tier, Governance.Support support, uint256 nullifier, uint256[8] memory proof)
        internal
        returns (uint256)
    {
        return governance.castAnonymousVote(proposalId, tier, support, nullifier, proof);
    }
}
