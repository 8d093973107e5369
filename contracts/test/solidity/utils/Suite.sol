// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VainToken} from "../../../contracts/VainToken.sol";
import {Staking} from "../../../contracts/Staking.sol";
import {Reputation} from "../../../contracts/Reputation.sol";
import {NodeRegistry} from "../../../contracts/NodeRegistry.sol";
import {RoundManager} from "../../../contracts/RoundManager.sol";
import {Governance} from "../../../contracts/Governance.sol";
import {TestBase, Vm} from "./TestBase.sol";

/// @notice Deploys and wires the whole suite the way `deployVain` does, with funded actors.
abstract contract Suite is TestBase {
    uint256 internal constant SUPPLY = 1_000_000_000 ether;
    uint64 internal constant COOLDOWN = 7 days;
    uint64 internal constant DECAY_PERIOD = 1 days;
    uint16 internal constant DECAY_BPS = 500; // 5 % a day
    uint64 internal constant VOTING_PERIOD = 3 days;
    uint64 internal constant TIMELOCK = 2 days;
    /// @dev In weight units (stake × tier): one tier-3 node at the tier-3 minimum (10,000 × 3).
    uint256 internal constant QUORUM = 30_000 ether;
    uint256 internal constant DISSENT_SLASH = 500 ether;

    VainToken internal token;
    Staking internal staking;
    Reputation internal reputation;
    NodeRegistry internal registry;
    RoundManager internal rounds;
    Governance internal governance;

    address internal admin = address(this);
    address internal outsider = address(0xBAD);
    uint256[] internal keys;
    address[] internal nodes;

    function minStakes() internal pure returns (uint256[3] memory) {
        return [uint256(100 ether), 1_000 ether, 10_000 ether];
    }

    function minReps() internal pure returns (uint256[3] memory) {
        return [uint256(0), 100, 1_000];
    }

    function deploySuite() internal {
        token = new VainToken("vAIn", "VAIN", SUPPLY, admin);
        staking = new Staking(token, COOLDOWN, address(0), minStakes(), admin);
        reputation = new Reputation(staking, DECAY_PERIOD, DECAY_BPS, minReps(), admin, new address[](0), 0);
        registry = new NodeRegistry(staking);
        rounds = new RoundManager(token, staking, reputation, DISSENT_SLASH, 50, admin);
        governance = new Governance(staking, reputation, VOTING_PERIOD, TIMELOCK, QUORUM, 2);
        staking.setGovernance(governance);
        staking.grantRole(staking.SLASHER_ROLE(), address(rounds));
        staking.grantRole(staking.SLASHER_ROLE(), address(governance));
        staking.grantRole(staking.GOVERNOR_ROLE(), address(governance));
        reputation.grantRole(reputation.UPDATER_ROLE(), address(rounds));
        reputation.grantRole(reputation.GOVERNOR_ROLE(), address(governance));
        rounds.grantRole(rounds.GOVERNOR_ROLE(), address(governance));
        // the test contract may raise reputation directly, to build tiers quickly
        reputation.grantRole(reputation.UPDATER_ROLE(), admin);
        for (uint256 i = 1; i <= 6; i++) {
            keys.push(0xA11CE + i);
            address node = vm.addr(0xA11CE + i);
            nodes.push(node);
            token.transfer(node, 100_000 ether);
        }
    }

    function stakeAs(address node, uint256 amount) internal {
        vm.startPrank(node);
        token.approve(address(staking), amount);
        staking.stake(amount);
        vm.stopPrank();
    }

    /// @dev Brings `node` to `tier` by stake and reputation.
    function makeTier(address node, uint8 tier) internal {
        stakeAs(node, minStakes()[tier - 1]);
        uint256 rep = minReps()[tier - 1];
        if (rep > 0) reputation.increase(node, rep);
    }
}
