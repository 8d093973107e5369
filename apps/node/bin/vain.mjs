#!/usr/bin/env node
// The `vain` command: checks the Node.js version first, then runs the built CLI (dist/cli.js, plain
// JavaScript: no TypeScript compiler at run time). Everything before the check is written for old
// Node versions (no syntax newer than Node 14), so an old Node says what it needs instead of failing
// on a syntax error. Build with `pnpm build` (repo root) or `pnpm --filter @vain/node build`.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

var NEED_MAJOR = 22
var NEED_MINOR = 13
var parts = String(process.versions.node).split('.')
var major = Number(parts[0])
var minor = Number(parts[1])
if (!(major > NEED_MAJOR || (major === NEED_MAJOR && minor >= NEED_MINOR))) {
  process.stderr.write(
    'vain: needs Node.js >= ' +
      NEED_MAJOR +
      '.' +
      NEED_MINOR +
      ', but this is Node.js ' +
      process.versions.node +
      ' (' +
      process.execPath +
      ').\n' +
      'Install Node.js 22.13 or newer (22 LTS or 24): https://nodejs.org/en/download, or with a version\n' +
      "manager: 'nvm install 24' / 'fnm install 24'. In the vAIn repository, 'pnpm install' also puts\n" +
      'Node.js 24 at node_modules/.bin/node (run: node_modules/.bin/node apps/node/bin/vain.mjs ...).\n',
  )
  process.exit(2)
}

var cli = new URL('../dist/cli.js', import.meta.url)
if (!existsSync(fileURLToPath(cli))) {
  process.stderr.write(
    'vain: the CLI is not built (' +
      fileURLToPath(cli) +
      ' is missing): run pnpm build\n' +
      "(in the repository root; or 'pnpm --filter @vain/node build' once the packages are built).\n",
  )
  process.exit(2)
}
import(cli.href).catch((err) => {
  var missing = err && err.code === 'ERR_MODULE_NOT_FOUND'
  process.stderr.write(
    'vain: cannot load the CLI: ' +
      (err?.message ? err.message : String(err)) +
      '\n' +
      (missing ? 'A dependency is missing or not built: run pnpm install, then pnpm build.\n' : ''),
  )
  process.exit(missing ? 2 : 1)
})
