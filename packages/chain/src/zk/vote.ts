/**
 * Anonymous tier-weighted votes (the Semaphore v4 design, `circuits/vote/vote.circom` at depth 16):
 * a node's vote identity, its tier group's lean incremental Merkle tree, and proving / verifying a
 * vote off chain. The chain side is in `vote-chain.ts`.
 * @module
 */
import { readFileSync } from 'node:fs'
import { Identity } from '@semaphore-protocol/identity'
import { LeanIMT } from '@zk-kit/lean-imt'
import { poseidon2 } from 'poseidon-lite'
import type { Hex } from 'viem'
import { hexToBytes, keccak256 } from 'viem'
import { z } from 'zod'
import { type CircuitArtifacts, circuitArtifacts } from './artifacts.js'
import { SNARK_FIELD as FIELD } from './constants.js'
import { InvalidProofError, MalformedProofError, ZkError } from './errors.js'
import { acquireBn128, releaseBn128 } from './threads.js'

/** The vote circuit's maximum tree depth: a tier group holds at most 2^16 members. */
export const VOTE_TREE_DEPTH = 16

/** The message a node's key signs to derive its vote identity (never the raw key). */
export const VOTE_IDENTITY_MESSAGE = 'vAIn anonymous-vote identity v1'

/** A vote: 0 against, 1 for, 2 abstain (Governance's `Support`). */
export type VoteSupport = 0 | 1 | 2

/** The node is not in the tier group it tried to prove membership of. */
export class NotGroupMemberError extends ZkError {
  static override name = 'NotGroupMemberError'
  override name = 'NotGroupMemberError'
}

/** A vote proof's public signals are not the ones expected (another root, scope, vote or nullifier). */
export class VoteSignalMismatchError extends ZkError {
  static override name = 'VoteSignalMismatchError'
  override name = 'VoteSignalMismatchError'
  /** Which public signal differs. */
  readonly signal: 'merkleRoot' | 'nullifier' | 'message' | 'scope'
  constructor(signal: 'merkleRoot' | 'nullifier' | 'message' | 'scope', shortMessage: string) {
    super(shortMessage)
    this.signal = signal
  }
}

/** This nullifier already voted on the proposal (checked on chain before sending). */
export class NullifierUsedError extends ZkError {
  static override name = 'NullifierUsedError'
  override name = 'NullifierUsedError'
}

const fieldString = z
  .string()
  .regex(/^\d{1,78}$/, 'a decimal field element')
  .refine((s) => BigInt(s) < FIELD, 'below the field modulus')

/** A snarkjs Groth16 proof as JSON (zod schema). */
export const VoteGroth16ProofSchema = z.object({
  pi_a: z.tuple([fieldString, fieldString, fieldString]),
  pi_b: z.tuple([
    z.tuple([fieldString, fieldString]),
    z.tuple([fieldString, fieldString]),
    z.tuple([fieldString, fieldString]),
  ]),
  pi_c: z.tuple([fieldString, fieldString, fieldString]),
  protocol: z.literal('groth16'),
  curve: z.literal('bn128'),
})

/** The vote circuit's public signals: `[merkleRoot, nullifier, message, scope]` (decimal strings). */
export const VotePublicSignalsSchema = z.tuple([fieldString, fieldString, fieldString, fieldString])

/** A proven anonymous vote, with what Governance.castAnonymousVote takes. */
export interface VoteProof {
  proof: z.infer<typeof VoteGroth16ProofSchema>
  publicSignals: [string, string, string, string]
  merkleRoot: bigint
  nullifier: bigint
  message: bigint
  scope: bigint
  /** The proof in the Solidity verifier's order: a.x, a.y, b.x1, b.x0, b.y1, b.y0, c.x, c.y. */
  calldata: readonly [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint]
}

/** Something that signs a message with a node's key (a viem account or wallet client). */
export interface MessageSigner {
  signMessage(args: { message: string }): Promise<Hex>
}

