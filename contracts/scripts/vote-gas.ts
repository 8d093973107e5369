// Gas of VoteVerifier.verifyProof for one real anonymous-vote proof (the committed fixture
// test/fixtures/vote-fixture.json, alice's vote), on Hardhat's in-process network:
//   pnpm --filter @vain/contracts exec hardhat run scripts/vote-gas.ts
// Prints one JSON line { "verifyProofTxGas", "verifyProofCallGas", "calldataBytes", "deployGas", "accepted" }
// that circuits' bench:vote reads. Tx gas is eth_estimateGas of a transaction calling verifyProof
// (21,000 base + calldata + execution); call gas is that less the base and the calldata cost, what
// Governance pays inside castAnonymousVote (the whole vote, 298k, is measured in AnonymousVote.t.sol).
import { readFileSync } from 'node:fs'
import { network } from 'hardhat'
import { encodeFunctionData, hexToBytes } from 'viem'

const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/vote-fixture.json', import.meta.url), 'utf8')) as {
  votes: { aliceFor: { proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }; publicSignals: string[] } }
}
const { proof, publicSignals } = fixture.votes.aliceFor
const n = (s: string | undefined) => BigInt(s ?? 0)
const args = [
  [n(proof.pi_a[0]), n(proof.pi_a[1])],
  [
    [n(proof.pi_b[0]?.[1]), n(proof.pi_b[0]?.[0])],
    [n(proof.pi_b[1]?.[1]), n(proof.pi_b[1]?.[0])],
  ],
  [n(proof.pi_c[0]), n(proof.pi_c[1])],
  [n(publicSignals[0]), n(publicSignals[1]), n(publicSignals[2]), n(publicSignals[3])],
] as const

const connection = await network.create()
const publicClient = await connection.viem.getPublicClient()
const verifier = await connection.viem.deployContract('VoteVerifier')
const block = await publicClient.getBlock({ includeTransactions: true })
const deployTx = await publicClient.getTransactionReceipt({ hash: block.transactions[0]!.hash })
const data = encodeFunctionData({ abi: verifier.abi, functionName: 'verifyProof', args })
const tx = await publicClient.estimateGas({ to: verifier.address, data })
const calldataGas = hexToBytes(data).reduce((g, b) => g + (b === 0 ? 4n : 16n), 0n)
const accepted = await verifier.read.verifyProof(args)
console.log(
  JSON.stringify({
    verifyProofTxGas: Number(tx),
    verifyProofCallGas: Number(tx - 21_000n - calldataGas),
    calldataBytes: hexToBytes(data).length,
    deployGas: Number(deployTx.gasUsed),
    accepted,
  }),
)
