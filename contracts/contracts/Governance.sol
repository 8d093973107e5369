// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {ITierGroups} from "./interfaces/ITierGroups.sol";
import {IVoteVerifier} from "./interfaces/IVoteVerifier.sol";
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
/// Anonymous votes (`castAnonymousVote`): a member of a tier group (TierGroups) proves with a
/// Groth16 proof (VoteVerifier, the Semaphore v4 circuit) that it is in that group's tree as it was
/// at the proposal's snapshot, without saying which member; its nullifier allows one vote per
/// identity per proposal; it weighs `anonymousWeight(tier)` = tier × that tier's minimum stake, never
/// more than the least-staked member of the tier could weigh publicly. A node that was a group
/// member at the snapshot votes on that proposal only anonymously (castVote refuses it), so no node
/// votes both ways.
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
    /// @notice The tier groups of anonymous voters; zero while anonymous voting is off.
    ITierGroups public tierGroups;
    /// @notice The Groth16 verifier of anonymous votes; zero while anonymous voting is off.
    IVoteVerifier public voteVerifier;
    /// The deployer may turn anonymous voting on once, before any proposal; after that only governance.
    address private _configurator;
    mapping(uint256 => mapping(uint256 => bool)) private _nullifierUsed;

    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        address[] targets,
        bytes[] calldatas,
        uint64 voteEnd,
        string description
    );
    event VoteCast(address indexed voter, uint256 indexed proposalId, Support support, uint256 weight);
    /// @notice An anonymous member of tier `tier`'s group voted; `nullifier` is spent for this proposal.
    event AnonymousVoteCast(
        uint256 indexed proposalId, uint8 indexed tier, Support support, uint256 nullifier, uint256 weight
    );
    event AnonymousVotingSet(address tierGroups, address voteVerifier);
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
    /// @dev Anonymous voting is off (no tier groups or verifier set).
    error AnonymousVotingOff();
    /// @dev Only the deployer (once, before any proposal) or governance may set the anonymous-voting contracts.
    error NotConfigurator();
    /// @dev This nullifier already voted on this proposal.
    error NullifierUsed(uint256 proposalId, uint256 nullifier);
    /// @dev Tier `tier`'s group was empty at the proposal's snapshot: there is no root to prove against.
    error UnknownRoot(uint256 proposalId, uint8 tier);
    /// @dev The proof does not verify for this root, nullifier, vote and proposal.
    error InvalidVoteProof();
    /// @dev The voter was a tier-group member at the snapshot: it votes on this proposal only anonymously.
    error VotesAnonymously(address voter);

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
        _configurator = msg.sender;
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
        ITierGroups groups = tierGroups;
        if (address(groups) != address(0) && groups.memberTierAt(msg.sender, uint48(p.snapshot)) != 0) {
            revert VotesAnonymously(msg.sender);
        }
        _hasVoted[proposalId][msg.sender] = true;
        if (support == Support.For) p.forVotes += weight;
        else if (support == Support.Against) p.againstVotes += weight;
        else p.abstainVotes += weight;
        emit VoteCast(msg.sender, proposalId, support, weight);
    }

    /// @notice Votes anonymously as a member of tier `tier`'s group at the proposal's snapshot, with
    /// weight `anonymousWeight(tier)`. Anyone may submit the transaction (e.g. a relayer, so the
    /// sender's address says nothing); the proof binds the vote and the proposal.
    /// @param tier The group proven against: its root at the proposal's snapshot is the proof's root.
    /// @param support The vote; the proof's message.
    /// @param nullifier Poseidon(voteScope(proposalId), identity secret): one vote per identity per proposal.
    /// @param proof Groth16 proof [a.x, a.y, b.x1, b.x0, b.y1, b.y0, c.x, c.y] (snarkjs's Solidity call order).
    function castAnonymousVote(
        uint256 proposalId,
        uint8 tier,
        Support support,
        uint256 nullifier,
        uint256[8] calldata proof
    ) external returns (uint256 weight) {
        ProposalState s = state(proposalId);
        if (s != ProposalState.Active) revert WrongProposalState(proposalId, s);
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
        if (address(tierGroups) == address(0)) revert AnonymousVotingOff();
        if (_nullifierUsed[proposalId][nullifier]) revert NullifierUsed(proposalId, nullifier);
        Proposal storage p = _proposals[proposalId];
        uint256 root = tierGroups.rootAt(tier, uint48(p.snapshot));
        if (root == 0) revert UnknownRoot(proposalId, tier);
        if (!_verifyVote([root, nullifier, uint256(support), voteScope(proposalId)], proof)) revert InvalidVoteProof();
        weight = anonymousWeight(tier);
        _nullifierUsed[proposalId][nullifier] = true;
        if (support == Support.For) p.forVotes += weight;
        else if (support == Support.Against) p.againstVotes += weight;
        else p.abstainVotes += weight;
        emit AnonymousVoteCast(proposalId, tier, support, nullifier, weight);
    }

    /// @notice Turns anonymous voting on (or off, with zero addresses). Governance may call it any
    /// time; the deployer only once, before the first proposal.
    function setAnonymousVoting(ITierGroups tierGroups_, IVoteVerifier voteVerifier_) external {
        if (msg.sender != address(this)) {
            if (msg.sender != _configurator || proposalCount != 0) revert NotConfigurator();
            _configurator = address(0);
        }
        if ((address(tierGroups_) == address(0)) != (address(voteVerifier_) == address(0))) revert ZeroAddress();
        tierGroups = tierGroups_;
        voteVerifier = voteVerifier_;
        emit AnonymousVotingSet(address(tierGroups_), address(voteVerifier_));
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

    /// @notice The weight of one anonymous vote from tier `tier`'s group: tier × Staking's minimum
    /// stake for that tier (read now, like tier thresholds). Every member had at least that stake
    /// when it joined, so an anonymous vote never weighs more than the member could publicly,
    /// unless its stake fell afterwards and nobody evicted it (TierGroups.evict).
    function anonymousWeight(uint8 tier) public view returns (uint256) {
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
        return staking.minStake(tier) * tier;
    }

    /// @notice The scope of anonymous votes on `proposalId`, the circuit's public `scope`:
    /// keccak256(chain id, this contract, proposal id) >> 8 (to fit the field). Nullifiers differ
    /// per proposal and per deployment, so votes on different proposals cannot be linked.
    function voteScope(uint256 proposalId) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), proposalId))) >> 8;
    }

    /// @notice Whether `nullifier` already voted on the proposal.
    function nullifierUsed(uint256 proposalId, uint256 nullifier) external view returns (bool) {
        return _nullifierUsed[proposalId][nullifier];
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

    function _verifyVote(uint256[4] memory pubSignals, uint256[8] calldata proof) private view returns (bool) {
        return voteVerifier.verifyProof(
            [proof[0], proof[1]], [[proof[2], proof[3]], [proof[4], proof[5]]], [proof[6], proof[7]], pubSignals
        );
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
