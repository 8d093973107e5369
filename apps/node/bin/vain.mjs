#!/usr/bin/env node
// The `vain` CLI. Runs the TypeScript sources through tsx, resolving workspace packages to
// their sources (the `vain-source` export condition), so no build step is needed in the repo.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url))
const r = spawnSync(process.execPath, ['--conditions=vain-source', '--import', 'tsx', cli, ...process.argv.slice(2)], {
  stdio: 'inherit',
})
process.exit(r.status ?? 1)
