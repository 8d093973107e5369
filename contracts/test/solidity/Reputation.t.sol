// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Reputation} from "../../contracts/Reputation.sol";
import {ThresholdsNotAscending} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";

contract ReputationTest is Suite {
    function setUp() public {
        deploySuite();
    }

    function test_IncreaseEmitsAndDecaysPerPeriod() public {
        address node = nodes[0];
        vm.expectEmit();
        emit Reputation.ReputationChanged(node, 1_000, 1_000);
        reputation.increase(node, 1_000);
        vm.warp(block.timestamp + DECAY_PERIOD - 1);
        assertEq(reputation.reputationOf(node), 1_000, "no decay within a period");
        vm.warp(block.timestamp + 1);
        assertEq(reputation.reputationOf(node), 950, "5 % after one period");
        vm.warp(block.timestamp + DECAY_PERIOD);
        assertEq(reputation.reputationOf(node), 902, "compounded (902.5 rounded down)");
    }

    function test_UpdateKeepsPartialPeriod() public {
        address node = nodes[0];
        reputation.increase(node, 1_000);
        vm.warp(block.timestamp + DECAY_PERIOD + DECAY_PERIOD / 2);
        reputation.increase(node, 50); // 950 + 50
        assertEq(reputation.reputationOf(node), 1_000, "after update");
        vm.warp(block.timestamp + DECAY_PERIOD / 2);
        assertEq(reputation.reputationOf(node), 950, "the half period already elapsed counts");
    }

    function testFuzz_DecayNeverIncreasesReputation(uint128 score, uint32 t1, uint32 t2) public {
        vm.assume(score > 0);
        reputation.increase(nodes[0], score);
        uint256 start = block.timestamp;
        uint256 a = bound(t1, 0, 3_650 days);
        uint256 b = bound(t2, a, 3_650 days);
        vm.warp(start + a);
        uint256 ra = reputation.reputationOf(nodes[0]);
        vm.warp(start + b);
        uint256 rb = reputation.reputationOf(nodes[0]);
        assertLe(rb, ra, "decay is monotonic");
        assertLe(ra, score, "never above the score");
    }

    function test_GenesisSetStartsAtTier3AndDecays() public {
        address[] memory genesis = new address[](2);
        genesis[0] = nodes[0];
        genesis[1] = nodes[1];
        vm.expectEmit();
        emit Reputation.ReputationChanged(nodes[0], 2_000, 2_000);
        Reputation rep = new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, genesis, 2_000);
        assertEq(rep.reputationOf(nodes[0]), 2_000, "genesis reputation");
        assertEq(rep.reputationOf(nodes[2]), 0, "others start at 0");
        assertEq(rep.tierOf(nodes[0]), 0, "a tier still needs a stake");
        stakeAs(nodes[0], 10_000 ether);
        assertEq(rep.tierOf(nodes[0]), 3, "tier 3 once staked");
        uint256 deployedAt = block.timestamp;
        // it decays like any other reputation: 5 % a day here, below 1,000 after 14 days
        vm.warp(deployedAt + 13 days);
        assertEq(rep.tierOf(nodes[0]), 3, "still tier 3 after 13 days");
        vm.warp(deployedAt + 14 days);
        assertLe(rep.reputationOf(nodes[0]), 999, "decayed");
        assertEq(rep.tierOf(nodes[0]), 2, "falls to tier 2 unless it earns");
        assertEq(rep.reputationAt(nodes[0], uint48(deployedAt)), 2_000, "checkpointed at deployment (vote snapshots)");
    }

    function test_InvalidGenesisIsRefused() public {
        address[] memory dup = new address[](2);
        dup[0] = nodes[0];
        dup[1] = nodes[0];
        vm.expectRevert(Reputation.InvalidGenesis.selector);
        new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, dup, 2_000);
        address[] memory zero = new address[](1);
        vm.expectRevert(Reputation.InvalidGenesis.selector);
        new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, zero, 2_000);
        address[] memory one = new address[](1);
        one[0] = nodes[0];
        vm.expectRevert(Reputation.InvalidGenesis.selector);
        new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, one, 0);
        address[] memory many = new address[](65);
        for (uint256 i = 0; i < 65; i++) {
            many[i] = address(uint160(0x1000 + i));
        }
        vm.expectRevert(Reputation.InvalidGenesis.selector);
        new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, many, 2_000);
        // no genesis: the reputation argument is ignored
        new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, new address[](0), 0);
    }

    function test_DecreaseFloorsAtZero() public {
        reputation.increase(nodes[0], 10);
        reputation.decrease(nodes[0], 25);
        assertEq(reputation.reputationOf(nodes[0]), 0, "floored");
    }

    function test_TierFollowsStakeAndReputation() public {
        address node = nodes[0];
        assertEq(reputation.tierOf(node), 0, "nothing staked");
        stakeAs(node, 100 ether);
        assertEq(reputation.tierOf(node), 1, "tier 1 by stake alone");
        stakeAs(node, 10_000 ether);
        assertEq(reputation.tierOf(node), 1, "stake alone is not enough for tier 2");
        reputation.increase(node, 100);
        assertEq(reputation.tierOf(node), 2, "tier 2");
        reputation.increase(node, 900);
        assertEq(reputation.tierOf(node), 3, "tier 3");
        vm.warp(block.timestamp + DECAY_PERIOD);
        assertEq(reputation.tierOf(node), 2, "decay drops it back");
    }

    function test_GovernorSetsThresholds() public {
        vm.expectRevert(ThresholdsNotAscending.selector);
        reputation.setMinReputation([uint256(5), 1, 10]);
        vm.expectRevert(abi.encodeWithSelector(Reputation.InvalidDecay.selector, 0, 100));
        reputation.setDecay(0, 100);
        reputation.setMinReputation([uint256(0), 0, 0]);
        stakeAs(nodes[0], 10_000 ether);
        assertEq(reputation.tierOf(nodes[0]), 3, "stake decides when reputation thresholds are 0");
    }

    function test_PrivilegedFunctionsRejectOutsiders() public {
        bytes32 updater = reputation.UPDATER_ROLE();
        bytes32 governor = reputation.GOVERNOR_ROLE();
        vm.startPrank(outsider);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, updater));
        reputation.increase(outsider, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, updater));
        reputation.decrease(outsider, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        reputation.setDecay(1, 1);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, outsider, governor));
        reputation.setMinReputation([uint256(0), 0, 0]);
        vm.stopPrank();
    }
}
