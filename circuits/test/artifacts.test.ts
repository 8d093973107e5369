/**
 * CI's check that the committed setup artefacts belong to the committed sources (the setup itself
 * never runs here): every circuit in artifacts.json is recompiled (scripts/build.mjs) and its r1cs
 * and wasm must hash as recorded; each source, wasm, zkey, verification key and Solidity verifier
 * hashes as recorded; the verification key is the one the zkey exports; the verifier is the one the
 * zkey exports, renamed.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import * as snarkjs from 'snarkjs'
import { afterAll, describe, expect, it } from 'vitest'
import { circuitsRoot, manifest, sha256 } from './helpers.js'

afterAll(async () => {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128?.terminate()
})

const entries = Object.entries(manifest())

describe.each(entries)('%s artefacts', (name, entry) => {
  it('source, wasm, zkey, vkey and verifier hash as artifacts.json records', () => {
    for (const f of [entry.source, entry.wasm, entry.zkey, entry.vkey, entry.verifier]) {
      expect(sha256(join(circuitsRoot, f.path)), f.path).toBe(f.sha256)
    }
  })

  it('the verification key and the Solidity verifier are the zkey’s', async () => {
    const zkey = join(circuitsRoot, entry.zkey.path)
    const vkey = await snarkjs.zKey.exportVerificationKey(zkey)
    expect(JSON.parse(readFileSync(join(circuitsRoot, entry.vkey.path), 'utf8'))).toEqual(vkey)
    const template = readFileSync(
      join(dirname(createRequire(import.meta.url).resolve('snarkjs')), '..', 'templates', 'verifier_groth16.sol.ejs'),
      'utf8',
    )
    const sol = (await snarkjs.zKey.exportSolidityVerifier(zkey, { groth16: template })) as string
    expect(readFileSync(join(circuitsRoot, entry.verifier.path), 'utf8')).toBe(
      sol.replace(/contract Groth16Verifier\b/, `contract ${entry.verifier.contract}`),
    )
  })

  it('recompiling the source gives the recorded r1cs and wasm', () => {
    const res = spawnSync(process.execPath, [join(circuitsRoot, 'scripts', 'build.mjs'), name], {
      cwd: circuitsRoot,
      encoding: 'utf8',
    })
    expect(res.status, `${res.stdout}\n${res.stderr}`).toBe(0)
    expect(sha256(join(circuitsRoot, 'build', name, `${name}.r1cs`))).toBe(entry.r1cs.sha256)
    expect(sha256(join(circuitsRoot, 'build', name, `${name}_js`, `${name}.wasm`))).toBe(entry.wasm.sha256)
  })
})
