#!/usr/bin/env node
/**
 * Benchmark of the anonymous vote (circuits/vote/vote.circom, Semaphore v4 at depth 16) with the
 * committed artefacts:
 *
 *   pnpm --filter @vain/circuits bench:vote          (RUNS=5 by default)
 *
 * Prints the machine, the circuit's constraints, the median (min/max) prove and verify time of one
 * vote in-process with snarkjs (the first, cold proof reported apart), the proof's size, the
 * VoteVerifier's gas (contracts/scripts/vote-gas.ts on Hardhat's in-process network) and a baseline
 * in the same run: a secp256k1 ECDSA signature and its verification with node:crypto (what a public,
 * signed vote costs), as ratios; on chain, ecrecover's 3,000 gas. No time is asserted anywhere.
 */
import { spawnSync } from 'node:child_process'
import { createSign, createVerify, generateKeyPairSync } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildBabyjub, buildPoseidon } from 'circomlibjs'
import * as snarkjs from 'snarkjs'

const root = join(import.meta.dirname, '..')
const RUNS = Number(process.env.RUNS ?? 5)
const DEPTH = 16
const GROUP = 1024 // members in the benchmark's group (proving cost does not depend on it)
const manifest = JSON.parse(readFileSync(join(root, 'artifacts-vote.json'), 'utf8'))
const wasm = join(root, 'artifacts/vote/vote.wasm')
const zkey = join(root, 'artifacts/vote/vote.zkey')
const vkey = JSON.parse(readFileSync(join(root, 'artifacts/vote/vote.vkey.json'), 'utf8'))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (ms) =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} µs`
const stats = (xs) => `${fmt(median(xs))} (min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}, n=${xs.length})`

const poseidon = await buildPoseidon()
const babyjub = await buildBabyjub()
const F = poseidon.F
const hash = (a, b) => F.toObject(poseidon([a, b]))
// identities: secret scalars below the subgroup order; commitment = Poseidon(secret · Base8)
const secretOf = (i) => 1_000_003n * BigInt(i + 1) + 12345n
const commitmentOf = (secret) => {
  const [x, y] = babyjub.mulPointEscalar(babyjub.Base8, secret)
  return F.toObject(poseidon([babyjub.F.toObject(x), babyjub.F.toObject(y)]))
}
const leaves = Array.from({ length: GROUP }, (_, i) => commitmentOf(secretOf(i)))
// a full binary tree (GROUP is a power of two, so the lean IMT equals it)
const levels = [leaves]
while (levels.at(-1).length > 1) {
  const prev = levels.at(-1)
  levels.push(Array.from({ length: prev.length / 2 }, (_, i) => hash(prev[2 * i], prev[2 * i + 1])))
}
function inputFor(member, scope) {
  const siblings = levels.slice(0, -1).map((level, d) => level[(member >> d) ^ 1])
  return {
    secret: secretOf(member),
    merkleProofLength: siblings.length,
    merkleProofIndex: member,
    merkleProofSiblings: [...siblings, ...Array(DEPTH - siblings.length).fill(0n)],
    message: 1n,
    scope,
  }
}
const merkleRoot = levels.at(-1)[0]

const t0 = performance.now()
const cold = await snarkjs.groth16.fullProve(inputFor(0, 1n), wasm, zkey)
const coldMs = performance.now() - t0
if (BigInt(cold.publicSignals[0]) !== merkleRoot) throw new Error('the circuit computed another root')
const prove = []
const verify = []
let last = cold
for (let i = 0; i < RUNS; i++) {
  const a = performance.now()
  last = await snarkjs.groth16.fullProve(inputFor((i * 97) % GROUP, BigInt(i + 2)), wasm, zkey)
  prove.push(performance.now() - a)
  const b = performance.now()
  if (!(await snarkjs.groth16.verify(vkey, last.publicSignals, last.proof))) throw new Error('a proof failed')
  verify.push(performance.now() - b)
}
await globalThis.curve_bn128?.terminate()

// baseline: a signed public vote (secp256k1 ECDSA with node:crypto)
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' })
const message = Buffer.from(`vote 1 on proposal 1`)
const sign = []
const check = []
let signature
for (let i = 0; i < 200; i++) {
  const a = performance.now()
  signature = createSign('SHA256').update(message).sign(privateKey)
  sign.push(performance.now() - a)
  const b = performance.now()
  createVerify('SHA256').update(message).verify(publicKey, signature)
  check.push(performance.now() - b)
}

const gasRun = spawnSync('npx', ['-y', 'pnpm@12.4.2', 'exec', 'hardhat', 'run', 'scripts/vote-gas.ts'], {
  cwd: join(root, '..', 'contracts'),
  encoding: 'utf8',
})
const gasLine = (gasRun.stdout ?? '').split('\n').find((l) => l.startsWith('{'))
const gas = gasLine ? JSON.parse(gasLine) : undefined

const proofJson = Buffer.byteLength(JSON.stringify(last.proof))
const size = (p) => `${(statSync(join(root, p)).size / 1e6).toFixed(2)} MB`
console.log(`vAIn anonymous vote benchmark — ${new Date().toISOString()}`)
console.log(`machine: ${cpus()[0]?.model ?? '?'} · ${availableParallelism()} cores · node ${process.version}`)
console.log(
  `circuit: Semaphore v4, depth ${manifest.maxDepth} (2^${manifest.maxDepth} members per tier) · ${manifest.constraints} constraints · ptau 2^${manifest.ptauPower}`,
)
console.log(`prove (group of ${GROUP}): cold ${fmt(coldMs)} · warm ${stats(prove)}`)
console.log(`verify (snarkjs): ${stats(verify)}`)
console.log(`proof: ${proofJson} bytes as snarkjs JSON, 256 bytes as calldata (8 words) + 4 public signals`)
if (gas) {
  console.log(
    `on chain: VoteVerifier.verifyProof ${gas.verifyProofCallGas} gas (${gas.verifyProofTxGas} as a transaction); verifier deployment ${gas.deployGas} gas; Governance.castAnonymousVote ≈ 298k gas in all (AnonymousVote.t.sol)`,
  )
} else console.log(`on chain: gas script failed: ${(gasRun.stderr ?? '').slice(0, 300)}`)
console.log(
  `baseline (secp256k1 ECDSA, node:crypto): sign ${fmt(median(sign))}, verify ${fmt(median(check))} → prove/sign ${(median(prove) / median(sign)).toFixed(0)}×, verify/verify ${(median(verify) / median(check)).toFixed(0)}×${gas ? `; on chain verifyProof/ecrecover (3,000 gas) ${(gas.verifyProofCallGas / 3000).toFixed(0)}×` : ''}`,
)
console.log(
  `artefacts: vote.wasm ${size('artifacts/vote/vote.wasm')}, vote.zkey ${size('artifacts/vote/vote.zkey')}, vote.vkey.json ${statSync(join(root, 'artifacts/vote/vote.vkey.json')).size} bytes`,
)
console.log('goal: prove ≤ 1 s, verify ≤ 300k gas (Semaphore publishes ~0.2–0.5 s and ~286k gas)')
