// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IVotingPeriod} from "./interfaces/IVotingPeriod.sol";
import {CooldownNotLongerThanVoting, InvalidTier, TierTooLow, ZeroAddress} from "./Errors.sol";

/// @title Governance
/// @notice Proposals of contract calls (parameter changes, slashing), voted with stake weighted by
/// tier, decided by quorum and majority, and executed after a timelock. The suite grants this
/// contract the GOVERNOR and SLASHER roles so that passed proposals can change parameters and slash.
/// @dev A vote's weight is the voter's active stake times its tier (1, 2 or 3; 0 = no vote), both
/// read at the proposal's snapshot: the end of the second before it was made. Since the tier never
/// falls when stake grows, weight(a + b) >= weight(a) + weight(b): splitting stake across addresses
/// never adds voting power, and stake staked, moved or unstaked after the snapshot changes no
/// weight. The unstake cooldown is kept longer than the voting period (checked here and in
/// Staking), so stake that voted is still locked, and slashable, when the vote closes.
contract Governance is IVotingPeriod, ReentrancyGuard {
    uint256 public constant MAX_ACTIONS = 16;
    /// @notice Time after the timelock during which a queued proposal can still be executed.
    uint64 public constant GRACE_PERIOD = 14 days;

    enum ProposalState {
        None,
        Active,
        Defeated,
        Succeeded,
        Queued,
        Executed,
        Canceled,
        Expired
    }

    enum Support {
        Against,
        For,
        Abstain
    }

    struct Proposal {
        address proposer;
        uint64 voteEnd;
        /// Weights are read at the end of this second (unix seconds): the one before the proposal.
        uint64 snapshot;
        uint64 eta;
        bool executed;
        bool canceled;
        uint256 forVotes;
        uint256 againstVotes;
        uint256 abstainVotes;
    }

    IStaking public immutable staking;
    IReputation public immutable reputation;
    /// @notice How long a proposal is open for votes (seconds); always shorter than the unstake cooldown.
    uint64 public votingPeriod;
    uint64 public timelockDelay;
    /// @notice Minimum for + abstain weight for a proposal to pass, in weight units: stake (wei) × tier.
    uint256 public quorumVotes;
    /// @notice Minimum tier to propose.
    uint8 public proposalTier;
    uint256 public proposalCount;

    mapping(uint256 => Proposal) private _proposals;
    mapping(uint256 => address[]) private _targets;
    mapping(uint256 => bytes[]) private _calldatas;
    mapping(uint256 => mapping(address => bool)) private _hasVoted;

    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address[] targets,
        bytes[] calldatas,
        uint64 voteEnd,
        string description
    );
    event VoteCast(address indexed voter, uint256 indexed proposalId, Support support, uint256 weight);
    event ProposalQueued(uint256 indexed proposalId, uint64 eta);
    event ProposalExecuted(uint256 indexed proposalId);
    event ProposalCanceled(uint256 indexed proposalId);
    event ParamsSet(uint64 votingPeriod, uint64 timelockDelay, uint256 quorumVotes, uint8 proposalTier);

    /// @dev Only a passed proposal (this contract calling itself) may do this.
    error OnlyGovernance();
    /// @dev Only the proposer may cancel.
    error OnlyProposer(address proposer);
    /// @dev Targets and calldatas must be non-empty, of equal length, at most MAX_ACTIONS.
    error InvalidProposal();
    /// @dev The proposal is not in the state the call needs.
    error WrongProposalState(uint256 proposalId, ProposalState state);
    /// @dev The voter already voted on this proposal.
    error AlreadyVoted(uint256 proposalId, address voter);
    /// @dev The voter had no stake, or tier 0, at the proposal's snapshot.
    error NoVotingPower(address voter);
    /// @dev The timelock runs until `eta`.
    error TimelockActive(uint64 eta);
    /// @dev Action `index` reverted with `reason`.
    error ActionFailed(uint256 index, bytes reason);
    /// @dev Voting period and timelock must be positive, quorum positive.
    error InvalidParams();

    modifier onlyGovernance() {
        if (msg.sender != address(this)) revert OnlyGovernance();
        _;
    }

    /// @param staking_ Staking, read for stake snapshots and the cooldown (which must exceed `votingPeriod_`).
    /// @param reputation_ Reputation, read for tiers at a snapshot.
    /// @param quorumVotes_ In weight units: stake (wei) × tier.
    constructor(
        IStaking staking_,
        IReputation reputation_,
        uint64 votingPeriod_,
        uint64 timelockDelay_,
        uint256 quorumVotes_,
        uint8 proposalTier_
    ) {
        if (address(staking_) == address(0) || address(reputation_) == address(0)) revert ZeroAddress();
        staking = staking_;
        reputation = reputation_;
        _setParams(votingPeriod_, timelockDelay_, quorumVotes_, proposalTier_);
    }

    /// @notice Proposes calls to `targets` with `calldatas`; voting starts now. Weights are
    /// snapshotted at the end of the previous second; the proposer needs `proposalTier` there.
    function propose(address[] calldata targets, bytes[] calldata calldatas, string calldata description)
        external
        returns (uint256 proposalId)
    {
        uint256 n = targets.length;
        if (n == 0 || n != calldatas.length || n > MAX_ACTIONS) revert InvalidProposal();
        uint64 snapshot = uint64(block.timestamp) - 1;
        uint8 tier = reputation.tierAt(msg.sender, uint48(snapshot));
        if (tier < proposalTier) revert TierTooLow(msg.sender, tier, proposalTier);
        proposalId = ++proposalCount;
        uint64 voteEnd = uint64(block.timestamp) + votingPeriod;
        _proposals[proposalId] = Proposal({
            proposer: msg.sender,
            voteEnd: voteEnd,
            snapshot: snapshot,
            eta: 0,
            executed: false,
            canceled: false,
            forVotes: 0,
            againstVotes: 0,
            abstainVotes: 0
        });
        for (uint256 i = 0; i < n; i++) {
            if (targets[i] == address(0)) revert ZeroAddress();
            _targets[proposalId].push(targets[i]);
            _calldatas[proposalId].push(calldatas[i]);
        }
        emit ProposalCreated(proposalId, msg.sender, targets, calldatas, voteEnd, description);
    }

    /// @notice Votes once with the caller's weight at the proposal's snapshot: its stake then
    /// times its tier then (see `votingPowerAt`).
    function castVote(uint256 proposalId, Support support) external returns (uint256 weight) {
        ProposalState s = state(proposalId);
        if (s != ProposalState.Active) revert WrongProposalState(proposalId, s);
        if (_hasVoted[proposalId][msg.sender]) revert AlreadyVoted(proposalId, msg.sender);
        Proposal storage p = _proposals[proposalId];
        weight = votingPowerAt(msg.sender, p.snapshot);
        if (weight == 0) revert NoVotingPower(msg.sender);
        _hasVoted[proposalId][msg.sender] = true;
        if (support == Support.For) p.forVotes += weight;
        else if (support == Support.Against) p.againstVotes += weight;
        else p.abstainVotes += weight;
        emit VoteCast(msg.sender, proposalId, support, weight);
    }

    /// @notice Starts the timelock of a succeeded proposal.
    function queue(uint256 proposalId) external returns (uint64 eta) {
        ProposalState s = state(proposalId);
        if (s != ProposalState.Succeeded) revert WrongProposalState(proposalId, s);
        eta = uint64(block.timestamp) + timelockDelay;
        _proposals[proposalId].eta = eta;
        emit ProposalQueued(proposalId, eta);
    }

    /// @notice Executes a queued proposal once its timelock is over. Anyone may call.
    function execute(uint256 proposalId) external nonReentrant {
        ProposalState s = state(proposalId);
        if (s != ProposalState.Queued) revert WrongProposalState(proposalId, s);
        Proposal storage p = _proposals[proposalId];
        if (block.timestamp < p.eta) revert TimelockActive(p.eta);
        p.executed = true;
        address[] storage targets = _targets[proposalId];
        bytes[] storage calldatas = _calldatas[proposalId];
        for (uint256 i = 0; i < targets.length; i++) {
            (bool ok, bytes memory ret) = targets[i].call(calldatas[i]);
            if (!ok) revert ActionFailed(i, ret);
        }
        emit ProposalExecuted(proposalId);
    }

    /// @notice The proposer withdraws a proposal not yet executed.
    function cancel(uint256 proposalId) external {
        ProposalState s = state(proposalId);
        if (s == ProposalState.None || s == ProposalState.Executed || s == ProposalState.Canceled) {
            revert WrongProposalState(proposalId, s);
        }
        Proposal storage p = _proposals[proposalId];
        if (msg.sender != p.proposer) revert OnlyProposer(p.proposer);
        p.canceled = true;
        emit ProposalCanceled(proposalId);
    }

    /// @notice Changes voting parameters; only through a passed proposal. The voting period must
    /// stay shorter than Staking's cooldown (CooldownNotLongerThanVoting otherwise).
    function setParams(uint64 votingPeriod_, uint64 timelockDelay_, uint256 quorumVotes_, uint8 proposalTier_)
        external
        onlyGovernance
    {
        _setParams(votingPeriod_, timelockDelay_, quorumVotes_, proposalTier_);
    }

    // ---------------------------------------------------------------- views

    /// @notice The vote weight of `account` at the end of second `timepoint` (in the past): its
    /// active stake then times its tier then (0, 1, 2 or 3). Superadditive in stake: one address
    /// holding a + b weighs at least as much as two holding a and b.
    function votingPowerAt(address account, uint64 timepoint) public view returns (uint256) {
        (uint256 staked, uint8 tier) = reputation.standingAt(account, SafeCast.toUint48(timepoint));
        return staked * tier;
    }

    /// @notice The state of a proposal; Defeated unless for > against and for + abstain >= quorum.
    function state(uint256 proposalId) public view returns (ProposalState) {
        Proposal storage p = _proposals[proposalId];
        if (p.proposer == address(0)) return ProposalState.None;
        if (p.canceled) return ProposalState.Canceled;
        if (p.executed) return ProposalState.Executed;
        if (block.timestamp <= p.voteEnd) return ProposalState.Active;
        if (p.forVotes <= p.againstVotes || p.forVotes + p.abstainVotes < quorumVotes) {
            return ProposalState.Defeated;
        }
        if (p.eta == 0) return ProposalState.Succeeded;
        if (block.timestamp > p.eta + GRACE_PERIOD) return ProposalState.Expired;
        return ProposalState.Queued;
    }

    /// @notice A proposal's proposer, voting end, snapshot, timelock end, flags and vote totals.
    function proposalOf(uint256 proposalId) external view returns (Proposal memory) {
        return _proposals[proposalId];
    }

    /// @notice A proposal's targets and calldatas.
    function actionsOf(uint256 proposalId) external view returns (address[] memory, bytes[] memory) {
        return (_targets[proposalId], _calldatas[proposalId]);
    }

    /// @notice Whether `voter` voted on the proposal.
    function hasVoted(uint256 proposalId, address voter) external view returns (bool) {
        return _hasVoted[proposalId][voter];
    }

    function _setParams(uint64 votingPeriod_, uint64 timelockDelay_, uint256 quorumVotes_, uint8 proposalTier_)
        private
    {
        if (votingPeriod_ == 0 || timelockDelay_ == 0 || quorumVotes_ == 0) revert InvalidParams();
        if (proposalTier_ == 0 || proposalTier_ > 3) revert InvalidTier(proposalTier_);
        uint64 cooldown = staking.cooldown();
        if (cooldown <= votingPeriod_) revert CooldownNotLongerThanVoting(cooldown, votingPeriod_);
        votingPeriod = votingPeriod_;
        timelockDelay = timelockDelay_;
        quorumVotes = quorumVotes_;
        proposalTier = proposalTier_;
        emit ParamsSet(votingPeriod_, timelockDelay_, quorumVotes_, proposalTier_);
    }
}
