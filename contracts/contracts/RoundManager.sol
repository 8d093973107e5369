// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {InvalidTier, TierTooLow, ZeroAddress} from "./Errors.sol";

/// @title RoundManager
/// @notice Federated rounds on chain. An opener (OPENER_ROLE) opens a round with its committee of
/// tier-3 nodes, a quorum and a deadline, and funds its reward pool. The committee agrees off chain
/// on a result (new model hash, Merkle root of the accepted contributions with their rewards and
/// reputation gains) and each member signs it (EIP-712); anyone submits `quorum` signatures to
/// `settle`, whose gas does not depend on the number of contributors. Contributors then `claim`
/// their reward and reputation with a Merkle proof. A committee member who signed a different
/// result for a settled round has provably disagreed with the quorum: anyone can submit that
/// signature to `slashDissenter`. A round not settled by its deadline can be cancelled by anyone,
/// refunding the pool.
///
/// Rewards follow one economic model (contracts/README.md, "Rewards"): every accepted contribution
/// of a round earns an equal share of what the committee pays out, never a share by a figure the
/// trainer reports. The contract bounds every claim by that share (`amount <= totalReward /
/// contributions`), the number of claims by the result's `contributions`, and the reputation of a
/// claim by `maxReputationPerClaim` as it was when the round was opened; the claims of a round
/// never pay out more than its `totalReward`, itself at most the funded pool.
///
/// The committee earns reputation too: when a round with contributions is settled, each member
/// whose signature is submitted gains the round's `committeeReputationGain` (the governor's
/// `committeeReputationPerRound` when the round was opened), once per round. So committee work
/// keeps a member's reputation up against decay, and the genesis set of a new network (see
/// Reputation) stays in committees only as long as it settles rounds.
///
/// Merkle leaves are OpenZeppelin "standard" leaves (double keccak of the ABI encoding) of
/// `(uint256 roundId, address account, uint256 amount, uint256 reputationGain, bytes32 commitment)`.
contract RoundManager is AccessControl, ReentrancyGuard, EIP712 {
    using SafeERC20 for IERC20;

    /// @notice May open rounds.
    bytes32 public constant OPENER_ROLE = keccak256("OPENER_ROLE");
    /// @notice May change penalties and the committee tier.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Largest committee.
    uint256 public constant MAX_COMMITTEE = 64;
    bytes32 public constant RESULT_TYPEHASH = keccak256(
        "RoundResult(uint256 roundId,bytes32 modelHash,bytes32 rewardsRoot,uint256 totalReward,uint32 contributions)"
    );

    enum Status {
        None,
        Open,
        Settled,
        Cancelled
    }

    /// @notice What a committee signs for a round.
    struct RoundResult {
        uint256 roundId;
        bytes32 modelHash;
        bytes32 rewardsRoot;
        uint256 totalReward;
        uint32 contributions;
    }

    struct Round {
        bytes32 jobId;
        address funder;
        uint64 deadline;
        uint16 quorum;
        uint16 committeeSize;
        Status status;
        /// @dev Leaves of the settled result (its `contributions`): the most claims the round pays.
        uint32 contributions;
        /// @dev Claims paid so far.
        uint32 claims;
        /// @dev The most reputation one claim adds: `maxReputationPerClaim` when the round was opened.
        uint64 maxReputationGain;
        /// @dev What each signer of the settled result gains: `committeeReputationPerRound` when opened.
        uint64 committeeReputationGain;
        uint256 rewardPool;
        bytes32 resultDigest;
        bytes32 modelHash;
        bytes32 rewardsRoot;
        uint256 totalReward;
        uint256 claimed;
    }

    IERC20 public immutable token;
    IStaking public immutable staking;
    IReputation public immutable reputation;
    uint8 public committeeTier = 3;
    /// @notice The tier the caller of `openRound` (a job's creator, who funds the round) needs; 0: none.
    uint8 public creatorTier;
    /// @notice Stake taken from a committee member proven to disagree with the quorum.
    uint256 public dissentSlashAmount;
    /// @notice Reputation taken from a committee member proven to disagree with the quorum.
    uint256 public dissentReputationPenalty;
    /// @notice The most reputation one claim may add, fixed for a round when it is opened (default 10).
    uint64 public maxReputationPerClaim = 10;
    /// @notice The reputation each committee member whose signature settles a round (with at least
    /// one contribution) gains, fixed for a round when it is opened (default 10).
    uint64 public committeeReputationPerRound = 10;
    uint256 public roundCount;

    mapping(uint256 => Round) private _rounds;
    mapping(uint256 => mapping(address => bool)) private _isCommittee;
    mapping(uint256 => mapping(address => bool)) private _claimed;
    mapping(uint256 => mapping(address => bool)) private _dissentSlashed;

    event RoundOpened(
        uint256 indexed roundId,
        bytes32 indexed jobId,
        address[] committee,
        uint16 quorum,
        uint64 deadline,
        uint256 rewardPool,
        uint64 maxReputationGain
    );
    event RoundSettled(
        uint256 indexed roundId,
        bytes32 modelHash,
        bytes32 rewardsRoot,
        uint256 totalReward,
        uint32 contributions,
        uint256 signers
    );
    event RoundCancelled(uint256 indexed roundId, uint256 refund);
    event RewardClaimed(
        uint256 indexed roundId, address indexed account, uint256 amount, uint256 reputationGain, bytes32 commitment
    );
    event DissenterSlashed(uint256 indexed roundId, address indexed member, uint256 slashed, bytes32 signedDigest);
    event DissentPenaltySet(uint256 slashAmount, uint256 reputationPenalty);
    event CommitteeTierSet(uint8 tier);
    event CreatorTierSet(uint8 tier);
    event MaxReputationPerClaimSet(uint64 maxReputation);
    event CommitteeReputationPerRoundSet(uint64 reputation);

    /// @dev Committee empty, too large, or with a member twice.
    error InvalidCommittee();
    /// @dev The quorum must be a majority of the committee and at most its size.
    error InvalidQuorum(uint16 quorum, uint256 committeeSize);
    /// @dev The deadline must be in the future.
    error InvalidDeadline(uint64 deadline);
    /// @dev The round is not in the state the call needs.
    error WrongRoundStatus(uint256 roundId, Status status);
    /// @dev The round's deadline has passed.
    error RoundExpired(uint256 roundId, uint64 deadline);
    /// @dev The round's deadline has not passed yet.
    error RoundNotExpired(uint256 roundId, uint64 deadline);
    /// @dev The result is for another round.
    error RoundMismatch(uint256 expected, uint256 got);
    /// @dev The result pays out more than the round's pool.
    error RewardExceedsPool(uint256 totalReward, uint256 rewardPool);
    /// @dev Signatures must come from distinct signers in ascending address order.
    error SignersNotAscending();
    /// @dev `signer` is not on the round's committee.
    error NotCommitteeMember(uint256 roundId, address signer);
    /// @dev Fewer than `quorum` committee members signed.
    error QuorumNotReached(uint256 signers, uint16 quorum);
    /// @dev The reward was already claimed.
    error AlreadyClaimed(uint256 roundId, address account);
    /// @dev The Merkle proof does not lead to the round's root.
    error InvalidProof();
    /// @dev A result that pays rewards must have at least one contribution to pay them to.
    error NoContributions(uint256 roundId, uint256 totalReward);
    /// @dev A claim may pay at most an equal share of the round's rewards (`totalReward / contributions`).
    error RewardExceedsShare(uint256 roundId, uint256 amount, uint256 share);
    /// @dev A claim may add at most the round's `maxReputationGain`.
    error ReputationGainExceedsCap(uint256 roundId, uint256 reputationGain, uint256 cap);
    /// @dev The round's `contributions` were all claimed already.
    error ClaimsExceedContributions(uint256 roundId, uint32 contributions);
    /// @dev The signed result is the settled one: no disagreement.
    error NotADissent();
    /// @dev The member was already slashed for this round.
    error AlreadySlashed(uint256 roundId, address member);

    constructor(
        IERC20 token_,
        IStaking staking_,
        IReputation reputation_,
        uint256 dissentSlashAmount_,
        uint256 dissentReputationPenalty_,
        address admin
    ) EIP712("vAIn RoundManager", "1") {
        if (
            address(token_) == address(0) || address(staking_) == address(0) || address(reputation_) == address(0)
                || admin == address(0)
        ) revert ZeroAddress();
        token = token_;
        staking = staking_;
        reputation = reputation_;
        dissentSlashAmount = dissentSlashAmount_;
        dissentReputationPenalty = dissentReputationPenalty_;
        emit DissentPenaltySet(dissentSlashAmount_, dissentReputationPenalty_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
        _grantRole(OPENER_ROLE, admin);
    }

    // ---------------------------------------------------------------- round lifecycle

    /// @notice Opens a round and pulls `rewardPool` tokens from the caller (needs an allowance); the
    /// caller needs the OPENER role and, when `creatorTier` > 0, that tier. The round keeps the
    /// current `maxReputationPerClaim` as its cap on the reputation of a claim, and the current
    /// `committeeReputationPerRound` as what each signer of its settled result gains.
    function openRound(
        bytes32 jobId,
        address[] calldata committee,
        uint16 quorum,
        uint64 deadline,
        uint256 rewardPool
    ) external onlyRole(OPENER_ROLE) nonReentrant returns (uint256 roundId) {
        uint256 size = committee.length;
        if (size == 0 || size > MAX_COMMITTEE) revert InvalidCommittee();
        if (quorum == 0 || quorum > size || uint256(quorum) * 2 <= size) revert InvalidQuorum(quorum, size);
        if (deadline <= block.timestamp) revert InvalidDeadline(deadline);
        uint8 creatorRequired = creatorTier;
        if (creatorRequired > 0) {
            uint8 creator = reputation.tierOf(msg.sender);
            if (creator < creatorRequired) revert TierTooLow(msg.sender, creator, creatorRequired);
        }
        roundId = ++roundCount;
        uint8 required = committeeTier;
        for (uint256 i = 0; i < size; i++) {
            address member = committee[i];
            if (_isCommittee[roundId][member]) revert InvalidCommittee();
            uint8 tier = reputation.tierOf(member);
            if (tier < required) revert TierTooLow(member, tier, required);
            _isCommittee[roundId][member] = true;
        }
        Round storage r = _rounds[roundId];
        r.jobId = jobId;
        r.funder = msg.sender;
        r.deadline = deadline;
        r.quorum = quorum;
        r.committeeSize = uint16(size);
        r.status = Status.Open;
        uint64 repCap = maxReputationPerClaim;
        r.maxReputationGain = repCap;
        r.committeeReputationGain = committeeReputationPerRound;
        r.rewardPool = rewardPool;
        if (rewardPool > 0) token.safeTransferFrom(msg.sender, address(this), rewardPool);
        emit RoundOpened(roundId, jobId, committee, quorum, deadline, rewardPool, repCap);
    }

    /// @notice Settles a round with the signatures of at least `quorum` committee members over
    /// `result`, ordered by ascending signer address. Refunds the unallocated pool to the funder.
    /// A result that pays rewards needs `contributions` > 0 (else nobody could claim them). When
    /// `contributions` > 0, each signer gains the round's `committeeReputationGain` (at most 64
    /// signers: distinct committee members).
    function settle(RoundResult calldata result, bytes[] calldata signatures) external nonReentrant {
        uint256 roundId = result.roundId;
        Round storage r = _rounds[roundId];
        if (r.status != Status.Open) revert WrongRoundStatus(roundId, r.status);
        if (block.timestamp > r.deadline) revert RoundExpired(roundId, r.deadline);
        if (result.totalReward > r.rewardPool) revert RewardExceedsPool(result.totalReward, r.rewardPool);
        if (result.totalReward > 0 && result.contributions == 0) revert NoContributions(roundId, result.totalReward);
        bytes32 digest = resultDigest(result);
        address last = address(0);
        uint256 n = signatures.length;
        address[] memory signers = new address[](n);
        for (uint256 i = 0; i < n; i++) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (signer <= last) revert SignersNotAscending();
            if (!_isCommittee[roundId][signer]) revert NotCommitteeMember(roundId, signer);
            signers[i] = signer;
            last = signer;
        }
        if (n < r.quorum) revert QuorumNotReached(n, r.quorum);
        r.status = Status.Settled;
        r.contributions = result.contributions;
        r.resultDigest = digest;
        r.modelHash = result.modelHash;
        r.rewardsRoot = result.rewardsRoot;
        r.totalReward = result.totalReward;
        uint256 gain = r.committeeReputationGain;
        if (gain > 0 && result.contributions > 0) {
            for (uint256 i = 0; i < n; i++) {
                reputation.increase(signers[i], gain);
            }
        }
        uint256 refund = r.rewardPool - result.totalReward;
        if (refund > 0) token.safeTransfer(r.funder, refund);
        emit RoundSettled(roundId, result.modelHash, result.rewardsRoot, result.totalReward, result.contributions, n);
    }

    /// @notice Pays `account` its reward and reputation for a settled round. Anyone may submit;
    /// the tokens always go to `account`. Caps: `amount` at most an equal share of the round's
    /// rewards (`totalReward / contributions`), `reputationGain` at most the round's
    /// `maxReputationGain`, at most `contributions` claims, and all claims together at most `totalReward`.
    function claim(
        uint256 roundId,
        address account,
        uint256 amount,
        uint256 reputationGain,
        bytes32 commitment,
        bytes32[] calldata proof
    ) external nonReentrant {
        Round storage r = _rounds[roundId];
        if (r.status != Status.Settled) revert WrongRoundStatus(roundId, r.status);
        if (_claimed[roundId][account]) revert AlreadyClaimed(roundId, account);
        uint32 contributions = r.contributions;
        if (r.claims >= contributions) revert ClaimsExceedContributions(roundId, contributions);
        uint256 share = r.totalReward / contributions;
        if (amount > share) revert RewardExceedsShare(roundId, amount, share);
        if (reputationGain > r.maxReputationGain) {
            revert ReputationGainExceedsCap(roundId, reputationGain, r.maxReputationGain);
        }
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(roundId, account, amount, reputationGain, commitment))));
        if (!MerkleProof.verifyCalldata(proof, r.rewardsRoot, leaf)) revert InvalidProof();
        uint256 claimedAfter = r.claimed + amount;
        if (claimedAfter > r.totalReward) revert RewardExceedsPool(claimedAfter, r.totalReward);
        _claimed[roundId][account] = true;
        r.claims = r.claims + 1;
        r.claimed = claimedAfter;
        if (reputationGain > 0) reputation.increase(account, reputationGain);
        if (amount > 0) token.safeTransfer(account, amount);
        emit RewardClaimed(roundId, account, amount, reputationGain, commitment);
    }

    /// @notice Slashes a committee member of a settled round who signed a different result for it.
    function slashDissenter(RoundResult calldata signed, bytes calldata signature)
        external
        nonReentrant
        returns (uint256 slashed)
    {
        uint256 roundId = signed.roundId;
        Round storage r = _rounds[roundId];
        if (r.status != Status.Settled) revert WrongRoundStatus(roundId, r.status);
        bytes32 digest = resultDigest(signed);
        if (digest == r.resultDigest) revert NotADissent();
        address member = ECDSA.recover(digest, signature);
        if (!_isCommittee[roundId][member]) revert NotCommitteeMember(roundId, member);
        if (_dissentSlashed[roundId][member]) revert AlreadySlashed(roundId, member);
        _dissentSlashed[roundId][member] = true;
        uint256 amount = dissentSlashAmount;
        if (amount > 0) slashed = staking.slash(member, amount, keccak256(abi.encode("dissent", roundId)));
        reputation.decrease(member, dissentReputationPenalty);
        emit DissenterSlashed(roundId, member, slashed, digest);
    }

    /// @notice Cancels a round whose deadline passed unsettled, refunding its pool to the funder.
    function cancelExpired(uint256 roundId) external nonReentrant {
        Round storage r = _rounds[roundId];
        if (r.status != Status.Open) revert WrongRoundStatus(roundId, r.status);
        if (block.timestamp <= r.deadline) revert RoundNotExpired(roundId, r.deadline);
        r.status = Status.Cancelled;
        uint256 refund = r.rewardPool;
        if (refund > 0) token.safeTransfer(r.funder, refund);
        emit RoundCancelled(roundId, refund);
    }

    // ---------------------------------------------------------------- privileged

    /// @notice Sets the stake and reputation a proven dissenter loses.
    function setDissentPenalty(uint256 slashAmount, uint256 reputationPenalty) external onlyRole(GOVERNOR_ROLE) {
        dissentSlashAmount = slashAmount;
        dissentReputationPenalty = reputationPenalty;
        emit DissentPenaltySet(slashAmount, reputationPenalty);
    }

    /// @notice Sets the most reputation one claim may add, for rounds opened from now on (rounds
    /// already open keep the cap they were opened with).
    function setMaxReputationPerClaim(uint64 maxReputation) external onlyRole(GOVERNOR_ROLE) {
        maxReputationPerClaim = maxReputation;
        emit MaxReputationPerClaimSet(maxReputation);
    }

    /// @notice Sets the reputation each signer of a settled round gains, for rounds opened from now
    /// on (rounds already open keep what they were opened with); 0: committee work earns none.
    function setCommitteeReputationPerRound(uint64 reputationGain) external onlyRole(GOVERNOR_ROLE) {
        committeeReputationPerRound = reputationGain;
        emit CommitteeReputationPerRoundSet(reputationGain);
    }

    /// @notice Sets the tier committee members need (1..3).
    function setCommitteeTier(uint8 tier) external onlyRole(GOVERNOR_ROLE) {
        if (tier == 0 || tier > 3) revert InvalidTier(tier);
        committeeTier = tier;
        emit CommitteeTierSet(tier);
    }

    /// @notice Sets the tier a job's creator needs to open (and fund) rounds: 0 (none) or 1..3.
    /// Nodes read it to decide which announced jobs they take on.
    function setCreatorTier(uint8 tier) external onlyRole(GOVERNOR_ROLE) {
        if (tier > 3) revert InvalidTier(tier);
        creatorTier = tier;
        emit CreatorTierSet(tier);
    }

    // ---------------------------------------------------------------- views

    /// @notice The EIP-712 digest committee members sign for `result`.
    function resultDigest(RoundResult calldata result) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    RESULT_TYPEHASH,
                    result.roundId,
                    result.modelHash,
                    result.rewardsRoot,
                    result.totalReward,
                    result.contributions
                )
            )
        );
    }

    function roundOf(uint256 roundId) external view returns (Round memory) {
        return _rounds[roundId];
    }

    function isCommitteeMember(uint256 roundId, address node) external view returns (bool) {
        return _isCommittee[roundId][node];
    }

    function isClaimed(uint256 roundId, address account) external view returns (bool) {
        return _claimed[roundId][account];
    }

    function isDissentSlashed(uint256 roundId, address member) external view returns (bool) {
        return _dissentSlashed[roundId][member];
    }
}
