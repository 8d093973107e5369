#!/usr/bin/env node
// The one test command (README, CI): runs every test runner with a machine-readable reporter,
// then prints one line `N passed, N failed` totalled from the runners' own reports, and exits
// non-zero if anything failed or a runner crashed.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { stripVTControlCharacters } from 'node:util'

const root = new URL('..', import.meta.url).pathname
const out = join(root, '.test-results')
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const extra = process.argv.slice(2)
let passed = 0
let failed = 0
const crashed = []

function run(name, cmd, args) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env })
  return r.status ?? 1
}

/** Runs a command, streaming its output, and returns its exit status and stdout. */
function runTee(name, cmd, args, cwd) {
  console.log(`\n▶ ${name}: ${cmd} ${args.join(' ')}`)
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      process.stdout.write(chunk)
    })
    child.stderr.on('data', (chunk) => process.stderr.write(chunk))
    child.on('error', (err) => resolve({ status: 1, stdout: `${stdout}\n${err}` }))
    child.on('close', (code) => resolve({ status: code ?? 1, stdout }))
  })
}

// Hardhat (contracts/): Solidity tests (fuzz, invariants) and node:test TypeScript tests.
// Hardhat has no machine-readable reporter; its own closing summary, one line per outcome with a
// count per runner ("56 passing (46 solidity, 10 nodejs)", "2 failing (2 solidity)"), is parsed.
// It runs first so that the compiled artifacts exist for @vain/chain's ABI freshness test.
const contracts = join(root, 'contracts')
if (existsSync(join(contracts, 'package.json'))) {
  const hardhat = join(contracts, 'node_modules', '.bin', 'hardhat')
  const hh = await runTee('hardhat', hardhat, ['test'], contracts)
  const text = stripVTControlCharacters(hh.stdout)
  const count = (label) => {
    const m = new RegExp(`^(\\d+) ${label} \\(([^)]*)\\)\\s*$`, 'm').exec(text)
    return m ? Number(m[1]) : 0
  }
  const hhPassed = count('passing')
  const hhFailed = count('failing')
  passed += hhPassed
  failed += hhFailed
  if (hh.status !== 0 && hhFailed === 0) crashed.push('hardhat')
  if (hh.status === 0 && hhPassed === 0) crashed.push('hardhat (no summary)')
}

// vitest: every project listed in vitest.workspace.ts
const vitestJson = join(out, 'vitest.json')
const vitestStatus = run('vitest', 'vitest', [
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${vitestJson}`,
  ...extra,
])
if (existsSync(vitestJson)) {
  const report = JSON.parse(readFileSync(vitestJson, 'utf8'))
  passed += report.numPassedTests ?? 0
  failed += report.numFailedTests ?? 0
  // a file that failed to load has no tests but counts as a failure
  const brokenSuites = (report.testResults ?? []).filter(
    (s) => s.status === 'failed' && (s.assertionResults ?? []).every((a) => a.status !== 'failed'),
  ).length
  failed += brokenSuites
  if (vitestStatus !== 0 && report.numFailedTests === 0 && brokenSuites === 0) crashed.push('vitest')
} else {
  crashed.push('vitest (no report)')
}

console.log('')
if (crashed.length > 0) console.log(`runner errors: ${crashed.join(', ')}`)
console.log(`${passed} passed, ${failed + crashed.length} failed`)
process.exit(failed + crashed.length > 0 ? 1 : 0)
