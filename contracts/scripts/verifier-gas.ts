// Gas of UpdateNormVerifier.verifyProof for one real proof, on Hardhat's in-process network:
//   VAIN_PROOF=path/to/proof.json pnpm --filter @vain/contracts exec hardhat run scripts/verifier-gas.ts
// (default: the committed fixture circuits/test/fixtures/update_norm.proof.json). Prints one JSON
// line { "verifyProofTxGas", "verifyProofCallGas", "calldataBytes", "deployGas", "accepted" } —
// circuits' bench reads it. Tx gas is an eth_estimateGas of a transaction calling verifyProof (21,000
// base + calldata + execution); call gas is that less the 21,000 base and the calldata cost, what a
// contract calling the verifier pays.
import { readFileSync } from 'node:fs'
import { network } from 'hardhat'
import { encodeFunctionData, hexToBytes } from 'viem'

const path =
  process.env.VAIN_PROOF ?? new URL('../../circuits/test/fixtures/update_norm.proof.json', import.meta.url).pathname
const { proof, publicSignals } = JSON.parse(readFileSync(path, 'utf8')) as {
  proof: { pi_a: string[]; pi_b: string[][]; pi_c: string[] }
  publicSignals: string[]
}
const n = (s: string | undefined) => BigInt(s ?? 0)
const args = [
  [n(proof.pi_a[0]), n(proof.pi_a[1])],
  [
    [n(proof.pi_b[0]?.[1]), n(proof.pi_b[0]?.[0])],
    [n(proof.pi_b[1]?.[1]), n(proof.pi_b[1]?.[0])],
  ],
  [n(proof.pi_c[0]), n(proof.pi_c[1])],
  [n(publicSignals[0]), n(publicSignals[1]), n(publicSignals[2])],
] as const

const connection = await network.create()
const publicClient = await connection.viem.getPublicClient()
const verifier = await connection.viem.deployContract('UpdateNormVerifier')
const deployTx = await publicClient.getTransactionReceipt({
  hash: (await publicClient.getBlock({ includeTransactions: true })).transactions[0]!.hash,
})
const data = encodeFunctionData({ abi: verifier.abi, functionName: 'verifyProof', args })
const tx = await publicClient.estimateGas({ to: verifier.address, data })
const bytes = hexToBytes(data)
const calldataGas = bytes.reduce((g, b) => g + (b === 0 ? 4n : 16n), 0n)
const accepted = await verifier.read.verifyProof(args)
console.log(
  JSON.stringify({
    verifyProofTxGas: Number(tx),
    verifyProofCallGas: Number(tx - 21_000n - calldataGas),
    calldataBytes: bytes.length,
    deployGas: Number(deployTx.gasUsed),
    accepted,
  }),
)
await connection.close()
