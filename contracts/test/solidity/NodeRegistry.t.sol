// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {StakeTooLow} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";

contract NodeRegistryTest is Suite {
    string internal constant PEER_A = "12D3KooWA1vFfJ8Zr1zYyNQ1Bq1Fz4j5JcP7q3X6y2Fj4z7bqH3k";
    string internal constant PEER_B = "12D3KooWB2wGgK9As2aZzOR2Cr2Ga5k6KdQ8r4Y7z3Gk5a8crI4m";

    function setUp() public {
        deploySuite();
    }

    function test_RegisterNeedsTier1Stake() public {
        stakeAs(nodes[0], 99 ether);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(StakeTooLow.selector, nodes[0], 99 ether, 100 ether));
        registry.register(PEER_A);
    }

    function test_RegisterBindsBothWays() public {
        stakeAs(nodes[0], 100 ether);
        vm.prank(nodes[0]);
        vm.expectEmit();
        emit NodeRegistry.NodeRegistered(nodes[0], PEER_A);
        registry.register(PEER_A);
        assertEq(keccak256(bytes(registry.peerIdOf(nodes[0]))), keccak256(bytes(PEER_A)), "peer id");
        assertEq(registry.nodeOf(PEER_A), nodes[0], "node");
        assertEq(registry.nodeCount(), 1, "count");

        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.AlreadyRegistered.selector, nodes[0]));
        registry.register(PEER_B);
    }

    function test_PeerIdBelongsToOneAddress() public {
        stakeAs(nodes[0], 100 ether);
        stakeAs(nodes[1], 100 ether);
        vm.prank(nodes[0]);
        registry.register(PEER_A);
        vm.prank(nodes[1]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerIdTaken.selector, PEER_A, nodes[0]));
        registry.register(PEER_A);
    }

    function test_UpdateAndDeregisterFreeThePeerId() public {
        stakeAs(nodes[0], 100 ether);
        vm.startPrank(nodes[0]);
        registry.register(PEER_A);
        vm.expectEmit();
        emit NodeRegistry.PeerIdChanged(nodes[0], PEER_A, PEER_B);
        registry.updatePeerId(PEER_B);
        assertEq(registry.nodeOf(PEER_A), address(0), "old freed");
        registry.deregister();
        vm.stopPrank();
        assertTrue(!registry.isRegistered(nodes[0]), "gone");
        assertEq(registry.nodeOf(PEER_B), address(0), "new freed");
        assertEq(registry.nodeCount(), 0, "count");
    }

    function test_RejectsEmptyOrHugePeerIds() public {
        stakeAs(nodes[0], 100 ether);
        vm.startPrank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerId.selector, ""));
        registry.register("");
        string memory huge = string(new bytes(129));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerId.selector, huge));
        registry.register(huge);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotRegistered.selector, nodes[0]));
        registry.deregister();
        vm.stopPrank();
    }
}
