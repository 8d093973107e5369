/**
 * Merkle trees of a round's accepted contributions and their rewards, matching
 * `RoundManager.claim`: OpenZeppelin "standard" leaves (double keccak256 of the ABI encoding)
 * of `(uint256 roundId, address account, uint256 amount, uint256 reputationGain, bytes32 commitment)`,
 * built with `@openzeppelin/merkle-tree`. The committee settles only the root, so settlement gas
 * does not grow with the number of contributors; each contributor claims with its proof.
 *
 * @example
 * ```ts
 * import { buildRewardTree } from '@vain/chain'
 *
 * const tree = buildRewardTree(roundId, [
 *   { account: alice, amount: parseEther('6'), reputationGain: 10n, commitment: aliceUpdateHash },
 *   { account: bob, amount: parseEther('3'), reputationGain: 5n, commitment: bobUpdateHash },
 * ])
 * tree.root         // goes on chain in the round result
 * tree.claimFor(bob) // { roundId, account, amount, reputationGain, commitment, proof }
 * ```
 * @module
 */
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { type Address, getAddress, type Hex, isAddress, isHex } from 'viem'
import { InvalidInputError } from './errors.js'

/** The leaf encoding, as in `RoundManager`. */
export const REWARD_LEAF_ENCODING = ['uint256', 'address', 'uint256', 'uint256', 'bytes32'] as const

/**
 * One leaf of a round's reward tree: an accepted contribution's account, reward and commitment.
 *
 * @example
 * ```ts
 * const leaf: RewardLeaf = { account, amount: parseEther('6'), reputationGain: 10n, commitment: updateHash }
 * ```
 */
export interface RewardLeaf {
  account: Address
  /** Reward in token wei. */
  amount: bigint
  /** Reputation added when claimed. */
  reputationGain: bigint
  /** Commitment of the accepted update (e.g. its hash). */
  commitment: Hex
}

/** Everything `RoundManager.claim` needs (from {@link RewardTree.claimFor}). */
export interface RewardClaim extends RewardLeaf {
  roundId: bigint
  proof: Hex[]
}

type Leaf = [bigint, Address, bigint, bigint, Hex]

/** A round's reward tree (from {@link buildRewardTree} or {@link loadRewardTree}). */
export interface RewardTree {
  readonly roundId: bigint
  /** The root to settle. */
  readonly root: Hex
  /** Sum of all rewards (the result's `totalReward`). */
  readonly totalReward: bigint
  /** Number of leaves (the result's `contributions`). */
  readonly size: number
  readonly leaves: readonly RewardLeaf[]
  /** The claim of `account`; throws {@link InvalidInputError} if it has none. */
  claimFor(account: Address): RewardClaim
  /** Every claim, in tree order. */
  claims(): RewardClaim[]
  /** A JSON-safe dump that {@link loadRewardTree} reads back (to hand out proofs). */
  dump(): RewardTreeDump
}

/** Serialized {@link RewardTree} (from {@link RewardTree.dump}). */
export interface RewardTreeDump {
  format: 'vain-rewards-v1'
  roundId: string
  tree: ReturnType<StandardMerkleTree<Leaf>['dump']>
}

/**
 * Builds the reward tree of `roundId`. Each account may appear once; amounts and gains must be
 * non-negative. At least one leaf is needed.
 *
 * @throws {@link InvalidInputError} on a duplicate account, a negative amount, a bad address or commitment.
 * @example
 * ```ts
 * const tree = buildRewardTree(roundId, [{ account, amount: parseEther('1'), reputationGain: 10n, commitment }])
 * ```
 */
export function buildRewardTree(roundId: bigint, rewardLeaves: readonly RewardLeaf[]): RewardTree {
  if (rewardLeaves.length === 0) throw new InvalidInputError('a reward tree needs at least one contribution')
  const seen = new Set<string>()
  const leaves: Leaf[] = rewardLeaves.map((c, i) => {
    if (!isAddress(c.account)) throw new InvalidInputError(`contribution ${i}: invalid account ${String(c.account)}`)
    const account = getAddress(c.account)
    if (seen.has(account)) throw new InvalidInputError(`contribution ${i}: ${account} appears twice`)
    seen.add(account)
    if (c.amount < 0n || c.reputationGain < 0n) throw new InvalidInputError(`contribution ${i}: negative amount`)
    if (!isHex(c.commitment) || c.commitment.length !== 66) {
      throw new InvalidInputError(`contribution ${i}: commitment must be 32 bytes of hex`)
    }
    return [roundId, account, c.amount, c.reputationGain, c.commitment]
  })
  return wrap(roundId, StandardMerkleTree.of(leaves, [...REWARD_LEAF_ENCODING]))
}

/**
 * Reads back a {@link RewardTreeDump} (e.g. received from a peer), checking its format and that
 * every leaf is for the dump's round.
 *
 * @throws {@link InvalidInputError} when the dump is malformed.
 * @example
 * ```ts
 * const tree = loadRewardTree(JSON.parse(await readFile('rewards.json', 'utf8')))
 * ```
 */
export function loadRewardTree(dump: unknown): RewardTree {
  const d = dump as Partial<RewardTreeDump> | null
  if (d === null || typeof d !== 'object' || d.format !== 'vain-rewards-v1' || typeof d.roundId !== 'string') {
    throw new InvalidInputError('not a vAIn reward tree dump (format vain-rewards-v1)')
  }
  let tree: StandardMerkleTree<Leaf>
  try {
    tree = StandardMerkleTree.load(d.tree as any)
    tree.validate()
  } catch (err) {
    throw new InvalidInputError('invalid reward tree dump', { cause: err })
  }
  if (JSON.stringify((d.tree as any)?.leafEncoding) !== JSON.stringify(REWARD_LEAF_ENCODING)) {
    throw new InvalidInputError('reward tree dump has the wrong leaf encoding')
  }
  const roundId = BigInt(d.roundId)
  const normalized = [...tree.entries()].map(([, v]) => v)
  for (const v of normalized) {
    if (BigInt(v[0]) !== roundId) throw new InvalidInputError('reward tree dump mixes rounds')
  }
  return wrap(roundId, tree)
}

function wrap(roundId: bigint, tree: StandardMerkleTree<Leaf>): RewardTree {
  const entries = [...tree.entries()].map(([index, v]) => ({
    index,
    leaf: {
      account: getAddress(v[1]),
      amount: BigInt(v[2]),
      reputationGain: BigInt(v[3]),
      commitment: v[4],
    } satisfies RewardLeaf,
  }))
  const byAccount = new Map(entries.map((e) => [e.leaf.account, e]))
  const claim = (e: (typeof entries)[number]): RewardClaim => ({
    roundId,
    ...e.leaf,
    proof: tree.getProof(e.index) as Hex[],
  })
  return {
    roundId,
    root: tree.root as Hex,
    totalReward: entries.reduce((sum, e) => sum + e.leaf.amount, 0n),
    size: entries.length,
    leaves: entries.map((e) => e.leaf),
    claimFor(account) {
      const e = byAccount.get(getAddress(account))
      if (e === undefined) throw new InvalidInputError(`${account} has no reward in round ${roundId}`)
      return claim(e)
    },
    claims: () => entries.map(claim),
    dump: () => ({
      format: 'vain-rewards-v1',
      roundId: roundId.toString(),
      tree: JSON.parse(JSON.stringify(tree.dump(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v))),
    }),
  }
}
