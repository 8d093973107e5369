#!/usr/bin/env node
/**
 * Compiles every circuit of this package: each `<dir>/<name>.circom` (one folder down) that declares
 * `component main` becomes `build/<name>/<name>.r1cs`, `.sym` and `<name>_js/<name>.wasm`.
 *
 *   node scripts/build.mjs            # all circuits
 *   node scripts/build.mjs update_norm
 *
 * circom2 is circom compiled to WASI; it can only open files under the folders it pre-opens (the
 * working directory and its parents, by relative path), and it does not follow pnpm's symlink out of
 * `node_modules/circomlib`, nor open `../x` paths. So it runs in the deepest folder that holds both
 * this package and circomlib's real location (the repo root under pnpm), with every path relative to it.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const circuitsRoot = join(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(join(circuitsRoot, 'package.json'))

/** Every main circuit: `{ name, source }` with source relative to circuits/. */
export function listCircuits() {
  const out = []
  for (const dir of readdirSync(circuitsRoot)) {
    if (['node_modules', 'build', '.setup', 'artifacts', 'scripts', 'test', 'bench'].includes(dir)) continue
    const full = join(circuitsRoot, dir)
    if (!statSync(full).isDirectory()) continue
    for (const file of readdirSync(full)) {
      if (!file.endsWith('.circom')) continue
      const text = readFileSync(join(full, file), 'utf8')
      if (/^\s*component\s+main\b/m.test(text)) out.push({ name: basename(file, '.circom'), source: `${dir}/${file}` })
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name))
}

function commonAncestor(a, b) {
  let dir = a
  while (relative(dir, b).startsWith('..')) dir = dirname(dir)
  return dir
}

/** Compiles one circuit into build/<name>/; returns the paths of its r1cs and wasm. */
export function compileCircuit({ name, source }, { quiet = false } = {}) {
  const outDir = join(circuitsRoot, 'build', name)
  mkdirSync(outDir, { recursive: true })
  // circomlib's real folder's parent, so `include "circomlib/circuits/x.circom"` resolves
  const circomlibDir = dirname(realpathSync(dirname(require.resolve('circomlib/package.json'))))
  const circom2 = require.resolve('circom2/cli.js')
  const cwd = commonAncestor(circuitsRoot, circomlibDir)
  const args = [
    circom2,
    relative(cwd, join(circuitsRoot, source)),
    '--O2',
    '--r1cs',
    '--wasm',
    '--sym',
    '-l',
    relative(cwd, circomlibDir),
    '-o',
    relative(cwd, outDir),
  ]
  const res = spawnSync(process.execPath, args, { cwd, encoding: 'utf8' })
  if (!quiet || res.status !== 0) process.stdout.write(res.stdout ?? '')
  if (res.status !== 0) {
    process.stderr.write(res.stderr ?? '')
    throw new Error(`circom2 failed for ${source} (exit ${res.status})`)
  }
  const r1cs = join(outDir, `${name}.r1cs`)
  const wasm = join(outDir, `${name}_js`, `${name}.wasm`)
  if (!existsSync(r1cs) || !existsSync(wasm)) throw new Error(`circom2 wrote no r1cs/wasm for ${source}`)
  return { r1cs, wasm }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const wanted = process.argv.slice(2)
  const circuits = listCircuits().filter((c) => wanted.length === 0 || wanted.includes(c.name))
  if (circuits.length === 0) throw new Error(`no circuit matches ${wanted.join(' ')}`)
  for (const c of circuits) {
    const t0 = Date.now()
    compileCircuit(c)
    console.log(`built ${c.name} (${c.source}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
}
