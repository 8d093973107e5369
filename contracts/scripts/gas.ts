// Prints the gas used per vAIn operation, measured on Hardhat's in-process network:
//   pnpm --filter @vain/contracts gas
// Settling a round commits only a Merkle root, so its gas must not depend on the number of
// contributors (10 / 100 / 1,000 below); a claim's gas grows with log2(contributors) (proof length).
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import { type Address, encodeFunctionData, type Hex, keccak256, parseEther, toHex } from 'viem'
import { chunkProofOf, deployChallenges, invalidChunkProof, settleProvenRound } from '../test/ts/challenge-fixture.js'
import { deploySuite, MIN_STAKE, TIMELOCK, VOTING_PERIOD } from '../test/ts/fixture.js'
import { PEER_ID, peerProof } from '../test/ts/peer-proof.js'

const s = await deploySuite()
const rows: [string, bigint][] = []
async function measure(name: string, tx: Promise<Hex>) {
  const receipt = await s.publicClient.waitForTransactionReceipt({ hash: await tx })
  rows.push([name, receipt.gasUsed])
  return receipt
}

const [n0, n1, n2, n3] = s.nodes as [typeof s.admin, typeof s.admin, typeof s.admin, typeof s.admin]
const committee = [n0, n1, n2]

// stake: approve + stake, then the one-transaction permit path
await measure('token approve', s.token.write.approve([s.staking.address, MIN_STAKE[2]], { account: n0.account }))
await measure('stake (after approve)', s.staking.write.stake([MIN_STAKE[2]], { account: n0.account }))
{
  const chainId = await s.publicClient.getChainId()
  const deadline = (await s.publicClient.getBlock()).timestamp + 600n
  const sig = await n1.signTypedData({
    domain: { name: 'vAIn', version: '1', chainId, verifyingContract: s.token.address },
    types: {
      Permit: [
        { name: 'owner', type: 'address' },
        { name: 'spender', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'nonce', type: 'uint256' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'Permit',
    message: { owner: n1.account.address, spender: s.staking.address, value: MIN_STAKE[2], nonce: 0n, deadline },
  })
  await measure(
    'stake with permit (one tx)',
    s.staking.write.stakeWithPermit(
      [
        MIN_STAKE[2],
        deadline,
        Number.parseInt(sig.slice(130, 132), 16),
        `0x${sig.slice(2, 66)}`,
        `0x${sig.slice(66, 130)}`,
      ],
      { account: n1.account },
    ),
  )
}
await s.stake(n2, MIN_STAKE[2])
{
  // the peer's secp256k1 libp2p key signs the binding; the registry checks it on chain
  const proof = await peerProof({
    chainId: await s.publicClient.getChainId(),
    registry: s.registry.address,
    node: n0.account.address,
  })
  await measure(
    'register peer id (with key proof)',
    s.registry.write.register([PEER_ID, proof], { account: n0.account }),
  )
}
await s.stake(n3, MIN_STAKE[0])
await measure('request unstake', s.staking.write.requestUnstake([MIN_STAKE[0]], { account: n3.account }))
await s.networkHelpers.time.increase(7n * 86_400n)
await measure('withdraw after cooldown', s.staking.write.withdraw({ account: n3.account }))

// committee members need tier 3: reputation 1000
await s.reputation.write.grantRole([keccak256(toHex('UPDATER_ROLE')), s.admin.account.address])
for (const m of committee) await s.reputation.write.increase([m.account.address, 1000n])
await s.token.write.approve([s.rounds.address, parseEther('1000000')])

const chainId = await s.publicClient.getChainId()
type Result = { roundId: bigint; modelHash: Hex; rewardsRoot: Hex; totalReward: bigint; contributions: number }
const sign = (m: typeof n0, result: Result) =>
  m.signTypedData({
    domain: { name: 'vAIn RoundManager', version: '1', chainId, verifyingContract: s.rounds.address },
    types: {
      RoundResult: [
        { name: 'roundId', type: 'uint256' },
        { name: 'modelHash', type: 'bytes32' },
        { name: 'rewardsRoot', type: 'bytes32' },
        { name: 'totalReward', type: 'uint256' },
        { name: 'contributions', type: 'uint32' },
      ],
    },
    primaryType: 'RoundResult',
    message: result,
  })
const ordered = [...committee].sort((a, b) => (BigInt(a.account.address) < BigInt(b.account.address) ? -1 : 1))

let lastRound: { roundId: bigint; result: Result } | undefined
for (const contributors of [10, 100, 1000]) {
  const { timestamp } = await s.publicClient.getBlock()
  await measure(
    `open round (committee of 3, n=${contributors})`,
    s.rounds.write.openRound([
      keccak256(toHex('job')),
      committee.map((m) => m.account.address),
      2,
      timestamp + 3600n,
      parseEther('1000'),
    ]),
  )
  const roundId = await s.rounds.read.roundCount()
  const values = Array.from({ length: contributors }, (_, i) => [
    roundId,
    `0x${(0x1000 + i).toString(16).padStart(40, '0')}` as Address,
    parseEther('0.5'),
    10n,
    keccak256(toHex(`update-${i}`)),
  ])
  const tree = StandardMerkleTree.of(values, ['uint256', 'address', 'uint256', 'uint256', 'bytes32'])
  const result: Result = {
    roundId,
    modelHash: keccak256(toHex(`model-${contributors}`)),
    rewardsRoot: tree.root as Hex,
    totalReward: parseEther('0.5') * BigInt(contributors),
    contributions: contributors,
  }
  const sigs = await Promise.all(ordered.slice(0, 2).map((m) => sign(m, result)))
  await measure(`settle round, ${contributors} contributors (quorum 2 of 3)`, s.rounds.write.settle([result, sigs]))
  const [, account, amount, gain, commitment] = values[0] as [bigint, Address, bigint, bigint, Hex]
  await measure(
    `claim reward, ${contributors} contributors (proof of ${tree.getProof(0).length})`,
    s.rounds.write.claim([roundId, account, amount, gain, commitment, tree.getProof(0) as Hex[]]),
  )
  lastRound = { roundId, result }
}
{
  const dissent = { ...lastRound!.result, modelHash: keccak256(toHex('other')) }
  await measure('slash a proven dissenter', s.rounds.write.slashDissenter([dissent, await sign(ordered[2]!, dissent)]))
}

// governance: change a parameter through a proposal
const data = encodeFunctionData({ abi: s.staking.abi, functionName: 'setCooldown', args: [8n * 86_400n] })
await measure(
  'propose (1 action)',
  s.governance.write.propose([[s.staking.address], [data], 'cooldown 8 days'], { account: n0.account }),
)
const id = await s.governance.read.proposalCount()
await measure('vote', s.governance.write.castVote([id, 1], { account: n0.account }))
await s.governance.write.castVote([id, 1], { account: n1.account })
await s.networkHelpers.time.increase(VOTING_PERIOD + 1n)
await measure('queue', s.governance.write.queue([id]))
await s.networkHelpers.time.increase(TIMELOCK)
await measure('execute (1 action)', s.governance.write.execute([id]))

// update-proof challenges: leaves commit to proof digests (settle and claim cost the same as any leaf);
// a challenge of a proof that fails runs the Groth16 verifier and slashes the trainer and committee
{
  const { challenges } = await deployChallenges(s)
  const [m0, m1, m2, trainer] = s.nodes.slice(4, 8) as [typeof n0, typeof n0, typeof n0, typeof n0]
  for (const m of [m0, m1, m2]) await s.makeTier(m, 3)
  await s.makeTier(trainer, 1)
  const proven = await settleProvenRound(
    s,
    [m0, m1, m2],
    [
      {
        account: trainer.account.address,
        payloadHash: keccak256(toHex('payload')),
        chunks: [chunkProofOf(), invalidChunkProof()],
      },
      { account: n0.account.address, payloadHash: keccak256(toHex('payload-2')), chunks: [invalidChunkProof()] },
    ],
  )
  // a challenge of a valid proof reverts (ProofIsValid): nothing to measure but the refusal
  const validGas = await s.publicClient
    .estimateGas({
      account: s.admin.account,
      to: challenges.address,
      data: encodeFunctionData({ abi: challenges.abi, functionName: 'challenge', args: proven.challengeArgs(0, 0) }),
    })
    .catch(() => undefined)
  if (validGas !== undefined) throw new Error('a challenge of a valid proof must revert')
  await measure(
    'challenge an invalid update proof (2 chunks; trainer + committee of 3 slashed)',
    challenges.write.challenge(proven.challengeArgs(0, 1)),
  )
  await measure(
    'challenge a 2nd invalid leaf of the round (1 chunk; committee already slashed)',
    challenges.write.challenge(proven.challengeArgs(1, 0)),
  )
}

const width = Math.max(...rows.map(([name]) => name.length))
console.log(`\nvAIn gas per operation (solc 0.8.28, optimizer 200 runs, Hardhat in-process network)\n`)
console.log(`${'operation'.padEnd(width)}  ${'gas'.padStart(9)}`)
console.log(`${'-'.repeat(width)}  ${'-'.repeat(9)}`)
for (const [name, gas] of rows) console.log(`${name.padEnd(width)}  ${gas.toLocaleString('en-US').padStart(9)}`)
const settles = rows.filter(([n]) => n.startsWith('settle')).map(([, g]) => Number(g))
const spread = Math.max(...settles) - Math.min(...settles)
console.log(`\nsettlement gas spread across 10 / 100 / 1,000 contributors: ${spread} gas`)
await s.connection.close()
