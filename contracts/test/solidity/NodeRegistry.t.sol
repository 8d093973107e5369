// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {NodeRegistry} from "../../contracts/NodeRegistry.sol";
import {StakeTooLow} from "../../contracts/Errors.sol";
import {Suite} from "./utils/Suite.sol";

/// @dev Peer ids and public keys of three secp256k1 libp2p keys (private keys 0x9EE3, 0x9EE4,
/// 0x9EE6), computed with libp2p (crypto, peer-id); PEER_C's key has an odd y.
contract NodeRegistryTest is Suite {
    uint256 internal constant KEY_A = 0x9EE3;
    string internal constant PEER_A = "16Uiu2HAm7ykVKoDDjsUwwAK5c5MoNnJgMxDzv8yiXAvAK3dtw1Yv";
    bytes32 internal constant AX = 0xba83ed72bdd0101c8f1d508a418db4f05f5ed34756fc3666aa30e053619148db;
    bytes32 internal constant AY = 0x823c24b8d00f2aeda818ddf687b5e2b69707607f9f41159497b84e75c152746c;
    uint256 internal constant KEY_B = 0x9EE4;
    string internal constant PEER_B = "16Uiu2HAkwUsp3U1nBSWtdurvY9GWggW5XzsiqAFRfvEc8GLHmRKh";
    bytes32 internal constant BX = 0x1e897ea10324595fb839b04ac1c2513a1dd323e7e96080442cb3ae2ce4298a9c;
    bytes32 internal constant BY = 0xef3f7d547b66896fdd350d5e926927e53bb85d87efa3c8f1b708257a014ce250;
    uint256 internal constant KEY_C = 0x9EE6;
    string internal constant PEER_C = "16Uiu2HAmPT1HAJfAudEoNxxRknERKpC2CQmmJhhwZjY9bHxhtr3P";
    bytes32 internal constant CX = 0xa05ea2fe970ec793347f1640180792dd7461f86a8772434c0a7b780f6cbf8946;
    bytes32 internal constant CY = 0x2ead779292723c329bd981ef5cdf848d26f73032dadc56ed4bf20384e090e8e5;
    /// @dev An Ed25519 peer id: its key cannot be checked on chain.
    string internal constant PEER_ED25519 = "12D3KooWA1vFfJ8Zr1zYyNQ1Bq1Fz4j5JcP7q3X6y2Fj4z7bqH3k";
    uint256 internal constant CURVE_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    function setUp() public {
        deploySuite();
    }

    /// @dev The EIP-712 digest computed here, independently of the contract.
    function digestFor(uint256 chainId, address verifyingContract, address node, string memory peerId)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("vAIn NodeRegistry"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(keccak256("PeerIdBinding(address node,string peerId)"), node, keccak256(bytes(peerId)))
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// @dev What a libp2p secp256k1 key signs: ECDSA over SHA-256(tag ‖ digest).
    function signDigest(uint256 key, bytes32 x, bytes32 y, bytes32 digest)
        internal
        pure
        returns (NodeRegistry.PeerKeyProof memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, sha256(abi.encodePacked("vain-peer-binding-v1\x00", digest)));
        return NodeRegistry.PeerKeyProof({x: x, y: y, r: r, s: s, v: v});
    }

    function proof(uint256 key, bytes32 x, bytes32 y, address node, string memory peerId)
        internal
        view
        returns (NodeRegistry.PeerKeyProof memory)
    {
        return signDigest(key, x, y, digestFor(block.chainid, address(registry), node, peerId));
    }

    function proofA(address node) internal view returns (NodeRegistry.PeerKeyProof memory) {
        return proof(KEY_A, AX, AY, node, PEER_A);
    }

    function test_DigestMatchesEip712() public view {
        assertEq(
            registry.bindingDigest(nodes[0], PEER_A),
            digestFor(block.chainid, address(registry), nodes[0], PEER_A),
            "digest"
        );
    }

    function test_RegisterNeedsTier1Stake() public {
        stakeAs(nodes[0], 99 ether);
        NodeRegistry.PeerKeyProof memory p = proofA(nodes[0]);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(StakeTooLow.selector, nodes[0], 99 ether, 100 ether));
        registry.register(PEER_A, p);
    }

    function test_RegisterBindsBothWays() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory p = proofA(nodes[0]);
        vm.prank(nodes[0]);
        vm.expectEmit();
        emit NodeRegistry.NodeRegistered(nodes[0], PEER_A);
        registry.register(PEER_A, p);
        assertEq(keccak256(bytes(registry.peerIdOf(nodes[0]))), keccak256(bytes(PEER_A)), "peer id");
        assertEq(registry.nodeOf(PEER_A), nodes[0], "node");
        assertEq(registry.nodeCount(), 1, "count");

        NodeRegistry.PeerKeyProof memory pb = proof(KEY_B, BX, BY, nodes[0], PEER_B);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.AlreadyRegistered.selector, nodes[0]));
        registry.register(PEER_B, pb);
    }

    function test_KeyWithOddYRegisters() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory p = proof(KEY_C, CX, CY, nodes[0], PEER_C);
        vm.prank(nodes[0]);
        registry.register(PEER_C, p);
        assertEq(registry.nodeOf(PEER_C), nodes[0], "node");
    }

    /// The attack of issue 11: a staked squatter registers an honest node's (public) peer id first.
    function test_SquatterCannotRegisterHonestPeerId() public {
        address squatter = nodes[1];
        stakeAs(squatter, 100 ether);
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory forged = signDigest(KEY_B, AX, AY, registry.bindingDigest(squatter, PEER_A));
        NodeRegistry.PeerKeyProof memory ownKey = proof(KEY_B, BX, BY, squatter, PEER_A);
        NodeRegistry.PeerKeyProof memory replayed = proofA(nodes[0]);
        NodeRegistry.PeerKeyProof memory flipped = proofA(squatter);
        flipped.y = bytes32(0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F - uint256(AY));
        NodeRegistry.PeerKeyProof memory offCurve = proofA(squatter);
        offCurve.y = bytes32(uint256(AY) + 2);
        vm.startPrank(squatter);
        // the honest key's coordinates, signed by the squatter's own key
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, forged);
        // its own key, with the honest peer id
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerKeyMismatch.selector, PEER_A));
        registry.register(PEER_A, ownKey);
        // the honest node's own proof (e.g. seen in the mempool), replayed for another address
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, replayed);
        // a y of the wrong parity (the other point with this x)
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerKeyMismatch.selector, PEER_A));
        registry.register(PEER_A, flipped);
        // off the curve
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerKeyMismatch.selector, PEER_A));
        registry.register(PEER_A, offCurve);
        vm.stopPrank();
        assertEq(registry.nodeOf(PEER_A), address(0), "not squatted");

        // the honest node still registers its peer id
        NodeRegistry.PeerKeyProof memory p = proofA(nodes[0]);
        vm.prank(nodes[0]);
        registry.register(PEER_A, p);
        assertEq(registry.nodeOf(PEER_A), nodes[0], "honest node");
    }

    function test_ProofForAnotherChainOrRegistryFails() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry other = new NodeRegistry(staking);
        NodeRegistry.PeerKeyProof memory otherChain =
            signDigest(KEY_A, AX, AY, digestFor(block.chainid + 1, address(registry), nodes[0], PEER_A));
        NodeRegistry.PeerKeyProof memory otherRegistry =
            signDigest(KEY_A, AX, AY, other.bindingDigest(nodes[0], PEER_A));
        NodeRegistry.PeerKeyProof memory otherPeerId =
            signDigest(KEY_A, AX, AY, registry.bindingDigest(nodes[0], PEER_B));
        vm.startPrank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, otherChain);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, otherRegistry);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, otherPeerId);
        // without the libp2p tag (a bare digest)
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(KEY_A, registry.bindingDigest(nodes[0], PEER_A));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, NodeRegistry.PeerKeyProof({x: AX, y: AY, r: r, s: s, v: v}));
        vm.stopPrank();
    }

    function test_HighSOrBadVIsRefused() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory p = proofA(nodes[0]);
        NodeRegistry.PeerKeyProof memory high = p;
        high.s = bytes32(CURVE_N - uint256(p.s));
        high.v = p.v == 27 ? 28 : 27;
        vm.startPrank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, high);
        NodeRegistry.PeerKeyProof memory badV = proofA(nodes[0]);
        badV.v = 29;
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.register(PEER_A, badV);
        vm.stopPrank();
    }

    function test_Ed25519PeerIdsCannotBeBound() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory p = proof(KEY_A, AX, AY, nodes[0], PEER_ED25519);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerKeyMismatch.selector, PEER_ED25519));
        registry.register(PEER_ED25519, p);
    }

    /// Any other character at any position gives another peer id: refused for key A.
    function testFuzz_AlteredPeerIdIsRefused(uint8 position, uint8 c) public {
        uint256 at = uint256(position) % bytes(PEER_A).length;
        bytes memory altered = bytes(PEER_A);
        vm.assume(altered[at] != bytes1(c));
        altered[at] = bytes1(c);
        string memory peerId = string(altered);
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory p = proof(KEY_A, AX, AY, nodes[0], peerId);
        vm.prank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerKeyMismatch.selector, peerId));
        registry.register(peerId, p);
    }

    function test_PeerIdBelongsToOneAddress() public {
        stakeAs(nodes[0], 100 ether);
        stakeAs(nodes[1], 100 ether);
        NodeRegistry.PeerKeyProof memory p0 = proofA(nodes[0]);
        NodeRegistry.PeerKeyProof memory p1 = proofA(nodes[1]);
        vm.prank(nodes[0]);
        registry.register(PEER_A, p0);
        // even with the key's consent, a second address cannot take it
        vm.prank(nodes[1]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerIdTaken.selector, PEER_A, nodes[0]));
        registry.register(PEER_A, p1);
    }

    function test_UpdateAndDeregisterFreeThePeerId() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory pa = proofA(nodes[0]);
        NodeRegistry.PeerKeyProof memory pb = proof(KEY_B, BX, BY, nodes[0], PEER_B);
        vm.startPrank(nodes[0]);
        registry.register(PEER_A, pa);
        // the new peer id needs its own key's proof
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.PeerKeyMismatch.selector, PEER_B));
        registry.updatePeerId(PEER_B, pa);
        vm.expectEmit();
        emit NodeRegistry.PeerIdChanged(nodes[0], PEER_A, PEER_B);
        registry.updatePeerId(PEER_B, pb);
        assertEq(registry.nodeOf(PEER_A), address(0), "old freed");
        registry.deregister();
        vm.stopPrank();
        assertTrue(!registry.isRegistered(nodes[0]), "gone");
        assertEq(registry.nodeOf(PEER_B), address(0), "new freed");
        assertEq(registry.nodeCount(), 0, "count");
    }

    function test_UpdateCannotTakeAnotherNodesPeerId() public {
        stakeAs(nodes[0], 100 ether);
        stakeAs(nodes[1], 100 ether);
        NodeRegistry.PeerKeyProof memory pa = proofA(nodes[0]);
        NodeRegistry.PeerKeyProof memory pb = proof(KEY_B, BX, BY, nodes[1], PEER_B);
        vm.prank(nodes[0]);
        registry.register(PEER_A, pa);
        vm.prank(nodes[1]);
        registry.register(PEER_B, pb);
        NodeRegistry.PeerKeyProof memory replay = proofA(nodes[0]);
        vm.prank(nodes[1]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerSignature.selector, PEER_A));
        registry.updatePeerId(PEER_A, replay);
        assertEq(registry.nodeOf(PEER_A), nodes[0], "kept");
    }

    function test_RejectsEmptyOrHugePeerIds() public {
        stakeAs(nodes[0], 100 ether);
        NodeRegistry.PeerKeyProof memory p = proofA(nodes[0]);
        vm.startPrank(nodes[0]);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerId.selector, ""));
        registry.register("", p);
        string memory huge = string(new bytes(129));
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.InvalidPeerId.selector, huge));
        registry.register(huge, p);
        vm.expectRevert(abi.encodeWithSelector(NodeRegistry.NotRegistered.selector, nodes[0]));
        registry.deregister();
        vm.stopPrank();
    }
}
