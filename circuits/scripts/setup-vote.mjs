#!/usr/bin/env node
/**
 * One-time trusted setup of the anonymous-vote circuit (`vote/vote.circom`, Semaphore v4 at depth 16).
 * Run once by hand, never in CI (about 2–4 min on 2 cores); commit what it writes:
 *
 *   node scripts/setup-vote.mjs
 *
 * 1. compiles `vote/vote.circom` into build/vote/ (r1cs, sym, wasm);
 * 2. powers of tau 2^13 (new, one contribution from fresh OS randomness, a beacon), phase-2 prepare;
 * 3. Groth16 phase 2: setup, one contribution, a beacon;
 * 4. writes artifacts/vote/vote.wasm, vote.zkey, vote.vkey.json, the Solidity verifier renamed
 *    `VoteVerifier` to ../contracts/contracts/verifiers/VoteVerifier.sol, and artifacts-vote.json
 *    (sha256 and size of every committed file and of the circuit sources).
 *
 * The intermediate files (ptau, zkey rounds) go to .setup/vote/ (git-ignored) and are not needed again.
 * A setup with one contributor is only as trustworthy as that contributor: fine for a test network,
 * not for one with value at stake, where a multi-party ceremony (or Semaphore's own, with its keys) is needed.
 */
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { copyFileSync, cpSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(root, 'package.json'))
const PTAU_POWER = 13
const BEACON = '0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20'

const buildDir = join(root, 'build', 'vote')
const setupDir = join(root, '.setup', 'vote')
const outDir = join(root, 'artifacts', 'vote')
const verifierPath = join(root, '..', 'contracts', 'contracts', 'verifiers', 'VoteVerifier.sol')
const snarkjsDir = realpathSync(join(root, 'node_modules', 'snarkjs'))
const snarkjsCli = join(snarkjsDir, 'build', 'cli.cjs')

