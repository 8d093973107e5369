// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {RoundManager} from "../../contracts/RoundManager.sol";
import {Staking} from "../../contracts/Staking.sol";
import {Reputation} from "../../contracts/Reputation.sol";
import {InvalidTier, TierTooLow} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";
import {ReentrantToken} from "./utils/Attackers.sol";

contract RoundManagerTest is Suite {
    uint256 internal constant POOL = 1_000 ether;
    address[] internal committee;
    uint256[] internal committeeKeys;
    address internal alice = address(0xA1);
    address internal bob = address(0xB0B);

    function setUp() public {
        deploySuite();
        for (uint256 i = 0; i < 3; i++) {
            makeTier(nodes[i], 3);
            committee.push(nodes[i]);
            committeeKeys.push(keys[i]);
        }
        token.approve(address(rounds), type(uint256).max);
    }

    function open() internal returns (uint256) {
        return rounds.openRound("job", committee, 2, uint64(block.timestamp + 1 hours), POOL);
    }

    function leaf(uint256 roundId, address account, uint256 amount, uint256 rep, bytes32 commitment)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(roundId, account, amount, rep, commitment))));
    }

    /// @dev Two-leaf tree, an equal share each: alice 450, bob 450 (100 left over for the funder).
    function result(uint256 roundId) internal pure returns (RoundManager.RoundResult memory r) {
        bytes32 root = Hashes.commutativeKeccak256(
            leaf(roundId, address(0xA1), 450 ether, 10, "ca"), leaf(roundId, address(0xB0B), 450 ether, 5, "cb")
        );
        r = RoundManager.RoundResult(roundId, keccak256("model-1"), root, 900 ether, 2);
    }

    /// @dev A settled round whose two leaves are `(alice, a, ra)` and `(bob, b, rb)`, signed with `contributions`.
    function settledWith(uint256 a, uint256 ra, uint256 b, uint256 rb, uint256 total, uint32 contributions)
        internal
        returns (uint256 id)
    {
        id = open();
        bytes32 root = Hashes.commutativeKeccak256(leaf(id, alice, a, ra, "ca"), leaf(id, bob, b, rb, "cb"));
        RoundManager.RoundResult memory r = RoundManager.RoundResult(id, keccak256("m"), root, total, contributions);
        rounds.settle(r, sigs(r, two()));
    }

    function proofOf(bytes32 sibling) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = sibling;
    }

    /// @dev Signatures of the committee members at `idx` (sorted by address), over `r`.
    function sigs(RoundManager.RoundResult memory r, uint256[] memory idx) internal view returns (bytes[] memory out) {
        bytes32 digest = rounds.resultDigest(r);
        // sort indices by address (insertion sort; n is tiny)
        for (uint256 i = 1; i < idx.length; i++) {
            for (uint256 j = i; j > 0 && committee[idx[j - 1]] > committee[idx[j]]; j--) {
                (idx[j - 1], idx[j]) = (idx[j], idx[j - 1]);
            }
        }
        out = new bytes[](idx.length);
        for (uint256 i = 0; i < idx.length; i++) {
            (uint8 v, bytes32 rr, bytes32 s) = vm.sign(committeeKeys[idx[i]], digest);
            out[i] = abi.encodePacked(rr, s, v);
        }
    }

    function two() internal pure returns (uint256[] memory idx) {
        idx = new uint256[](2);
        idx[0] = 0;
        idx[1] = 1;
    }

    function test_OpenNeedsTier3CommitteeAndMajorityQuorum() public {
        address[] memory weak = new address[](1);
        weak[0] = nodes[4];
        stakeAs(nodes[4], 1_000 ether);
        vm.expectRevert(abi.encodeWithSelector(TierTooLow.selector, nodes[4], 1, 3));
        rounds.openRound("job", weak, 1, uint64(block.timestamp + 1), 0);
        vm.expectRevert(abi.encodeWithSelector(RoundManager.InvalidQuorum.selector, 1, 3));
        rounds.openRound("job", committee, 1, uint64(block.timestamp + 1), 0);
        address[] memory dup = new address[](2);
        dup[0] = nodes[0];
        dup[1] = nodes[0];
        vm.expectRevert(RoundManager.InvalidCommittee.selector);
        rounds.openRound("job", dup, 2, uint64(block.timestamp + 1), 0);
    }

    function test_CreatorTierGatesWhoOpensAndFundsRounds() public {
        // 0 by default: any OPENER opens
        assertEq(uint256(rounds.creatorTier()), 0, "no creator tier by default");
        open();
        vm.expectEmit();
        emit RoundManager.CreatorTierSet(1);
        rounds.setCreatorTier(1);
        // the opener (this contract, unstaked) is at tier 0 now that the network asks for tier 1
        vm.expectRevert(abi.encodeWithSelector(TierTooLow.selector, address(this), 0, 1));
        open();
        makeTier(address(this), 1);
        open();
        vm.expectRevert(abi.encodeWithSelector(InvalidTier.selector, 4));
        rounds.setCreatorTier(4);
        address outsider = address(0xBAD);
        bytes32 governor = rounds.GOVERNOR_ROLE();
        vm.prank(outsider);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        rounds.setCreatorTier(0);
    }

    function test_SettleWithQuorumThenClaimByProof() public {
        uint256 id = open();
        assertEq(token.balanceOf(address(rounds)), POOL, "pool pulled");
        RoundManager.RoundResult memory r = result(id);
        uint256 funderBefore = token.balanceOf(admin);
        vm.expectEmit();
        emit RoundManager.RoundSettled(id, r.modelHash, r.rewardsRoot, 900 ether, 2, 2);
        rounds.settle(r, sigs(r, two()));
        assertEq(token.balanceOf(admin) - funderBefore, 100 ether, "unallocated refunded");

        bytes32[] memory proof = new bytes32[](1);
        proof[0] = leaf(id, bob, 450 ether, 5, "cb");
        vm.expectEmit();
        emit RoundManager.RewardClaimed(id, alice, 450 ether, 10, "ca");
        rounds.claim(id, alice, 450 ether, 10, "ca", proof);
        assertEq(token.balanceOf(alice), 450 ether, "paid");
        assertEq(reputation.reputationOf(alice), 10, "reputation");

        vm.expectRevert(abi.encodeWithSelector(RoundManager.AlreadyClaimed.selector, id, alice));
        rounds.claim(id, alice, 450 ether, 10, "ca", proof);
        // bob cannot claim alice's reputation with his own leaf as proof
        vm.expectRevert(RoundManager.InvalidProof.selector);
        rounds.claim(id, bob, 450 ether, 10, "cb", proof);
        assertEq(rounds.roundOf(id).claims, 1, "one claim counted");
    }

    function test_SettleRejectsTooFewUnsortedOrForeignSignatures() public {
        uint256 id = open();
        RoundManager.RoundResult memory r = result(id);
        bytes[] memory s = sigs(r, new uint256[](1));
        vm.expectRevert(abi.encodeWithSelector(RoundManager.QuorumNotReached.selector, 1, 2));
        rounds.settle(r, s);

        s = sigs(r, two());
        (s[0], s[1]) = (s[1], s[0]);
        vm.expectRevert(RoundManager.SignersNotAscending.selector);
        rounds.settle(r, s);

        bytes[] memory foreign = new bytes[](1);
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(keys[5], rounds.resultDigest(r));
        foreign[0] = abi.encodePacked(rr, ss, v);
        vm.expectRevert(abi.encodeWithSelector(RoundManager.NotCommitteeMember.selector, id, nodes[5]));
        rounds.settle(r, foreign);

        r.totalReward = POOL + 1;
        s = sigs(r, two());
        vm.expectRevert(abi.encodeWithSelector(RoundManager.RewardExceedsPool.selector, POOL + 1, POOL));
        rounds.settle(r, s);
    }

    /// @dev A committee that signs a larger leaf for one trainer cannot have it paid: a claim is
    /// at most an equal share of the round's rewards, whatever the tree says.
    function test_ClaimIsCappedAtAnEqualShare() public {
        uint256 id = settledWith(600 ether, 10, 300 ether, 10, 900 ether, 2);
        bytes32 aliceLeaf = leaf(id, alice, 600 ether, 10, "ca");
        bytes32 bobLeaf = leaf(id, bob, 300 ether, 10, "cb");
        vm.expectRevert(abi.encodeWithSelector(RoundManager.RewardExceedsShare.selector, id, 600 ether, 450 ether));
        rounds.claim(id, alice, 600 ether, 10, "ca", proofOf(bobLeaf));
        rounds.claim(id, bob, 300 ether, 10, "cb", proofOf(aliceLeaf));
        assertEq(token.balanceOf(bob), 300 ether, "a share below the cap is paid");
    }

    /// @dev Reputation a claim adds is capped by the governor's `maxReputationPerClaim`, as it was
    /// when the round was opened (a later change does not touch rounds already open).
    function test_ReputationGainIsCappedPerClaim() public {
        assertEq(uint256(rounds.maxReputationPerClaim()), 10, "default cap");
        uint256 id = settledWith(450 ether, 11, 450 ether, 10, 900 ether, 2);
        assertEq(uint256(rounds.roundOf(id).maxReputationGain), 10, "cap kept by the round");
        bytes32 aliceLeaf = leaf(id, alice, 450 ether, 11, "ca");
        bytes32 bobLeaf = leaf(id, bob, 450 ether, 10, "cb");
        vm.expectRevert(abi.encodeWithSelector(RoundManager.ReputationGainExceedsCap.selector, id, 11, 10));
        rounds.claim(id, alice, 450 ether, 11, "ca", proofOf(bobLeaf));
        rounds.claim(id, bob, 450 ether, 10, "cb", proofOf(aliceLeaf));
        assertEq(reputation.reputationOf(bob), 10, "gain at the cap is paid");

        // the governor raises the cap: rounds opened from now on take it, the old one keeps 10
        vm.expectEmit();
        emit RoundManager.MaxReputationPerClaimSet(20);
        rounds.setMaxReputationPerClaim(20);
        vm.expectRevert(abi.encodeWithSelector(RoundManager.ReputationGainExceedsCap.selector, id, 11, 10));
        rounds.claim(id, alice, 450 ether, 11, "ca", proofOf(bobLeaf));
        uint256 id2 = settledWith(450 ether, 20, 450 ether, 21, 900 ether, 2);
        rounds.claim(id2, alice, 450 ether, 20, "ca", proofOf(leaf(id2, bob, 450 ether, 21, "cb")));
        vm.expectRevert(abi.encodeWithSelector(RoundManager.ReputationGainExceedsCap.selector, id2, 21, 20));
        rounds.claim(id2, bob, 450 ether, 21, "cb", proofOf(leaf(id2, alice, 450 ether, 20, "ca")));

        bytes32 governor = rounds.GOVERNOR_ROLE();
        vm.prank(outsider);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        rounds.setMaxReputationPerClaim(1_000_000);
    }

    /// @dev A tree with more leaves than the signed `contributions` pays at most `contributions` claims.
    function test_ClaimsAreBoundedByContributions() public {
        uint256 id = settledWith(100 ether, 1, 100 ether, 1, 200 ether, 1);
        rounds.claim(id, alice, 100 ether, 1, "ca", proofOf(leaf(id, bob, 100 ether, 1, "cb")));
        vm.expectRevert(abi.encodeWithSelector(RoundManager.ClaimsExceedContributions.selector, id, 1));
        rounds.claim(id, bob, 100 ether, 1, "cb", proofOf(leaf(id, alice, 100 ether, 1, "ca")));
        assertEq(reputation.reputationOf(bob), 0, "no reputation past the count");
    }

    /// @dev Rewards with no contribution to pay them to would stay locked: such a result is refused.
    function test_SettleRefusesRewardsWithoutContributions() public {
        uint256 id = open();
        RoundManager.RoundResult memory r = RoundManager.RoundResult(id, keccak256("m"), bytes32(0), 1 ether, 0);
        bytes[] memory s = sigs(r, two());
        vm.expectRevert(abi.encodeWithSelector(RoundManager.NoContributions.selector, id, 1 ether));
        rounds.settle(r, s);
        // nothing paid, nothing to claim: the whole pool goes back
        r.totalReward = 0;
        uint256 before = token.balanceOf(admin);
        rounds.settle(r, sigs(r, two()));
        assertEq(token.balanceOf(admin) - before, POOL, "refund");
        vm.expectRevert(abi.encodeWithSelector(RoundManager.ClaimsExceedContributions.selector, id, 0));
        rounds.claim(id, alice, 0, 0, "ca", new bytes32[](0));
    }

    function test_DissenterIsSlashedOnce() public {
        uint256 id = open();
        RoundManager.RoundResult memory r = result(id);
        rounds.settle(r, sigs(r, two()));
        // member 2 signed another model hash for the same round
        RoundManager.RoundResult memory other = result(id);
        other.modelHash = keccak256("model-evil");
        uint256[] memory third = new uint256[](1);
        third[0] = 2;
        bytes memory evidence = sigs(other, third)[0];
        uint256 stakeBefore = staking.stakeOf(nodes[2]);
        uint256 repBefore = reputation.reputationOf(nodes[2]);
        vm.prank(outsider); // anyone can report
        rounds.slashDissenter(other, evidence);
        assertEq(stakeBefore - staking.stakeOf(nodes[2]), DISSENT_SLASH, "slashed");
        assertEq(repBefore - reputation.reputationOf(nodes[2]), 50, "reputation penalty");
        vm.expectRevert(abi.encodeWithSelector(RoundManager.AlreadySlashed.selector, id, nodes[2]));
        rounds.slashDissenter(other, evidence);
        // agreeing with the quorum is no evidence
        bytes memory agreeing = sigs(r, third)[0];
        vm.expectRevert(RoundManager.NotADissent.selector);
        rounds.slashDissenter(r, agreeing);
    }

    function test_ExpiredRoundIsCancelledAndRefunded() public {
        uint256 id = open();
        vm.expectRevert(
            abi.encodeWithSelector(RoundManager.RoundNotExpired.selector, id, uint64(block.timestamp + 1 hours))
        );
        rounds.cancelExpired(id);
        vm.warp(block.timestamp + 1 hours + 1);
        RoundManager.RoundResult memory r = result(id);
        bytes[] memory s = sigs(r, two());
        vm.expectRevert(
            abi.encodeWithSelector(RoundManager.RoundExpired.selector, id, uint64(block.timestamp - 1))
        );
        rounds.settle(r, s);
        uint256 before = token.balanceOf(admin);
        rounds.cancelExpired(id);
        assertEq(token.balanceOf(admin) - before, POOL, "refund");
        assertEq(token.balanceOf(address(rounds)), 0, "empty");
    }

    function test_SignersOfASettledRoundGainCommitteeReputation() public {
        uint256 id = open();
        assertEq(rounds.roundOf(id).committeeReputationGain, 10, "the default, copied into the round");
        uint256[3] memory before;
        for (uint256 i = 0; i < 3; i++) {
            before[i] = reputation.reputationOf(committee[i]);
        }
        // a later change applies to rounds opened after it
        vm.expectEmit();
        emit RoundManager.CommitteeReputationPerRoundSet(25);
        rounds.setCommitteeReputationPerRound(25);
        RoundManager.RoundResult memory r = result(id);
        rounds.settle(r, sigs(r, two()));
        assertEq(reputation.reputationOf(committee[0]), before[0] + 10, "signer 0 gains the round's figure");
        assertEq(reputation.reputationOf(committee[1]), before[1] + 10, "signer 1 too");
        assertEq(reputation.reputationOf(committee[2]), before[2], "a member who did not sign gains nothing");

        uint256 next = open();
        RoundManager.RoundResult memory r2 = result(next);
        rounds.settle(r2, sigs(r2, two()));
        assertEq(reputation.reputationOf(committee[0]), before[0] + 35, "25 for a round opened after the change");

        // a round settled without contributions earns the committee nothing
        uint256 empty = open();
        RoundManager.RoundResult memory r3 = RoundManager.RoundResult(empty, keccak256("m"), bytes32(0), 0, 0);
        rounds.settle(r3, sigs(r3, two()));
        assertEq(reputation.reputationOf(committee[0]), before[0] + 35, "no contributions, no gain");
    }

    function testFuzz_SettleGasDoesNotDependOnContributors(uint32 contributors, bytes32 root) public {
        uint256 id = open();
        RoundManager.RoundResult memory r = RoundManager.RoundResult(id, keccak256("m"), root, 0, contributors);
        bytes[] memory s = sigs(r, two());
        uint256 g = gasleft();
        rounds.settle(r, s);
        uint256 used = g - gasleft();
        assertLe(used, 120_000, "settle gas is flat");
    }

    function test_PrivilegedFunctionsRejectOutsiders() public {
        vm.startPrank(outsider);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, rounds.OPENER_ROLE())
        );
        rounds.openRound("job", committee, 2, uint64(block.timestamp + 1), 0);
        bytes32 governor = rounds.GOVERNOR_ROLE();
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        rounds.setDissentPenalty(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        rounds.setCommitteeTier(1);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        rounds.setCommitteeReputationPerRound(1);
        vm.stopPrank();
        vm.expectRevert(abi.encodeWithSelector(InvalidTier.selector, 4));
        rounds.setCommitteeTier(4);
    }

    function test_ClaimCannotBeReentered() public {
        ReentrantToken evil = new ReentrantToken(admin, POOL);
        Staking s = new Staking(evil, 0, address(0), minStakes(), admin);
        Reputation rep = new Reputation(s, 1 days, 0, [uint256(0), 0, 0], admin, new address[](0), 0);
        RoundManager rm = new RoundManager(evil, s, rep, 0, 0, admin);
        rep.grantRole(rep.UPDATER_ROLE(), address(rm));
        rm.setCommitteeTier(1);
        vm.startPrank(nodes[0]);
        evil.approve(address(s), 0);
        vm.stopPrank();
        // nodes[0] needs tier 1 in the new suite: give it evil tokens and stake
        evil.transfer(nodes[0], 100 ether);
        vm.startPrank(nodes[0]);
        evil.approve(address(s), 100 ether);
        s.stake(100 ether);
        vm.stopPrank();
        address[] memory c = new address[](1);
        c[0] = nodes[0];
        evil.approve(address(rm), 500 ether);
        uint256 id = rm.openRound("job", c, 1, uint64(block.timestamp + 1 hours), 500 ether);
        bytes32 onlyLeaf = leaf(id, alice, 500 ether, 0, "c");
        RoundManager.RoundResult memory r = RoundManager.RoundResult(id, "m", onlyLeaf, 500 ether, 1);
        (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(keys[0], rm.resultDigest(r));
        bytes[] memory sg = new bytes[](1);
        sg[0] = abi.encodePacked(rr, ss, v);
        rm.settle(r, sg);
        bytes32[] memory proof = new bytes32[](0);
        evil.arm(address(rm), abi.encodeCall(RoundManager.claim, (id, alice, 500 ether, 0, "c", proof)));
        vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
        rm.claim(id, alice, 500 ether, 0, "c", proof);
        assertEq(evil.balanceOf(address(rm)), 500 ether, "nothing paid twice");
    }
}
