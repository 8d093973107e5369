#!/usr/bin/env node
/**
 * Copies the committed circuit artefacts (wasm, zkey, verification key of every circuit listed in
 * circuits/artifacts.json) into zk-artifacts/<circuit>/, which the published package ships
 * (`files`) and `@vain/chain/zk` reads. Each file's sha256 is checked against artifacts.json first,
 * so a tarball never carries artefacts that differ from the committed setup. Run by tsup's
 * `onSuccess` (pnpm build).
 */
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..')
const circuits = join(pkg, '..', '..', 'circuits')
const manifestPath = join(circuits, 'artifacts.json')
if (!existsSync(manifestPath)) throw new Error(`missing ${manifestPath}: run the circuits' setup first`)
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
const out = join(pkg, 'zk-artifacts')
rmSync(out, { recursive: true, force: true })
for (const [name, entry] of Object.entries(manifest)) {
  mkdirSync(join(out, name), { recursive: true })
  for (const kind of ['wasm', 'zkey', 'vkey']) {
    const { path, sha256 } = entry[kind]
    const from = join(circuits, path)
    const hash = createHash('sha256').update(readFileSync(from)).digest('hex')
    if (hash !== sha256) throw new Error(`${path}: sha256 ${hash} is not the recorded ${sha256}`)
    copyFileSync(from, join(out, name, basename(path)))
  }
  console.log(`zk-artifacts/${name}: wasm, zkey, vkey`)
}

// the anonymous-vote circuit keeps its own manifest (circuits/artifacts-vote.json, from scripts/setup-vote.mjs)
const voteManifest = JSON.parse(readFileSync(join(circuits, 'artifacts-vote.json'), 'utf8'))
mkdirSync(join(out, 'vote'), { recursive: true })
for (const file of ['vote.wasm', 'vote.zkey', 'vote.vkey.json']) {
  const path = `artifacts/vote/${file}`
  const from = join(circuits, path)
  const hash = createHash('sha256').update(readFileSync(from)).digest('hex')
  const recorded = voteManifest.files[path]?.sha256
  if (hash !== recorded) throw new Error(`${path}: sha256 ${hash} is not the recorded ${recorded}`)
  copyFileSync(from, join(out, 'vote', file))
}
console.log('zk-artifacts/vote: wasm, zkey, vkey')
