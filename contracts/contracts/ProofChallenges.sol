// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IReputation} from "./interfaces/IReputation.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IUpdateNormVerifier} from "./interfaces/IUpdateNormVerifier.sol";
import {RoundManager} from "./RoundManager.sol";
import {ZeroAddress} from "./Errors.sol";

/// @title ProofChallenges
/// @notice Optimistic on-chain check of update proofs. For a job that requires proofs, each trainer
/// attaches a Groth16 proof (circuits/update/update_norm.circom) per chunk of 256 values of its
/// update; the committee verifies them off chain and settles, in the round's rewards root, a leaf
/// whose `commitment` is the contribution's proof digest:
///
///     chunkLeaf_i = keccak256(abi.encode(uint256 i, uint256[2] a, uint256[2][2] b, uint256[2] c, uint256[3] input))
///     proofDigest = keccak256(abi.encodePacked(bytes32 payloadHash, bytes32[] chunkLeaves))
///
/// (a, b, c, input: the proof in `UpdateNormVerifier.verifyProof`'s form; payloadHash: sha2-256 of
/// the encoded update). Honest rounds pay no verification gas: `settle` and `claim` are unchanged.
/// Anyone who holds a settled leaf's proofs (they travel with the update) and finds one that does
/// not verify calls `challenge` with the leaf's Merkle proof, the chunk leaves and the failing
/// chunk's proof. The contract checks that the leaf is in the round's root and commits to that
/// proof, then runs the verifier: a proof that verifies reverts the challenge (`ProofIsValid`,
/// nothing changes); a proof that fails slashes the trainer and every listed member of the round's
/// committee, which accepted it, by the governor's penalties (stake through Staking.slash,
/// reputation through Reputation.decrease).
///
/// A trainer is slashed at most once per round, a committee member at most once per round
/// (whatever the number of invalid leaves it accepted).
///
/// The round manager does not record which members signed a settled result, so the challenger lists
/// the members to slash (the signers: their signatures are in the `settle` transaction). The list
/// must hold at least the round's quorum of distinct members (ascending addresses): a quorum that
/// settles a fabricated leaf to get a trainer slashed cannot leave itself out, since a quorum is a
/// majority and any quorum-sized list holds at least one of its members.
///
/// @dev Needs Staking's SLASHER_ROLE and Reputation's UPDATER_ROLE.
contract ProofChallenges is AccessControl, ReentrancyGuard {
    /// @notice May change the penalties.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");
    /// @notice Gas forwarded to the verifier (about 206k used); a challenge needs at least this
    /// much left when it calls the verifier, so that a proof can never "fail" by running out of gas.
    uint256 public constant VERIFY_GAS = 300_000;

    RoundManager public immutable rounds;
    IUpdateNormVerifier public immutable verifier;
    IStaking public immutable staking;
    IReputation public immutable reputation;

    /// @notice Stake taken from a trainer whose settled proof does not verify.
    uint256 public trainerSlashAmount;
    /// @notice Reputation taken from a trainer whose settled proof does not verify.
    uint256 public trainerReputationPenalty;
    /// @notice Stake taken from each committee member of a round that settled a proof that does not verify.
    uint256 public committeeSlashAmount;
    /// @notice Reputation taken from each such committee member.
    uint256 public committeeReputationPenalty;

    mapping(uint256 => mapping(address => bool)) private _upheld;
    mapping(uint256 => mapping(address => bool)) private _committeeSlashed;

    /// @notice A leaf's proof `chunkIndex` did not verify: `account` was slashed `slashed` tokens.
    event ChallengeUpheld(
        uint256 indexed roundId,
        address indexed account,
        address indexed challenger,
        uint256 chunkIndex,
        bytes32 commitment,
        uint256 slashed
    );
    /// @notice A member of the round's committee, which settled the invalid proof, was slashed.
    event CommitteeMemberSlashed(uint256 indexed roundId, address indexed member, uint256 slashed);
    event PenaltiesSet(
        uint256 trainerSlashAmount,
        uint256 trainerReputationPenalty,
        uint256 committeeSlashAmount,
        uint256 committeeReputationPenalty
    );

    /// @dev The round is not settled (status: RoundManager.Status).
    error RoundNotSettled(uint256 roundId, uint8 status);
    /// @dev The leaf and its Merkle proof do not lead to the round's rewards root.
    error LeafNotInRoot(uint256 roundId, address account);
    /// @dev The leaf's commitment is not the digest of `payloadHash` and the chunk leaves given.
    error ProofDigestMismatch(bytes32 commitment, bytes32 digest);
    /// @dev `chunkIndex` is not below the number of chunk leaves.
    error ChunkIndexOutOfRange(uint256 chunkIndex, uint256 chunks);
    /// @dev The chunk leaf at `chunkIndex` is not the hash of the proof given.
    error ChunkLeafMismatch(uint256 chunkIndex, bytes32 chunkLeaf, bytes32 computed);
    /// @dev A challenge of this account's leaf in this round was upheld already.
    error AlreadyUpheld(uint256 roundId, address account);
    /// @dev `member` is not on the round's committee.
    error NotCommitteeMember(uint256 roundId, address member);
    /// @dev The committee list must be in ascending address order, without repeats.
    error CommitteeNotAscending();
    /// @dev The committee list must hold at least the round's quorum of members.
    error CommitteeBelowQuorum(uint256 listed, uint16 quorum);
    /// @dev The proof verifies: the challenge fails and nothing changes.
    error ProofIsValid();
    /// @dev Too little gas left to run the verifier (`required`): send the challenge with more gas.
    error InsufficientGasForVerification(uint256 gasLeft, uint256 required);

    constructor(
        RoundManager rounds_,
        IUpdateNormVerifier verifier_,
        IStaking staking_,
        IReputation reputation_,
        uint256[4] memory penalties,
        address admin
    ) {
        if (
            address(rounds_) == address(0) || address(verifier_) == address(0) || address(staking_) == address(0)
                || address(reputation_) == address(0) || admin == address(0)
        ) revert ZeroAddress();
        rounds = rounds_;
        verifier = verifier_;
        staking = staking_;
        reputation = reputation_;
        _setPenalties(penalties[0], penalties[1], penalties[2], penalties[3]);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(GOVERNOR_ROLE, admin);
    }

    /// @notice A settled reward leaf (the fields after `roundId`).
    struct Leaf {
        address account;
        uint256 amount;
        uint256 reputationGain;
        bytes32 commitment;
    }

    /// @notice One chunk's Groth16 proof in `UpdateNormVerifier.verifyProof`'s form.
    struct ChunkProof {
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
        uint256[3] input;
    }

    /// @notice Challenges chunk `chunkIndex` of a settled leaf's proofs. Reverts `ProofIsValid` if
    /// the proof verifies; otherwise slashes `leaf.account` and each of `committee` (at least the
    /// round's quorum of its committee members, ascending; those already slashed for the round are
    /// skipped) and returns the stake taken from the trainer and from the committee in total.
    function challenge(
        uint256 roundId,
        Leaf calldata leaf,
        bytes32[] calldata leafProof,
        bytes32 payloadHash,
        bytes32[] calldata chunkLeaves,
        uint256 chunkIndex,
        ChunkProof calldata proof,
        address[] calldata committee
    ) external nonReentrant returns (uint256 trainerSlashed, uint256 committeeSlashed) {
        _checkLeaf(roundId, leaf, leafProof, committee);
        _checkChunk(leaf.commitment, payloadHash, chunkLeaves, chunkIndex, proof);
        if (_verifies(proof)) revert ProofIsValid();
        return _uphold(roundId, leaf, chunkIndex, committee);
    }

    // ---------------------------------------------------------------- privileged

    /// @notice Sets the stake and reputation taken from a trainer whose settled proof fails, and
    /// from each committee member that settled it.
    function setPenalties(
        uint256 trainerSlash,
        uint256 trainerReputation,
        uint256 committeeSlash,
        uint256 committeeReputation
    ) external onlyRole(GOVERNOR_ROLE) {
        _setPenalties(trainerSlash, trainerReputation, committeeSlash, committeeReputation);
    }

    // ---------------------------------------------------------------- views

    /// @notice `keccak256(abi.encode(uint256 i, a, b, c, input))`: the leaf of chunk `i`'s proof.
    function chunkLeaf(uint256 i, ChunkProof calldata proof) public pure returns (bytes32) {
        return keccak256(abi.encode(i, proof.a, proof.b, proof.c, proof.input));
    }

    /// @notice `keccak256(abi.encodePacked(payloadHash, chunkLeaves))`: what a proof-carrying leaf commits to.
    function proofDigest(bytes32 payloadHash, bytes32[] calldata chunkLeaves) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(payloadHash, chunkLeaves));
    }

    /// @notice Whether a challenge of `account`'s leaf in `roundId` was upheld.
    function isUpheld(uint256 roundId, address account) external view returns (bool) {
        return _upheld[roundId][account];
    }

    /// @notice Whether `member` was slashed as a committee member of `roundId` for an invalid proof.
    function isCommitteeSlashed(uint256 roundId, address member) external view returns (bool) {
        return _committeeSlashed[roundId][member];
    }

    // ---------------------------------------------------------------- internal

    /// @dev The round is settled, the leaf not challenged successfully yet and in the round's root,
    /// the committee list ascending and at least the round's quorum long.
    function _checkLeaf(
        uint256 roundId,
        Leaf calldata leaf,
        bytes32[] calldata leafProof,
        address[] calldata committee
    ) private view {
        RoundManager.Round memory r = rounds.roundOf(roundId);
        if (r.status != RoundManager.Status.Settled) revert RoundNotSettled(roundId, uint8(r.status));
        if (_upheld[roundId][leaf.account]) revert AlreadyUpheld(roundId, leaf.account);
        if (committee.length < r.quorum) revert CommitteeBelowQuorum(committee.length, r.quorum);
        for (uint256 i = 1; i < committee.length; i++) {
            if (committee[i] <= committee[i - 1]) revert CommitteeNotAscending();
        }
        bytes32 node = keccak256(
            bytes.concat(
                keccak256(abi.encode(roundId, leaf.account, leaf.amount, leaf.reputationGain, leaf.commitment))
            )
        );
        if (!MerkleProof.verifyCalldata(leafProof, r.rewardsRoot, node)) revert LeafNotInRoot(roundId, leaf.account);
    }

    /// @dev `commitment` is the digest of the chunk leaves, and chunk `chunkIndex`'s leaf that of `proof`.
    function _checkChunk(
        bytes32 commitment,
        bytes32 payloadHash,
        bytes32[] calldata chunkLeaves,
        uint256 chunkIndex,
        ChunkProof calldata proof
    ) private pure {
        bytes32 digest = proofDigest(payloadHash, chunkLeaves);
        if (digest != commitment) revert ProofDigestMismatch(commitment, digest);
        if (chunkIndex >= chunkLeaves.length) revert ChunkIndexOutOfRange(chunkIndex, chunkLeaves.length);
        bytes32 computed = chunkLeaf(chunkIndex, proof);
        if (chunkLeaves[chunkIndex] != computed) revert ChunkLeafMismatch(chunkIndex, chunkLeaves[chunkIndex], computed);
    }

    /// @dev Runs the verifier with VERIFY_GAS: a call that runs out of gas inside the verifier
    /// returns false, which must never pass as a failed proof.
    function _verifies(ChunkProof calldata proof) private view returns (bool) {
        uint256 required = VERIFY_GAS + VERIFY_GAS / 63 + 5_000;
        if (gasleft() < required) revert InsufficientGasForVerification(gasleft(), required);
        return verifier.verifyProof{gas: VERIFY_GAS}(proof.a, proof.b, proof.c, proof.input);
    }

    /// @dev Records the upheld challenge and slashes the trainer and the listed committee members.
    function _uphold(uint256 roundId, Leaf calldata leaf, uint256 chunkIndex, address[] calldata committee)
        private
        returns (uint256 trainerSlashed, uint256 committeeSlashed)
    {
        _upheld[roundId][leaf.account] = true;
        trainerSlashed = _penalize(leaf.account, trainerSlashAmount, trainerReputationPenalty, roundId);
        emit ChallengeUpheld(roundId, leaf.account, msg.sender, chunkIndex, leaf.commitment, trainerSlashed);
        committeeSlashed = _penalizeCommittee(roundId, committee);
    }

    /// @dev Slashes each listed member of the round's committee not slashed for it yet (a member
    /// slashed for another leaf of the round still counts toward the quorum).
    function _penalizeCommittee(uint256 roundId, address[] calldata committee) private returns (uint256 total) {
        uint256 slashAmount = committeeSlashAmount;
        uint256 reputationPenalty = committeeReputationPenalty;
        for (uint256 i = 0; i < committee.length; i++) {
            address member = committee[i];
            if (!rounds.isCommitteeMember(roundId, member)) revert NotCommitteeMember(roundId, member);
            if (_committeeSlashed[roundId][member]) continue;
            _committeeSlashed[roundId][member] = true;
            uint256 slashed = _penalize(member, slashAmount, reputationPenalty, roundId);
            total += slashed;
            emit CommitteeMemberSlashed(roundId, member, slashed);
        }
    }

    function _penalize(address node, uint256 amount, uint256 reputationPenalty, uint256 roundId)
        private
        returns (uint256 slashed)
    {
        if (amount > 0) slashed = staking.slash(node, amount, keccak256(abi.encode("invalid-proof", roundId)));
        reputation.decrease(node, reputationPenalty);
    }

    function _setPenalties(uint256 trainerSlash, uint256 trainerReputation, uint256 committeeSlash, uint256 committeeReputation)
        private
    {
        trainerSlashAmount = trainerSlash;
        trainerReputationPenalty = trainerReputation;
        committeeSlashAmount = committeeSlash;
        committeeReputationPenalty = committeeReputation;
        emit PenaltiesSet(trainerSlash, trainerReputation, committeeSlash, committeeReputation);
    }
}
