// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IVotingPeriod} from "./interfaces/IVotingPeriod.sol";
import {
    CooldownNotLongerThanVoting,
    FutureLookup,
    InvalidTier,
    ThresholdsNotAscending,
    ZeroAddress,
    ZeroAmount
} from "./Errors.sol";

/// @title Staking
/// @notice Nodes stake VAIN to take part. Unstaking is two steps: `requestUnstake` moves tokens
/// to a pending balance that unlocks after `cooldown`; `withdraw` pays it out. Both active and
/// pending stake can be slashed by SLASHER_ROLE (the round manager, governance); slashed tokens go
/// to `treasury`, or are burned when no treasury is set. Holds the minimum stake per tier.
/// Every change of a node's active stake (stake, unstake request, slash) is checkpointed by block
/// timestamp, so that governance reads stake as it was when a proposal was made (`stakeAt`).
/// Once `governance` is wired, the cooldown must stay longer than its voting period.
/// @dev Invariant: token.balanceOf(this) == totalStaked + totalPending (for a token without fees).
contract Staking is IStaking, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using Checkpoints for Checkpoints.Trace208;

    /// @notice May slash stake.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice May change the cooldown, treasury and tier minimums.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice The longest cooldown governance may set.
    uint64 public constant MAX_COOLDOWN = 365 days;

    /// @notice A node's stake as `accountOf` returns it.
    struct Account {
        uint256 staked;
        uint256 pending;
        uint64 unlockAt;
    }

    /// @dev What a node has waiting out the cooldown (its active stake lives in `_stakes`).
    struct Unstaking {
        uint256 pending;
        uint64 unlockAt;
    }

    IERC20 public immutable token;
    uint64 public cooldown;
    /// @notice Receives slashed tokens; address(0) means they are burned.
    address public treasury;
    uint256 public totalStaked;
    uint256 public totalPending;
    /// @notice Governance whose voting period the cooldown must exceed; address(0) until wired.
    IVotingPeriod public governance;

    uint256[3] private _minStake;
    /// @dev Active stake per node, checkpointed by block timestamp; the latest value is the current stake.
    mapping(address => Checkpoints.Trace208) private _stakes;
    mapping(address => Unstaking) private _unstaking;

    event Staked(address indexed node, uint256 amount, uint256 stake);
    event UnstakeRequested(address indexed node, uint256 amount, uint256 pending, uint64 unlockAt);
    event Withdrawn(address indexed node, uint256 amount);
    event Slashed(address indexed node, uint256 amount, address indexed by, bytes32 reason, address to);
    event CooldownSet(uint64 cooldown);
    event TreasurySet(address treasury);
    event MinStakeSet(uint256[3] minStake);
    event GovernanceSet(address governance);

    /// @dev Asked to unstake `requested` but only `available` is staked.
    error InsufficientStake(uint256 available, uint256 requested);
    /// @dev The pending stake unlocks at `unlockAt` (unix seconds).
    error CooldownActive(uint64 unlockAt);
    /// @dev Nothing pending to withdraw.
    error NothingToWithdraw();
    /// @dev The cooldown asked for is longer than MAX_COOLDOWN.
    error CooldownTooLong(uint64 cooldown, uint64 max);

    constructor(IERC20 token_, uint64 cooldown_, address treasury_, uint256[3] memory minStake_, address admin) {
        if (address(token_) == address(0) || admin == address(0)) revert ZeroAddress();
        token = token_;
        _setCooldown(cooldown_);
        treasury = treasury_;
        emit TreasurySet(treasury_);
        _setMinStake(minStake_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
    }

    // ---------------------------------------------------------------- node actions

    /// @notice Stakes `amount` (needs an allowance).
    function stake(uint256 amount) external nonReentrant {
        _stake(msg.sender, amount);
    }

    /// @notice Stakes `amount` with an EIP-2612 permit signature instead of a prior approval.
    /// @dev A permit already used (e.g. front-run) is ignored; the transfer then needs the allowance.
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        try IERC20Permit(address(token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _stake(msg.sender, amount);
    }

    /// @notice Moves `amount` from active stake to pending; it unlocks `cooldown` seconds from now.
    /// A new request restarts the cooldown for the whole pending balance.
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = _stakes[msg.sender].latest();
        if (amount > staked) revert InsufficientStake(staked, amount);
        _checkpoint(msg.sender, staked - amount);
        Unstaking storage a = _unstaking[msg.sender];
        a.pending += amount;
        a.unlockAt = uint64(block.timestamp) + cooldown;
        totalStaked -= amount;
        totalPending += amount;
        emit UnstakeRequested(msg.sender, amount, a.pending, a.unlockAt);
    }

    /// @notice Pays out the pending balance once its cooldown is over.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Unstaking storage a = _unstaking[msg.sender];
        amount = a.pending;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < a.unlockAt) revert CooldownActive(a.unlockAt);
        a.pending = 0;
        totalPending -= amount;
        token.safeTransfer(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    // ---------------------------------------------------------------- privileged

    /// @inheritdoc IStaking
    function slash(address node, uint256 amount, bytes32 reason)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 slashed)
    {
        if (amount == 0) revert ZeroAmount();
        Unstaking storage a = _unstaking[node];
        uint256 staked = _stakes[node].latest();
        uint256 fromStaked = amount < staked ? amount : staked;
        uint256 rest = amount - fromStaked;
        uint256 fromPending = rest < a.pending ? rest : a.pending;
        if (fromStaked > 0) _checkpoint(node, staked - fromStaked);
        if (fromPending > 0) a.pending -= fromPending;
        totalStaked -= fromStaked;
        totalPending -= fromPending;
        slashed = fromStaked + fromPending;
        if (slashed == 0) return 0;
        address to = treasury;
        if (to == address(0)) {
            ERC20Burnable(address(token)).burn(slashed);
        } else {
            token.safeTransfer(to, slashed);
        }
        emit Slashed(node, slashed, msg.sender, reason, to);
    }

    /// @notice Sets the unstake cooldown (seconds). Once governance is wired, it must stay longer
    /// than governance's voting period (CooldownNotLongerThanVoting otherwise).
    function setCooldown(uint64 cooldown_) external onlyRole(GOVERNOR_ROLE) {
        _setCooldown(cooldown_);
    }

    /// @notice Wires the governance whose voting period the cooldown must exceed (address(0):
    /// none). Reverts with CooldownNotLongerThanVoting if the current cooldown is not longer.
    function setGovernance(IVotingPeriod governance_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        governance = governance_;
        _checkCooldown(cooldown);
        emit GovernanceSet(address(governance_));
    }

    /// @notice Sets where slashed tokens go (address(0): burned).
    function setTreasury(address treasury_) external onlyRole(GOVERNOR_ROLE) {
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @notice Sets the minimum stake for tiers 1, 2 and 3 (non-decreasing, tier 1 > 0).
    function setMinStake(uint256[3] calldata minStake_) external onlyRole(GOVERNOR_ROLE) {
        _setMinStake(minStake_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStaking
    function stakeOf(address node) external view returns (uint256) {
        return _stakes[node].latest();
    }

    /// @inheritdoc IStaking
    function stakeAt(address node, uint48 timepoint) external view returns (uint256) {
        if (timepoint >= block.timestamp) revert FutureLookup(timepoint, uint48(block.timestamp));
        return _stakes[node].upperLookupRecent(timepoint);
    }

    /// @notice Active stake, pending stake and when the pending stake unlocks.
    function accountOf(address node) external view returns (Account memory) {
        Unstaking memory u = _unstaking[node];
        return Account({staked: _stakes[node].latest(), pending: u.pending, unlockAt: u.unlockAt});
    }

    /// @inheritdoc IStaking
    function minStake(uint8 tier) external view returns (uint256) {
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
        return _minStake[tier - 1];
    }

    /// @notice The minimum stake of tiers 1, 2 and 3.
    function minStakes() external view returns (uint256[3] memory) {
        return _minStake;
    }

    // ---------------------------------------------------------------- internal

    function _stake(address node, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        uint256 staked = _stakes[node].latest() + amount;
        _checkpoint(node, staked);
        totalStaked += amount;
        token.safeTransferFrom(node, address(this), amount);
        emit Staked(node, amount, staked);
    }

    /// @dev Records `staked` as the node's active stake from this block's timestamp on.
    function _checkpoint(address node, uint256 staked) private {
        _stakes[node].push(SafeCast.toUint48(block.timestamp), SafeCast.toUint208(staked));
    }

    function _setCooldown(uint64 cooldown_) private {
        if (cooldown_ > MAX_COOLDOWN) revert CooldownTooLong(cooldown_, MAX_COOLDOWN);
        _checkCooldown(cooldown_);
        cooldown = cooldown_;
        emit CooldownSet(cooldown_);
    }

    /// @dev Stake that voted must still be locked when the vote closes: cooldown > voting period.
    function _checkCooldown(uint64 cooldown_) private view {
        if (address(governance) == address(0)) return;
        uint64 votingPeriod = governance.votingPeriod();
        if (cooldown_ <= votingPeriod) revert CooldownNotLongerThanVoting(cooldown_, votingPeriod);
    }

    function _setMinStake(uint256[3] memory m) private {
        if (m[0] == 0) revert ZeroAmount();
        if (m[1] < m[0] || m[2] < m[1]) revert ThresholdsNotAscending();
        _minStake = m;
        emit MinStakeSet(m);
    }
}