/**
 * Derives a node's Semaphore identity from a signature by its key over
 * {@link VOTE_IDENTITY_MESSAGE} and the context (chain id and TierGroups address): the identity's
 * private key is keccak256 of the signature, never the node key itself. ECDSA signatures of viem's
 * local accounts are deterministic (RFC 6979), so a node always derives the same identity; another
 * deployment gives another identity.
 *
 * @example
 * ```ts
 * import { privateKeyToAccount } from 'viem/accounts'
 * import { deriveVoteIdentity } from '@vain/chain/zk'
 * const identity = await deriveVoteIdentity(privateKeyToAccount(key), { chainId: 31337, tierGroups })
 * identity.commitment // what TierGroups.join takes
 * ```
 */
export async function deriveVoteIdentity(
  signer: MessageSigner,
  context: { chainId: number; tierGroups: string },
): Promise<Identity> {
  const message = `${VOTE_IDENTITY_MESSAGE}\nchain ${context.chainId}\ntier groups ${context.tierGroups.toLowerCase()}`
  const signature = await signer.signMessage({ message })
  return voteIdentityFromSecret(keccak256(signature))
}

/** A vote identity from 32 secret bytes (e.g. from {@link deriveVoteIdentity}, or for tests). */
export function voteIdentityFromSecret(secret: Hex): Identity {
  const bytes = hexToBytes(secret)
  if (bytes.length !== 32) throw new MalformedProofError('a vote identity secret is 32 bytes')
  return new Identity(bytes)
}

/** Poseidon(2), the lean IMT's hash in the circuit and in TierGroups. */
export function hashPair(a: bigint, b: bigint): bigint {
  return poseidon2([a, b])
}

/**
 * A tier group's tree from its leaves in insertion order (0 for a removed member), as TierGroups
 * holds it on chain.
 *
 * @example
 * ```ts
 * const group = tierGroupTree([alice.commitment, bob.commitment])
 * group.root // equals TierGroups.root(tier)
 * ```
 */
export function tierGroupTree(leaves: readonly bigint[] = []): LeanIMT<bigint> {
  const tree = new LeanIMT<bigint>(hashPair)
  // insert one by one: insertMany refuses zeros, and a removed member is a zero leaf
  for (const leaf of leaves) {
    if (leaf === 0n) {
      tree.insert(1n)
      tree.update(tree.size - 1, 0n)
    } else tree.insert(leaf)
  }
  return tree
}

/** Inputs of {@link proveVote}. */
export interface ProveVoteParams {
  identity: Identity
  /** The voter's tier group as it was at the proposal's snapshot. */
  group: LeanIMT<bigint>
  /** Governance.voteScope(proposalId). */
  scope: bigint
  /** The vote: 0 against, 1 for, 2 abstain. */
  support: VoteSupport
  artifacts?: CircuitArtifacts
}

/**
 * Proves that `identity` is a member of `group` and votes `support` in `scope`, without saying which
 * member. The nullifier is Poseidon(scope, secret): one per identity and proposal.
 *
 * @throws NotGroupMemberError when the identity's commitment is not in the group.
 * @example
 * ```ts
 * const vote = await proveVote({ identity, group, scope, support: 1 })
 * await governance.write.castAnonymousVote([proposalId, 3, 1, vote.nullifier, vote.calldata])
 * ```
 */
export async function proveVote(params: ProveVoteParams): Promise<VoteProof> {
  const { identity, group, scope, support } = params
  if (![0, 1, 2].includes(support)) throw new MalformedProofError(`support must be 0, 1 or 2, not ${support}`)
  if (scope < 0n || scope >= FIELD) throw new MalformedProofError('the scope must be a field element')
  const index = group.indexOf(identity.commitment)
  if (index < 0) throw new NotGroupMemberError('the identity commitment is not in this tier group')
  const merkle = group.generateProof(index)
  if (merkle.siblings.length > VOTE_TREE_DEPTH) {
    throw new NotGroupMemberError(`the group is deeper than the circuit's ${VOTE_TREE_DEPTH} levels`)
  }
  const siblings = [...merkle.siblings, ...Array(VOTE_TREE_DEPTH - merkle.siblings.length).fill(0n)]
  const input = {
    secret: identity.secretScalar,
    merkleProofLength: merkle.siblings.length,
    merkleProofIndex: merkle.index,
    merkleProofSiblings: siblings,
    message: BigInt(support),
    scope,
  }
  const artifacts = params.artifacts ?? circuitArtifacts('vote')
  const snarkjs = (await import('snarkjs')) as any
  await acquireBn128()
  try {
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(input, artifacts.wasm, artifacts.zkey)
    return toVoteProof(proof, publicSignals)
  } finally {
    await releaseBn128()
  }
}

