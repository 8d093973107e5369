/**
 * Where the update circuit's committed artefacts (wasm, proving key, verification key) are read.
 *
 * Published package: `@vain/chain`'s build copies them from `circuits/artifacts/update_norm/`
 * (checked against `circuits/artifacts.json`) into `zk-artifacts/update_norm/` at the package root,
 * which `files` ships; `@vain/circuits` itself is private and never a runtime dependency. From the
 * TypeScript sources (tests in this monorepo) the committed circuits/artifacts/ are read directly, so
 * a stale build copy is never used.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ZkArtifactError } from './errors.js'

/** Paths of one circuit's proving artefacts. */
export interface CircuitArtifacts {
  /** The witness generator compiled by circom. */
  wasm: string
  /** The final Groth16 proving key. */
  zkey: string
  /** The verification key JSON (`snarkjs zkey export verificationkey`). */
  vkey: string
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@vain/chain') return dir
      } catch {
        // not ours: keep walking up
      }
    }
    const up = dirname(dir)
    if (up === dir) throw new ZkArtifactError('cannot find the @vain/chain package root to read circuit artefacts from')
    dir = up
  }
}

/**
 * The artefacts of a circuit by name (`update_norm`): from the built package its shipped copy in
 * `zk-artifacts/<name>/`; from the TypeScript sources the monorepo's `circuits/artifacts/<name>/`.
 *
 * @throws ZkArtifactError when neither has all three files.
 * @example
 * ```ts
 * const { wasm, zkey, vkey } = circuitArtifacts('update_norm')
 * ```
 */
export function circuitArtifacts(name: string): CircuitArtifacts {
  const root = packageRoot()
  // running from the TypeScript sources (this monorepo): the committed artefacts themselves, never a
  // possibly stale build copy; from dist (a build or the published package): the shipped copy
  const fromSource = fileURLToPath(import.meta.url).endsWith('.ts')
  const candidates = fromSource
    ? [join(root, '..', '..', 'circuits', 'artifacts', name)]
    : [join(root, 'zk-artifacts', name)]
  for (const dir of candidates) {
    const files = {
      wasm: join(dir, `${name}.wasm`),
      zkey: join(dir, `${name}.zkey`),
      vkey: join(dir, `${name}.vkey.json`),
    }
    if (existsSync(files.wasm) && existsSync(files.zkey) && existsSync(files.vkey)) return files
  }
  throw new ZkArtifactError(`no artefacts for circuit ${name} in ${candidates.join(' or ')}`)
}
