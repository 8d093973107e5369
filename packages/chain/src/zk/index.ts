/**
 * @packageDocumentation
 *
 * `@vain/chain/zk` — zero-knowledge proofs of vAIn's circuits (circom 2, Groth16 with snarkjs,
 * artefacts of a committed one-time setup; see circuits/README.md).
 *
 * **Update proofs** (`circuits/update/update_norm.circom`): a trainer proves that each chunk of 256
 * quantized values of its update (int16 range; the int8 codec's values fit) has squared L2 norm at
 * most a public bound and matches a public Poseidon commitment that is also bound to the job, round,
 * sender, update length and chunk index ({@link updateBinding}). An update of n values needs
 * {@link updateChunkCount}(n) = ceil(n / 256) proofs. {@link updateCommitment} computes the circuit's
 * commitment in JavaScript; {@link proveUpdate} / {@link verifyUpdate} prove and check one chunk
 * (typed errors: {@link MalformedProofError}, {@link PublicSignalsMismatchError},
 * {@link InvalidProofError}, {@link InvalidWitnessError}); {@link createUpdateProver} keeps the
 * artefacts and snarkjs' worker threads for many proofs and releases them on `close()`;
 * {@link updateProofCalldata} formats a proof for the `UpdateNormVerifier` contract.
 *
 * **Challenges** (optimistic verification): committee members check update proofs off chain, and the
 * chain checks one only when it is challenged, so honest rounds pay no verification gas. A settled
 * reward leaf of a job with proofs commits to the contribution's proof digest
 * ({@link updateProofDigestOf}: `keccak256(payloadHash ‖ chunkLeaf_0 ‖ …)`, {@link proofChunkLeaf}:
 * `keccak256(abi.encode(i, a, b, c, input))`); {@link challengeUpdateProof} sends a chunk whose proof
 * fails to the `ProofChallenges` contract, which slashes the trainer and the listed committee
 * members, or reverts `ProofIsValid` ({@link ProofIsValidError}) when the proof verifies.
 *
 * snarkjs keeps bn128 worker threads alive after a proof; this entry counts their users and ends them
 * when the last is done ({@link terminateZkThreads} ends them at once).
 *
 * @example
 * ```ts
 * import { proveUpdate, updateBinding, updateCommitment, verifyUpdate } from '@vain/chain/zk'
 *
 * const values = Int8Array.from({ length: 256 }, (_, i) => (i % 7) - 3)
 * const jobId = `0x${'11'.repeat(32)}` as const
 * const sender = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266'
 * const binding = updateBinding({ jobId, round: 1n, sender, valueCount: 256, chunkIndex: 0 })
 * const commitment = await updateCommitment(values, binding)
 * const { proof, publicSignals } = await proveUpdate(values, { bound: 2048n, binding })
 * await verifyUpdate(proof, publicSignals, { bound: 2048n, commitment, binding }) // throws if invalid
 * ```
 */

export {
  ChallengeAlreadyUpheldError,
  ChunkIndexOutOfRangeError,
  ChunkLeafMismatchError,
  LeafNotInRootError,
  ProofDigestMismatchError,
  ProofIsValidError,
} from '../errors.js'
export { type CircuitArtifacts, circuitArtifacts } from './artifacts.js'
// Optimistic on-chain checks of update proofs (ProofChallenges): the proof digest a reward leaf
// commits to, and challenges that slash a trainer and its committee for a proof that fails.
export {
  type ChallengeUpdateProofParams,
  type ChallengeUpdateProofResult,
  challengeUpdateProof,
  findInvalidUpdateChunk,
  proofChunkLeaf,
  updateProofChunkLeaves,
  updateProofDigest,
  updateProofDigestOf,
} from './challenge.js'
export {
  chunkValues,
  packUpdateValues,
  splitUpdate,
  squaredNorm,
  UPDATE_BINDING_DOMAIN,
  type UpdateBindingParams,
  type UpdateValues,
  updateBinding,
  updateChunkCount,
  updateCommitment,
} from './commitment.js'
export {
  SNARK_FIELD,
  UPDATE_BOUND_LIMIT,
  UPDATE_CHUNK_VALUES,
  UPDATE_VALUE_MAX,
  UPDATE_VALUE_MIN,
} from './constants.js'
export {
  InvalidProofError,
  InvalidWitnessError,
  MalformedProofError,
  ProverClosedError,
  PublicSignalsMismatchError,
  ZkArtifactError,
  ZkError,
} from './errors.js'
export { createUpdateProver, type UpdateProver, type UpdateProverInit } from './prover.js'
// The round's proof system (`@vain/fl` `createParticipant({ proofs })`): proven updates in the round.
export {
  decodeProofWire,
  encodeProofWire,
  peerBindingAddress,
  type RoundProofStatement,
  roundProofBinding,
  UPDATE_PROOF_WIRE_BYTES,
  type ZkUpdateProofSystem,
  zkUpdateProofSystem,
} from './round.js'
export { acquireBn128, releaseBn128, terminateZkThreads } from './threads.js'
export {
  type ExpectedUpdate,
  type Groth16Proof,
  Groth16ProofSchema,
  type ProveUpdateOptions,
  proveUpdate,
  UPDATE_CIRCUIT,
  type UpdateProof,
  type UpdateProofCalldata,
  type UpdatePublicSignals,
  UpdatePublicSignalsSchema,
  type UpdateStatement,
  updateProofCalldata,
  type VerifyUpdateOptions,
  verifyUpdate,
} from './update.js'
// Anonymous tier-weighted votes (circuits/vote/vote.circom, the Semaphore v4 design): identity,
// tier-group trees, proving and verifying off chain, and the chain calls (TierGroups, Governance).
export {
  deriveVoteIdentity,
  type ExpectedVote,
  hashPair,
  type MessageSigner,
  NotGroupMemberError,
  NullifierUsedError,
  type ProveVoteParams,
  proveVote,
  tierGroupTree,
  VOTE_IDENTITY_MESSAGE,
  VOTE_TREE_DEPTH,
  VoteGroth16ProofSchema,
  type VoteProof,
  VotePublicSignalsSchema,
  VoteSignalMismatchError,
  type VoteSupport,
  verifyVote,
  voteIdentityFromSecret,
} from './vote.js'
export {
  type AnonymousVotingDeployment,
  castAnonymousVote,
  deployAnonymousVoting,
  joinTierGroup,
  type ProveAnonymousVoteParams,
  proveAnonymousVote,
  readTierGroup,
} from './vote-chain.js'
