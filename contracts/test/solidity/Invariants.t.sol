// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {VainToken} from "../../contracts/VainToken.sol";
import {Staking} from "../../contracts/Staking.sol";
import {Reputation} from "../../contracts/Reputation.sol";
import {RoundManager} from "../../contracts/RoundManager.sol";
import {Suite, Vm} from "./utils/Suite.sol";

/// @notice Random sequences of protocol actions: stake, unstake, withdraw, time passing, slashing
/// (burned or to a treasury), transfers, and rounds opened, settled and claimed.
contract Handler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    VainToken internal immutable token;
    Staking internal immutable staking;
    RoundManager internal immutable rounds;
    uint256 internal immutable committeeKey;
    address[] public actors;

    uint256 public burned;
    uint256 public unclaimedRewards;
    bool public withdrewBeforeCooldown;

    struct PendingClaim {
        uint256 roundId;
        address account;
        uint256 amount;
    }

    PendingClaim[] internal _pending;

    constructor(VainToken token_, Staking staking_, RoundManager rounds_, uint256 committeeKey_, address[] memory actors_) {
        token = token_;
        staking = staking_;
        rounds = rounds_;
        committeeKey = committeeKey_;
        actors = actors_;
    }

    function actorCount() external view returns (uint256) {
        return actors.length;
    }

    function stake(uint256 who, uint256 amount) external {
        address a = actors[who % actors.length];
        amount = amount % (token.balanceOf(a) + 1);
        if (amount == 0) return;
        vm.startPrank(a);
        token.approve(address(staking), amount);
        staking.stake(amount);
        vm.stopPrank();
    }

    function requestUnstake(uint256 who, uint256 amount) external {
        address a = actors[who % actors.length];
        amount = amount % (staking.stakeOf(a) + 1);
        if (amount == 0) return;
        vm.prank(a);
        staking.requestUnstake(amount);
    }

    function withdraw(uint256 who) external {
        address a = actors[who % actors.length];
        Staking.Account memory acc = staking.accountOf(a);
        if (acc.pending == 0) return;
        vm.prank(a);
        try staking.withdraw() {
            if (block.timestamp < acc.unlockAt) withdrewBeforeCooldown = true;
        } catch {}
    }

    function passTime(uint256 secs) external {
        vm.warp(block.timestamp + (secs % 10 days));
    }

    function slash(uint256 who, uint256 amount, bool toTreasury) external {
        address a = actors[who % actors.length];
        staking.setTreasury(toTreasury ? address(0x7EA5) : address(0));
        uint256 slashed = staking.slash(a, (amount % 5_000 ether) + 1, "fuzz");
        if (!toTreasury) burned += slashed;
    }

    function transfer(uint256 from, uint256 to, uint256 amount) external {
        address a = actors[from % actors.length];
        address b = actors[to % actors.length];
        amount = amount % (token.balanceOf(a) + 1);
        vm.prank(a);
        token.transfer(b, amount);
    }

    function round(uint256 who, uint256 pool, uint256 reward) external {
        pool = pool % 10_000 ether;
        reward = pool == 0 ? 0 : reward % (pool + 1);
        address a = actors[who % actors.length];
        address[] memory committee = new address[](1);
        committee[0] = vm.addr(committeeKey);
        token.approve(address(rounds), pool);
        uint256 id = rounds.openRound("fuzz", committee, 1, uint64(block.timestamp + 1 hours), pool);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(id, a, reward, uint256(1), bytes32(0)))));
        RoundManager.RoundResult memory r = RoundManager.RoundResult(id, "m", leaf, reward, 1);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(committeeKey, rounds.resultDigest(r));
        bytes[] memory sigs = new bytes[](1);
        sigs[0] = abi.encodePacked(rr, s, v);
        rounds.settle(r, sigs);
        unclaimedRewards += reward;
        _pending.push(PendingClaim(id, a, reward));
    }

    function claim(uint256 which) external {
        if (_pending.length == 0) return;
        uint256 i = which % _pending.length;
        PendingClaim memory c = _pending[i];
        rounds.claim(c.roundId, c.account, c.amount, 1, bytes32(0), new bytes32[](0));
        unclaimedRewards -= c.amount;
        _pending[i] = _pending[_pending.length - 1];
        _pending.pop();
    }
}

contract InvariantsTest is Suite {
    Handler internal handler;
    address internal treasury = address(0x7EA5);

    function setUp() public {
        deploySuite();
        // nodes[5] is the committee (tier 3, never touched by the handler); nodes[0..4] are actors
        makeTier(nodes[5], 3);
        address[] memory actors = new address[](5);
        for (uint256 i = 0; i < 5; i++) {
            actors[i] = nodes[i];
        }
        handler = new Handler(token, staking, rounds, keys[5], actors);
        staking.grantRole(staking.SLASHER_ROLE(), address(handler));
        staking.grantRole(staking.GOVERNOR_ROLE(), address(handler));
        rounds.grantRole(rounds.OPENER_ROLE(), address(handler));
        token.transfer(address(handler), 1_000_000 ether);
        targetContract(address(handler));
    }

    /// @dev Staked sum equals the contract's balance, and equals the sum over nodes.
    function invariant_StakedSumEqualsBalance() public view {
        assertEq(token.balanceOf(address(staking)), staking.totalStaked() + staking.totalPending(), "balance");
        uint256 staked;
        uint256 pending;
        for (uint256 i = 0; i < 6; i++) {
            Staking.Account memory a = staking.accountOf(nodes[i]);
            staked += a.staked;
            pending += a.pending;
        }
        assertEq(staking.totalStaked(), staked, "sum of stakes");
        assertEq(staking.totalPending(), pending, "sum of pending");
    }

    /// @dev No token is created or lost: supply only shrinks by what was burned, and every token
    /// is held by a known party; the round manager holds exactly the unclaimed rewards.
    function invariant_TokenConservation() public view {
        assertEq(token.totalSupply(), SUPPLY - handler.burned(), "supply");
        uint256 held = token.balanceOf(admin) + token.balanceOf(address(handler)) + token.balanceOf(address(staking))
            + token.balanceOf(address(rounds)) + token.balanceOf(treasury);
        for (uint256 i = 0; i < 6; i++) {
            held += token.balanceOf(nodes[i]);
        }
        assertEq(held, token.totalSupply(), "all tokens accounted for");
        assertEq(token.balanceOf(address(rounds)), handler.unclaimedRewards(), "round manager holds unclaimed");
    }

    /// @dev No withdrawal ever succeeded before its cooldown.
    function invariant_NoWithdrawalBeforeCooldown() public view {
        assertTrue(!handler.withdrewBeforeCooldown(), "early withdrawal");
    }
}
