// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {VainToken} from "../../contracts/VainToken.sol";
import {Reputation} from "../../contracts/Reputation.sol";
import {RoundManager} from "../../contracts/RoundManager.sol";
import {Suite, Vm} from "./utils/Suite.sol";

/// @notice A committee that signs whatever it likes: rounds opened with random pools, settled with
/// random totals, contribution counts and leaves (amounts up to the whole total, reputation gains
/// past the cap), claimed in any order, cancelled after their deadline; the governor moves the
/// reputation cap between rounds. Records what every successful claim paid.
contract RewardsHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    VainToken internal immutable token;
    RoundManager internal immutable rounds;
    Reputation internal immutable reputation;
    uint256 internal immutable committeeKey;
    address[4] internal accounts = [address(0x1001), address(0x1002), address(0x1003), address(0x1004)];

    struct Leaf {
        uint256 amount;
        uint256 gain;
    }

    uint256[] public roundIds;
    mapping(uint256 => Leaf[4]) internal _leaves;
    /// @notice Tokens and reputation successful claims paid, per round.
    mapping(uint256 => uint256) public paid;
    mapping(uint256 => uint256) public reputationPaid;
    /// @notice Set when a successful claim paid more than an equal share, or more reputation than the round's cap.
    bool public shareExceeded;
    bool public capExceeded;

    constructor(VainToken token_, RoundManager rounds_, Reputation reputation_, uint256 committeeKey_) {
        token = token_;
        rounds = rounds_;
        reputation = reputation_;
        committeeKey = committeeKey_;
    }

    function roundCount() external view returns (uint256) {
        return roundIds.length;
    }

    function _leaf(uint256 id, uint256 i) internal view returns (bytes32) {
        Leaf memory l = _leaves[id][i];
        return keccak256(bytes.concat(keccak256(abi.encode(id, accounts[i], l.amount, l.gain, bytes32(i)))));
    }

    function _open(uint256 pool) internal returns (uint256 id) {
        address[] memory committee = new address[](1);
        committee[0] = vm.addr(committeeKey);
        token.approve(address(rounds), pool);
        id = rounds.openRound("fuzz", committee, 1, uint64(block.timestamp + 1 hours), pool);
        roundIds.push(id);
    }

    /// @dev Opens a round and settles it with an arbitrary result over a four-leaf tree.
    function openAndSettle(
        uint256 pool,
        uint256 total,
        uint32 contributions,
        uint256[4] calldata amounts,
        uint256[4] calldata gains
    ) external {
        pool = pool % 10_000 ether;
        total = total % (pool + 1);
        contributions = contributions % 6;
        uint256 id = _open(pool);
        for (uint256 i = 0; i < 4; i++) {
            _leaves[id][i] = Leaf(amounts[i] % (total + 1), gains[i] % 40);
        }
        bytes32 root = Hashes.commutativeKeccak256(
            Hashes.commutativeKeccak256(_leaf(id, 0), _leaf(id, 1)),
            Hashes.commutativeKeccak256(_leaf(id, 2), _leaf(id, 3))
        );
        RoundManager.RoundResult memory r = RoundManager.RoundResult(id, "m", root, total, contributions);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(committeeKey, rounds.resultDigest(r));
        bytes[] memory sigs = new bytes[](1);
        sigs[0] = abi.encodePacked(rr, s, v);
        try rounds.settle(r, sigs) {} catch {}
    }

    /// @dev Claims leaf `which` of round `roundIdx` (any leaf, any number of times: the contract decides).
    function claim(uint256 roundIdx, uint256 which) external {
        if (roundIds.length == 0) return;
        uint256 id = roundIds[roundIdx % roundIds.length];
        uint256 i = which % 4;
        Leaf memory l = _leaves[id][i];
        bytes32[] memory proof = new bytes32[](2);
        proof[0] = _leaf(id, i ^ 1);
        proof[1] = i < 2
            ? Hashes.commutativeKeccak256(_leaf(id, 2), _leaf(id, 3))
            : Hashes.commutativeKeccak256(_leaf(id, 0), _leaf(id, 1));
        address account = accounts[i];
        uint256 balance = token.balanceOf(account);
        uint256 rep = reputation.reputationOf(account);
        try rounds.claim(id, account, l.amount, l.gain, bytes32(i), proof) {
            RoundManager.Round memory r = rounds.roundOf(id);
            uint256 got = token.balanceOf(account) - balance;
            uint256 gained = reputation.reputationOf(account) - rep;
            paid[id] += got;
            reputationPaid[id] += gained;
            if (got * r.contributions > r.totalReward) shareExceeded = true;
            if (gained > r.maxReputationGain) capExceeded = true;
        } catch {}
    }

    /// @dev Opens a round nobody settles; time passes; it is cancelled.
    function openAndExpire(uint256 pool) external {
        uint256 id = _open(pool % 10_000 ether);
        vm.warp(block.timestamp + 1 hours + 1);
        rounds.cancelExpired(id);
    }

    function setCap(uint64 cap) external {
        rounds.setMaxReputationPerClaim(cap % 40);
    }
}

