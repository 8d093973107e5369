#!/usr/bin/env node
/**
 * Writes test/fixtures/update_norm.proof.json: one real proof of the committed update circuit
 * (256 int8-range values, bound = their squared norm, a fixed binding), with its values and public
 * signals. The Solidity verifier's test (contracts/test/ts/update-norm-verifier.test.ts) reads it, so
 * contracts/ needs no prover. Re-run after a new setup:
 *
 *   node scripts/fixture.mjs
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { buildPoseidon } from 'circomlibjs'
import * as snarkjs from 'snarkjs'
import { circuitsRoot } from './build.mjs'

const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n
const field = (v) => ((v % P) + P) % P
const entry = JSON.parse(readFileSync(join(circuitsRoot, 'artifacts.json'), 'utf8')).update_norm
const values = Array.from({ length: 256 }, (_, i) => BigInt(((i * 37 + 11) % 255) - 127))
const bound = values.reduce((s, v) => s + v * v, 0n)
// any field element; @vain/chain's updateBinding derives the real one from job, round, sender, length, chunk
const binding = 0x1234567890abcdefn
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
const w = pack(values)
const commitment = F.toObject(poseidon([F.toObject(poseidon(w.slice(0, 16))), ...w.slice(16), binding]))
const { proof, publicSignals } = await snarkjs.groth16.fullProve(
  { bound: `${bound}`, commitment: `${commitment}`, binding: `${binding}`, values: values.map((v) => `${field(v)}`) },
  join(circuitsRoot, entry.wasm.path),
  join(circuitsRoot, entry.zkey.path),
)
const out = join(circuitsRoot, 'test', 'fixtures', 'update_norm.proof.json')
writeFileSync(
  out,
  `${JSON.stringify({ values: values.map(String), bound: `${bound}`, binding: `${binding}`, commitment: `${commitment}`, proof, publicSignals }, null, 2)}\n`,
)
console.log(`wrote ${out}`)
await globalThis.curve_bn128?.terminate()
