// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {InvalidTier, ThresholdsNotAscending, ZeroAddress, ZeroAmount} from "./Errors.sol";

/// @title Staking
/// @notice Nodes stake VAIN to take part. Unstaking is two steps: `requestUnstake` moves tokens
/// to a pending balance that unlocks after `cooldown`; `withdraw` pays it out. Both active and
/// pending stake can be slashed by SLASHER_ROLE (the round manager, governance); slashed tokens go
/// to `treasury`, or are burned when no treasury is set. Holds the minimum stake per tier.
/// @dev Invariant: token.balanceOf(this) == totalStaked + totalPending (for a token without fees).
contract Staking is IStaking, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice May slash stake.
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");
    /// @notice May change the cooldown, treasury and tier minimums.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice The longest cooldown governance may set.
    uint64 public constant MAX_COOLDOWN = 365 days;

    struct Account {
        uint256 staked;
        uint256 pending;
        uint64 unlockAt;
    }

    IERC20 public immutable token;
    uint64 public cooldown;
    /// @notice Receives slashed tokens; address(0) means they are burned.
    address public treasury;
    uint256 public totalStaked;
    uint256 public totalPending;

    uint256[3] private _minStake;
    mapping(address => Account) private _accounts;

    event Staked(address indexed node, uint256 amount, uint256 stake);
    event UnstakeRequested(address indexed node, uint256 amount, uint256 pending, uint64 unlockAt);
    event Withdrawn(address indexed node, uint256 amount);
    event Slashed(address indexed node, uint256 amount, address indexed by, bytes32 reason, address to);
    event CooldownSet(uint64 cooldown);
    event TreasurySet(address treasury);
    event MinStakeSet(uint256[3] minStake);

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
        Account storage a = _accounts[msg.sender];
        if (amount > a.staked) revert InsufficientStake(a.staked, amount);
        a.staked -= amount;
        a.pending += amount;
        a.unlockAt = uint64(block.timestamp) + cooldown;
        totalStaked -= amount;
        totalPending += amount;
        emit UnstakeRequested(msg.sender, amount, a.pending, a.unlockAt);
    }

    /// @notice Pays out the pending balance once its cooldown is over.
    function withdraw() external nonReentrant returns (uint256 amount) {
        Account storage a = _accounts[msg.sender];
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
        Account storage a = _accounts[node];
        uint256 fromStaked = amount < a.staked ? amount : a.staked;
        uint256 rest = amount - fromStaked;
        uint256 fromPending = rest < a.pending ? rest : a.pending;
        a.staked -= fromStaked;
        a.pending -= fromPending;
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

    /// @notice Sets the unstake cooldown (seconds).
    function setCooldown(uint64 cooldown_) external onlyRole(GOVERNOR_ROLE) {
        _setCooldown(cooldown_);
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
        return _accounts[node].staked;
    }

    /// @notice Active stake, pending stake and when the pending stake unlocks.
    function accountOf(address node) external view returns (Account memory) {
        return _accounts[node];
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
        Account storage a = _accounts[node];
        a.staked += amount;
        totalStaked += amount;
        token.safeTransferFrom(node, address(this), amount);
        emit Staked(node, amount, a.staked);
    }

    function _setCooldown(uint64 cooldown_) private {
        if (cooldown_ > MAX_COOLDOWN) revert CooldownTooLong(cooldown_, MAX_COOLDOWN);
        cooldown = cooldown_;
        emit CooldownSet(cooldown_);
    }

    function _setMinStake(uint256[3] memory m) private {
        if (m[0] == 0) revert ZeroAmount();
        if (m[1] < m[0] || m[2] < m[1]) revert ThresholdsNotAscending();
        _minStake = m;
        emit MinStakeSet(m);
    }
}