/** What {@link verifyVote} checks the public signals against; each field is optional. */
export interface ExpectedVote {
  merkleRoot?: bigint
  nullifier?: bigint
  support?: VoteSupport
  scope?: bigint
}

/**
 * Verifies a vote proof off chain (snarkjs, the committed verification key) and checks its public
 * signals against `expected`. Returns the parsed vote.
 *
 * @throws MalformedProofError for anything not shaped like a Groth16 proof and 4 field elements;
 * VoteSignalMismatchError when a signal differs from `expected`; InvalidProofError when the proof
 * does not verify.
 * @example
 * ```ts
 * await verifyVote(vote.proof, vote.publicSignals, { merkleRoot: root, scope, support: 1 })
 * ```
 */
export async function verifyVote(
  proof: unknown,
  publicSignals: unknown,
  expected: ExpectedVote = {},
  artifacts: CircuitArtifacts = circuitArtifacts('vote'),
): Promise<VoteProof> {
  const p = VoteGroth16ProofSchema.safeParse(proof)
  if (!p.success) throw new MalformedProofError(`malformed vote proof: ${p.error.issues[0]?.message ?? ''}`)
  const s = VotePublicSignalsSchema.safeParse(publicSignals)
  if (!s.success) throw new MalformedProofError(`malformed public signals: ${s.error.issues[0]?.message ?? ''}`)
  const vote = toVoteProof(p.data, s.data)
  const check = (signal: VoteSignalMismatchError['signal'], got: bigint, want: bigint | undefined) => {
    if (want !== undefined && got !== want) {
      throw new VoteSignalMismatchError(signal, `the proof's ${signal} is ${got}, expected ${want}`)
    }
  }
  check('merkleRoot', vote.merkleRoot, expected.merkleRoot)
  check('nullifier', vote.nullifier, expected.nullifier)
  check('message', vote.message, expected.support === undefined ? undefined : BigInt(expected.support))
  check('scope', vote.scope, expected.scope)
  if (vote.message > 2n) throw new VoteSignalMismatchError('message', `the vote ${vote.message} is not 0, 1 or 2`)
  const vkey = JSON.parse(readFileSync(artifacts.vkey, 'utf8'))
  const snarkjs = (await import('snarkjs')) as any
  await acquireBn128()
  let ok: boolean
  try {
    ok = await snarkjs.groth16.verify(vkey, s.data, p.data)
  } catch (err) {
    throw new MalformedProofError('the proof is not made of curve points', { cause: err })
  } finally {
    await releaseBn128()
  }
  if (!ok) throw new InvalidProofError('the vote proof does not verify')
  return vote
}

function toVoteProof(proof: z.infer<typeof VoteGroth16ProofSchema>, signals: readonly string[]): VoteProof {
  const [merkleRoot, nullifier, message, scope] = signals.map(BigInt) as [bigint, bigint, bigint, bigint]
  const b = proof.pi_b
  return {
    proof,
    publicSignals: [signals[0], signals[1], signals[2], signals[3]] as [string, string, string, string],
    merkleRoot,
    nullifier,
    message,
    scope,
    calldata: [
      BigInt(proof.pi_a[0]),
      BigInt(proof.pi_a[1]),
      BigInt(b[0][1]),
      BigInt(b[0][0]),
      BigInt(b[1][1]),
      BigInt(b[1][0]),
      BigInt(proof.pi_c[0]),
      BigInt(proof.pi_c[1]),
    ],
  }
}