/// @notice "The rewards of a round never exceed its pool", fuzzed: claims of a round pay at most
/// its settled total, which is at most its funded pool; each claim at most an equal share and the
/// round's reputation cap; at most `contributions` claims; the round manager holds exactly what it
/// still owes.
contract RoundRewardsTest is Suite {
    RewardsHandler internal handler;

    function setUp() public {
        deploySuite();
        makeTier(nodes[5], 3);
        handler = new RewardsHandler(token, rounds, reputation, keys[5]);
        rounds.grantRole(rounds.OPENER_ROLE(), address(handler));
        rounds.grantRole(rounds.GOVERNOR_ROLE(), address(handler));
        token.transfer(address(handler), 10_000_000 ether);
        targetContract(address(handler));
    }

    /// @dev Per round: paid by claims == `claimed` <= `totalReward` <= `rewardPool`; claims <= contributions.
    function invariant_RewardsOfARoundNeverExceedItsPool() public view {
        uint256 n = handler.roundCount();
        for (uint256 k = 0; k < n; k++) {
            uint256 id = handler.roundIds(k);
            RoundManager.Round memory r = rounds.roundOf(id);
            assertEq(handler.paid(id), r.claimed, "claims paid what the round counts");
            assertLe(r.claimed, r.totalReward, "claimed <= total reward");
            assertLe(r.totalReward, r.rewardPool, "total reward <= pool");
            assertLe(r.claims, r.contributions, "claims <= contributions");
            assertLe(handler.reputationPaid(id), uint256(r.claims) * r.maxReputationGain, "reputation <= claims x cap");
        }
    }

    /// @dev No successful claim paid more than an equal share or more reputation than its round's cap.
    function invariant_EachClaimWithinShareAndCap() public view {
        assertTrue(!handler.shareExceeded(), "a claim paid more than an equal share");
        assertTrue(!handler.capExceeded(), "a claim paid more reputation than the cap");
    }

    /// @dev The round manager holds the pools of open rounds and the unclaimed rewards of settled ones.
    function invariant_HoldsExactlyWhatItOwes() public view {
        uint256 owed;
        uint256 n = handler.roundCount();
        for (uint256 k = 0; k < n; k++) {
            RoundManager.Round memory r = rounds.roundOf(handler.roundIds(k));
            if (r.status == RoundManager.Status.Open) owed += r.rewardPool;
            else if (r.status == RoundManager.Status.Settled) owed += r.totalReward - r.claimed;
        }
        assertEq(token.balanceOf(address(rounds)), owed, "balance == owed");
    }

    /// @dev Stateless: whatever the committee signs, claiming every leaf pays at most the pool.
    function testFuzz_ClaimsOfARoundNeverExceedItsPool(
        uint256 pool,
        uint256 total,
        uint32 contributions,
        uint256[4] calldata amounts,
        uint256[4] calldata gains,
        uint256 order
    ) public {
        handler.openAndSettle(pool, total, contributions, amounts, gains);
        uint256 id = handler.roundIds(0);
        for (uint256 k = 0; k < 8; k++) {
            handler.claim(0, (order >> (2 * k)) + k);
        }
        RoundManager.Round memory r = rounds.roundOf(id);
        assertEq(handler.paid(id), r.claimed, "paid == claimed");
        assertLe(handler.paid(id), r.rewardPool, "paid <= pool");
        assertLe(r.claims, r.contributions, "claims <= contributions");
        assertTrue(!handler.shareExceeded() && !handler.capExceeded(), "share and cap");
    }
}
