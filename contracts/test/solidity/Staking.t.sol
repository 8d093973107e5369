// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {Staking} from "../../contracts/Staking.sol";
import {InvalidTier, ThresholdsNotAscending, ZeroAmount} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";
import {ReentrantToken} from "./utils/Attackers.sol";

contract StakingTest is Suite {
    address internal node;
    address internal treasury = address(0x7EA5);

    function setUp() public {
        deploySuite();
        node = nodes[0];
    }

    function test_StakeMovesTokensAndEmits() public {
        vm.startPrank(node);
        token.approve(address(staking), 300 ether);
        vm.expectEmit();
        emit Staking.Staked(node, 300 ether, 300 ether);
        staking.stake(300 ether);
        vm.stopPrank();
        assertEq(staking.stakeOf(node), 300 ether, "stake");
        assertEq(staking.totalStaked(), 300 ether, "total");
        assertEq(token.balanceOf(address(staking)), 300 ether, "balance");
    }

    function test_StakeZeroReverts() public {
        vm.prank(node);
        vm.expectRevert(ZeroAmount.selector);
        staking.stake(0);
    }

    function test_StakeWithPermitNeedsNoApproval() public {
        uint256 amount = 250 ether;
        uint256 deadline = block.timestamp + 1 hours;
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"),
                node,
                address(staking),
                amount,
                token.nonces(node),
                deadline
            )
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[0], digest);
        vm.prank(node);
        staking.stakeWithPermit(amount, deadline, v, r, s);
        assertEq(staking.stakeOf(node), amount, "stake");
    }

    function test_UnstakeWaitsForCooldownThenWithdraws() public {
        stakeAs(node, 1_000 ether);
        vm.prank(node);
        vm.expectEmit();
        emit Staking.UnstakeRequested(node, 400 ether, 400 ether, uint64(block.timestamp) + COOLDOWN);
        staking.requestUnstake(400 ether);
        assertEq(staking.stakeOf(node), 600 ether, "active");
        uint64 unlockAt = staking.accountOf(node).unlockAt;

        vm.warp(unlockAt - 1);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(Staking.CooldownActive.selector, unlockAt));
        staking.withdraw();

        vm.warp(unlockAt);
        uint256 before = token.balanceOf(node);
        vm.prank(node);
        vm.expectEmit();
        emit Staking.Withdrawn(node, 400 ether);
        staking.withdraw();
        assertEq(token.balanceOf(node) - before, 400 ether, "paid out");
        assertEq(staking.totalPending(), 0, "pending");
    }

    function test_UnstakeMoreThanStakedReverts() public {
        stakeAs(node, 100 ether);
        vm.prank(node);
        vm.expectRevert(abi.encodeWithSelector(Staking.InsufficientStake.selector, 100 ether, 101 ether));
        staking.requestUnstake(101 ether);
    }

    function test_WithdrawWithNothingPendingReverts() public {
        vm.prank(node);
        vm.expectRevert(Staking.NothingToWithdraw.selector);
        staking.withdraw();
    }

    function testFuzz_NoWithdrawalBeforeCooldown(uint256 amount, uint256 wait) public {
        amount = bound(amount, 1, 100_000 ether);
        wait = bound(wait, 0, 2 * uint256(COOLDOWN));
        stakeAs(node, amount);
        vm.prank(node);
        staking.requestUnstake(amount);
        uint64 unlockAt = staking.accountOf(node).unlockAt;
        vm.warp(block.timestamp + wait);
        vm.prank(node);
        if (block.timestamp < unlockAt) {
            vm.expectRevert(abi.encodeWithSelector(Staking.CooldownActive.selector, unlockAt));
            staking.withdraw();
        } else {
            staking.withdraw();
            assertEq(token.balanceOf(node), 100_000 ether, "all back");
        }
    }

    function testFuzz_StakeUnstakeKeepsBalanceEqualToStakedSum(uint256 a, uint256 b, uint256 out) public {
        a = bound(a, 1, 100_000 ether);
        b = bound(b, 1, 100_000 ether);
        stakeAs(nodes[0], a);
        stakeAs(nodes[1], b);
        out = bound(out, 1, a);
        vm.prank(nodes[0]);
        staking.requestUnstake(out);
        assertEq(token.balanceOf(address(staking)), staking.totalStaked() + staking.totalPending(), "balance");
        assertEq(staking.totalStaked(), staking.stakeOf(nodes[0]) + staking.stakeOf(nodes[1]), "staked sum");
    }

    function test_SlashBurnsWhenNoTreasury() public {
        stakeAs(node, 1_000 ether);
        staking.grantRole(staking.SLASHER_ROLE(), admin);
        uint256 supply = token.totalSupply();
        vm.expectEmit();
        emit Staking.Slashed(node, 300 ether, admin, "cheat", address(0));
        uint256 slashed = staking.slash(node, 300 ether, "cheat");
        assertEq(slashed, 300 ether, "slashed");
        assertEq(token.totalSupply(), supply - 300 ether, "burned");
        assertEq(staking.stakeOf(node), 700 ether, "left");
    }

    function test_SlashReachesPendingAndPaysTreasury() public {
        stakeAs(node, 1_000 ether);
        vm.prank(node);
        staking.requestUnstake(800 ether);
        staking.setTreasury(treasury);
        staking.grantRole(staking.SLASHER_ROLE(), admin);
        // more than everything: takes all 200 active then all 800 pending
        uint256 slashed = staking.slash(node, 5_000 ether, "cheat");
        assertEq(slashed, 1_000 ether, "capped at stake");
        assertEq(token.balanceOf(treasury), 1_000 ether, "treasury");
        assertEq(staking.accountOf(node).pending, 0, "pending");
        assertEq(token.balanceOf(address(staking)), 0, "empty");
    }

    function test_PrivilegedFunctionsRejectOutsiders() public {
        bytes32 slasher = staking.SLASHER_ROLE();
        bytes32 governor = staking.GOVERNOR_ROLE();
        vm.startPrank(outsider);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, slasher));
        staking.slash(node, 1, "x");
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        staking.setCooldown(1);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        staking.setTreasury(outsider);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        staking.setMinStake([uint256(1), 2, 3]);
        vm.stopPrank();
    }

    function test_GovernorSettersValidate() public {
        vm.expectRevert(abi.encodeWithSelector(Staking.CooldownTooLong.selector, 366 days, 365 days));
        staking.setCooldown(366 days);
        vm.expectRevert(ThresholdsNotAscending.selector);
        staking.setMinStake([uint256(10), 5, 20]);
        vm.expectRevert(abi.encodeWithSelector(InvalidTier.selector, 4));
        staking.minStake(4);
        staking.setMinStake([uint256(1 ether), 2 ether, 3 ether]);
        assertEq(staking.minStake(2), 2 ether, "tier 2 min");
    }

    function test_WithdrawCannotBeReentered() public {
        ReentrantToken evil = new ReentrantToken(node, 1_000 ether);
        Staking s = new Staking(evil, 0, address(0), minStakes(), admin);
        vm.startPrank(node);
        evil.approve(address(s), 1_000 ether);
        s.stake(1_000 ether);
        s.requestUnstake(1_000 ether);
        vm.stopPrank();
        evil.arm(address(s), abi.encodeCall(Staking.withdraw, ()));
        vm.prank(node);
        vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
        s.withdraw();
        assertEq(evil.balanceOf(address(s)), 1_000 ether, "nothing left the contract");
    }
}
