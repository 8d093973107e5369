#!/usr/bin/env node
/**
 * The one-time Groth16 trusted setup of a circuit. Run it ONCE, by hand, when a circuit's source
 * changes — never in CI (CI only checks the committed artefacts against the sources:
 * test/artifacts.test.ts).
 *
 *   node scripts/setup.mjs update_norm   # phase 1 at 2^14: ~27 min on 2 busy shared cores (cached after);
 *                                        # phase 2 for 5.4k constraints: ~2 min
 *
 * Steps (snarkjs 0.7.6, curve bn128):
 *   1. compile the circuit (scripts/build.mjs) → build/<name>/<name>.r1cs and .wasm
 *   2. phase 1, powers of tau: a new accumulator of 2^power (the smallest power with
 *      2^power > constraints + public inputs), one contribution with 64 random bytes of entropy,
 *      then `preparePhase2` (most of the time). Cached in .setup/pot<power>_final.ptau (gitignored,
 *      ~20 MB at power 14) so a second circuit of the same size reuses it.
 *   3. phase 2, circuit-specific: `zkey new`, one contribution with fresh random entropy.
 *   4. export the verification key and the Solidity verifier, renamed `<Pascal>Verifier`, to
 *      contracts/contracts/verifiers/<Pascal>Verifier.sol.
 *   5. copy the final artefacts to artifacts/<name>/ (<name>.wasm, <name>.zkey, <name>.vkey.json)
 *      and record the sha256 of each artefact and of each circuit source in artifacts.json
 *      (other circuits' entries are kept).
 *
 * Trust: both contributions' entropy comes from crypto.randomBytes and is never written down, so the
 * setup is as trustworthy as the machine and person that ran it once (a single-party ceremony). A
 * production network should replace phase 1 with a public multi-party ptau (e.g. the Hermez/PSE
 * perpetual powers of tau) and run phase 2 with several independent contributors
 * (`snarkjs zkey contribute`), then re-run the `artifacts` recording step. Neither is reachable
 * from this machine.
 */
import { createHash, randomBytes } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import * as snarkjs from 'snarkjs'
import { circuitsRoot, compileCircuit, listCircuits } from './build.mjs'

const repoRoot = join(circuitsRoot, '..')
const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex')
const pascal = (name) =>
  name
    .split(/[_-]/)
    .map((s) => s[0].toUpperCase() + s.slice(1))
    .join('')