function run(cmd, args, opts = {}) {
  const t0 = Date.now()
  const res = spawnSync(process.execPath, [cmd, ...args], { cwd: root, encoding: 'utf8', ...opts })
  if (res.status !== 0) {
    process.stdout.write(res.stdout ?? '')
    process.stderr.write(res.stderr ?? '')
    throw new Error(`${relative(root, cmd)} ${args[0]} failed (exit ${res.status})`)
  }
  console.log(`  ${args.slice(0, 2).join(' ')}: ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  return res.stdout
}
const snarkjs = (...args) => run(snarkjsCli, args)

/**
 * Compiles vote/vote.circom into build/vote/. circom2 (WASI) cannot open files through pnpm's
 * symlinks nor above its working directory, so circomlib's circuits are copied under build/ first.
 */
export function compileVote() {
  rmSync(buildDir, { recursive: true, force: true })
  const lib = join(buildDir, 'lib')
  const circomlib = realpathSync(dirname(require.resolve('circomlib/package.json')))
  cpSync(join(circomlib, 'circuits'), join(lib, 'circomlib', 'circuits'), { recursive: true, dereference: true })
  const out = run(require.resolve('circom2/cli.js'), [
    'vote/vote.circom',
    '--O2',
    '--r1cs',
    '--wasm',
    '--sym',
    '-l',
    relative(root, lib),
    '-o',
    relative(root, buildDir),
  ])
  const constraints = Number(/non-linear constraints: (\d+)/.exec(out)?.[1] ?? Number.NaN)
  return {
    constraints,
    r1cs: join(buildDir, 'vote.r1cs'),
    wasm: join(buildDir, 'vote_js', 'vote.wasm'),
  }
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex')
const entropy = () => randomBytes(32).toString('hex')

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now()
  console.log('compiling vote/vote.circom')
  const { constraints, r1cs, wasm } = compileVote()
  console.log(`  ${constraints} non-linear constraints`)
  mkdirSync(setupDir, { recursive: true })
  const s = (f) => relative(root, join(setupDir, f))

  console.log(`powers of tau 2^${PTAU_POWER}`)
  snarkjs('powersoftau', 'new', 'bn128', String(PTAU_POWER), s('pot_0.ptau'))
  snarkjs('powersoftau', 'contribute', s('pot_0.ptau'), s('pot_1.ptau'), '--name=vain-vote-1', `-e=${entropy()}`)
  snarkjs('powersoftau', 'beacon', s('pot_1.ptau'), s('pot_beacon.ptau'), BEACON, '10', '-n=vain-vote-beacon')
  snarkjs('powersoftau', 'prepare', 'phase2', s('pot_beacon.ptau'), s('pot_final.ptau'))

  console.log('groth16 phase 2')
  snarkjs('groth16', 'setup', relative(root, r1cs), s('pot_final.ptau'), s('vote_0.zkey'))
  snarkjs('zkey', 'contribute', s('vote_0.zkey'), s('vote_1.zkey'), '--name=vain-vote-1', `-e=${entropy()}`)
  snarkjs('zkey', 'beacon', s('vote_1.zkey'), s('vote_final.zkey'), BEACON, '10', '-n=vain-vote-beacon')
  snarkjs('zkey', 'verify', relative(root, r1cs), s('pot_final.ptau'), s('vote_final.zkey'))

  mkdirSync(outDir, { recursive: true })
  copyFileSync(wasm, join(outDir, 'vote.wasm'))
  copyFileSync(join(setupDir, 'vote_final.zkey'), join(outDir, 'vote.zkey'))
  snarkjs('zkey', 'export', 'verificationkey', s('vote_final.zkey'), relative(root, join(outDir, 'vote.vkey.json')))
  snarkjs('zkey', 'export', 'solidityverifier', s('vote_final.zkey'), s('VoteVerifier.sol'))
  const sol = readFileSync(join(setupDir, 'VoteVerifier.sol'), 'utf8')
    .replace('contract Groth16Verifier', 'contract VoteVerifier')
    .replace(
      'pragma solidity',
      '// Generated by circuits/scripts/setup-vote.mjs (snarkjs zkey export solidityverifier) for\n' +
        "// circuits/vote/vote.circom with vAIn's own setup; do not edit. Public signals:\n" +
        '// [merkleRoot, nullifier, message, scope].\npragma solidity',
    )
  if (!sol.includes('contract VoteVerifier')) throw new Error('verifier contract not found to rename')
  mkdirSync(dirname(verifierPath), { recursive: true })
  writeFileSync(verifierPath, sol)

  const files = {}
  for (const p of [
    'vote/vote.circom',
    'vote/semaphore.circom',
    'vote/binary-merkle-root.circom',
    'artifacts/vote/vote.wasm',
    'artifacts/vote/vote.zkey',
    'artifacts/vote/vote.vkey.json',
    relative(root, verifierPath),
  ]) {
    files[p] = { sha256: sha256(join(root, p)), bytes: statSync(join(root, p)).size }
  }
  const manifest = {
    circuit: 'vote',
    source: 'vote/vote.circom',
    template: 'Semaphore(16) from @semaphore-protocol/circuits 4.14.2',
    maxDepth: 16,
    publicSignals: ['merkleRoot', 'nullifier', 'message', 'scope'],
    constraints,
    ptauPower: PTAU_POWER,
    compiler: 'circom2 0.2.23 --O2',
    snarkjs: JSON.parse(readFileSync(join(snarkjsDir, 'package.json'), 'utf8')).version,
    setup:
      'powers of tau: 1 contribution + beacon; phase 2: 1 contribution + beacon (single-party: test networks only)',
    createdAt: new Date().toISOString(),
    files,
  }
  writeFileSync(join(root, 'artifacts-vote.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  console.log(
    `done in ${((Date.now() - t0) / 1000).toFixed(0)} s; wrote artifacts/vote/, artifacts-vote.json and ${relative(root, verifierPath)}`,
  )
  for (const [p, f] of Object.entries(files)) console.log(`  ${p}: ${f.bytes} bytes`)
}
