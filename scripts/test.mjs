#!/usr/bin/env node
// The one test command (README, CI): runs every test runner with a machine-readable reporter,
// then prints one line `N passed, N failed` totalled from the runners' own reports, and exits
// non-zero if anything failed or a runner crashed.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'

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