const logger = {
  debug() {},
  info: (...a) => console.log('  ', ...a),
  warn: (...a) => console.warn('  ', ...a),
  error: (...a) => console.error('  ', ...a),
}
const step = (msg) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`)

async function setup(circuit) {
  const { name, source } = circuit
  step(`compile ${source}`)
  const { r1cs, wasm } = compileCircuit(circuit, { quiet: true })
  const info = await snarkjs.r1cs.info(r1cs)
  const constraints = info.nConstraints
  const needed = constraints + info.nPubInputs + info.nOutputs + 1
  let power = 8
  while (2 ** power < needed) power++
  step(`${name}: ${constraints} constraints, ${info.nPubInputs} public inputs → ptau power ${power}`)

  const work = join(circuitsRoot, '.setup')
  mkdirSync(work, { recursive: true })
  // a prepared ptau of a larger power serves a smaller circuit too: reuse the smallest one present
  const existing = [...Array(29 - power).keys()]
    .map((k) => power + k)
    .find((p) => existsSync(join(work, `pot${p}_final.ptau`)))
  if (existing !== undefined) power = existing
  const ptauFinal = join(work, `pot${power}_final.ptau`)
  if (!existsSync(ptauFinal)) {
    const curve = await snarkjs.curves.getCurveFromName('bn128')
    const pot0 = join(work, `pot${power}_0000.ptau`)
    const pot1 = join(work, `pot${power}_0001.ptau`)
    step(`phase 1: new accumulator 2^${power}`)
    await snarkjs.powersOfTau.newAccumulator(curve, power, pot0, logger)
    step('phase 1: contribute')
    await snarkjs.powersOfTau.contribute(pot0, pot1, 'vAIn phase 1', randomBytes(64).toString('hex'), logger)
    step('phase 1: prepare phase 2 (the slow part)')
    await snarkjs.powersOfTau.preparePhase2(pot1, ptauFinal, logger)
  } else step(`phase 1: reusing ${relative(circuitsRoot, ptauFinal)}`)

  const zkey0 = join(work, `${name}_0000.zkey`)
  const zkeyFinal = join(work, `${name}_final.zkey`)
  step('phase 2: zkey new')
  await snarkjs.zKey.newZKey(r1cs, ptauFinal, zkey0, logger)
  step('phase 2: contribute')
  await snarkjs.zKey.contribute(zkey0, zkeyFinal, 'vAIn phase 2', randomBytes(64).toString('hex'), logger)

  step('export verification key and Solidity verifier')
  const vkey = await snarkjs.zKey.exportVerificationKey(zkeyFinal, logger)
  const template = readFileSync(new URL('templates/verifier_groth16.sol.ejs', import.meta.resolve('snarkjs')), 'utf8')
  const contractName = `${pascal(name)}Verifier`
  let sol = await snarkjs.zKey.exportSolidityVerifier(zkeyFinal, { groth16: template }, logger)
  if (!/contract Groth16Verifier\b/.test(sol))
    throw new Error('unexpected verifier template: no `contract Groth16Verifier`')
  sol = sol.replace(/contract Groth16Verifier\b/, `contract ${contractName}`)

  const outDir = join(circuitsRoot, 'artifacts', name)
  mkdirSync(outDir, { recursive: true })
  const files = {
    wasm: join(outDir, `${name}.wasm`),
    zkey: join(outDir, `${name}.zkey`),
    vkey: join(outDir, `${name}.vkey.json`),
    verifier: join(repoRoot, 'contracts', 'contracts', 'verifiers', `${contractName}.sol`),
  }
  copyFileSync(wasm, files.wasm)
  copyFileSync(zkeyFinal, files.zkey)
  writeFileSync(files.vkey, `${JSON.stringify(vkey, null, 2)}\n`)
  mkdirSync(dirname(files.verifier), { recursive: true })
  writeFileSync(files.verifier, sol)

  const manifestPath = join(circuitsRoot, 'artifacts.json')
  const manifest = existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, 'utf8')) : {}
  const entry = (file) => ({ path: relative(circuitsRoot, file), sha256: sha256(file), bytes: statSync(file).size })
  manifest[name] = {
    source: entry(join(circuitsRoot, source)),
    circomlib: JSON.parse(readFileSync(join(circuitsRoot, 'node_modules', 'circomlib', 'package.json'), 'utf8'))
      .version,
    circom2: JSON.parse(readFileSync(join(circuitsRoot, 'node_modules', 'circom2', 'package.json'), 'utf8')).version,
    snarkjs: JSON.parse(readFileSync(join(circuitsRoot, 'node_modules', 'snarkjs', 'package.json'), 'utf8')).version,
    constraints,
    publicInputs: info.nPubInputs,
    ptauPower: power,
    r1cs: { sha256: sha256(r1cs), bytes: statSync(r1cs).size },
    wasm: entry(files.wasm),
    zkey: entry(files.zkey),
    vkey: entry(files.vkey),
    verifier: { ...entry(files.verifier), contract: contractName },
    setupAt: new Date().toISOString(),
  }
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)
  step(
    `done: ${Object.values(files)
      .map((f) => `${relative(repoRoot, f)} ${statSync(f).size} B`)
      .join(', ')}`,
  )
}

const wanted = process.argv.slice(2)
if (wanted.length === 0) {
  console.error(
    'usage: node scripts/setup.mjs <circuit-name>…  (one of: %s)',
    listCircuits()
      .map((c) => c.name)
      .join(', '),
  )
  process.exit(2)
}
try {
  for (const name of wanted) {
    const circuit = listCircuits().find((c) => c.name === name)
    if (!circuit) throw new Error(`unknown circuit ${name}`)
    await setup(circuit)
  }
} finally {
  await globalThis.curve_bn128?.terminate()
}
