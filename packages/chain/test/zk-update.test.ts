/**
 * `@vain/chain/zk` update proofs with the committed artefacts of circuits/update/update_norm.circom:
 * the JS commitment equals the circuit's, a valid chunk proves and verifies, a norm over the bound
 * has no witness, a wrong commitment / another binding / a looser bound / a tampered proof is
 * refused with a typed error, malformed JSON is a typed error (never a crash), the prover releases
 * snarkjs' worker threads on close.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as snarkjs from 'snarkjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createUpdateProver,
  InvalidProofError,
  InvalidWitnessError,
  MalformedProofError,
  ProverClosedError,
  PublicSignalsMismatchError,
  proveUpdate,
  SNARK_FIELD,
  splitUpdate,
  squaredNorm,
  terminateZkThreads,
  type UpdateProof,
  type UpdateProver,
  updateBinding,
  updateChunkCount,
  updateCommitment,
  updateProofCalldata,
  verifyUpdate,
} from '../src/zk/index.js'

const jobId = `0x${'ab'.repeat(32)}` as const
const sender = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' as const
const values = Int8Array.from({ length: 256 }, (_, i) => ((i * 37 + 5) % 255) - 127)
const norm = squaredNorm(values)
const binding = updateBinding({ jobId, round: 7n, sender, valueCount: 1000, chunkIndex: 2 })
const curve = () => (globalThis as { curve_bn128?: unknown }).curve_bn128

const fixture = JSON.parse(
  readFileSync(new URL('../../../circuits/test/fixtures/update_norm.proof.json', import.meta.url), 'utf8'),
) as {
  values: string[]
  binding: string
  commitment: string
  proof: unknown
  publicSignals: string[]
}

let prover: UpdateProver
let valid: UpdateProof
let commitment: bigint

beforeAll(async () => {
  prover = await createUpdateProver()
  commitment = await updateCommitment(values, binding)
  valid = await prover.prove(values, { bound: norm, binding })
})
afterAll(async () => {
  await prover.close()
  await terminateZkThreads()
})

describe('binding, chunks and commitment', () => {
  it('needs ceil(n / 256) proofs; splits and pads the last chunk', () => {
    expect([1, 256, 257, 1000, 100_000].map(updateChunkCount)).toEqual([1, 1, 2, 4, 391])
    const chunks = splitUpdate(new Int8Array(1000))
    expect(chunks.map((c) => c.length)).toEqual([256, 256, 256, 232])
  })

  it('binds job, round, sender, update length and chunk index into one field element', () => {
    const base = { jobId, round: 7n, sender, valueCount: 1000, chunkIndex: 2 } as const
    const others = [
      { ...base, jobId: `0x${'ac'.repeat(32)}` as const },
      { ...base, round: 8n },
      { ...base, sender: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' as const },
      { ...base, valueCount: 999 },
      { ...base, chunkIndex: 3 },
    ]
    expect(binding).toBe(updateBinding(base))
    expect(binding < SNARK_FIELD).toBe(true)
    expect(new Set([binding, ...others.map(updateBinding)]).size).toBe(6)
    expect(() => updateBinding({ ...base, chunkIndex: 4 })).toThrow(/past the last chunk/)
  })

  it('the JS commitment equals the circuit’s (the committed fixture was made by the circuit)', async () => {
    expect(await updateCommitment(fixture.values.map(BigInt), BigInt(fixture.binding))).toBe(BigInt(fixture.commitment))
    expect(fixture.publicSignals[1]).toBe(fixture.commitment)
    // and this run's proof carries exactly the JS commitment as its public signal
    expect(valid.publicSignals).toEqual([norm.toString(), commitment.toString(), binding.toString()])
  })

  it('refuses values outside int16 or more than 256 of them with a typed error', async () => {
    await expect(updateCommitment([32768], binding)).rejects.toThrow(InvalidWitnessError)
    await expect(updateCommitment([1.5], binding)).rejects.toThrow(InvalidWitnessError)
    await expect(updateCommitment(new Int8Array(257), binding)).rejects.toThrow(InvalidWitnessError)
  })
})

describe('proving and verifying a chunk', () => {
  it('a valid witness verifies; a tighter job bound than the proof’s is refused, a looser one accepted', async () => {
    await expect(
      prover.verify(valid.proof, valid.publicSignals, { bound: norm, commitment, binding }),
    ).resolves.toEqual({ bound: norm, commitment, binding })
    await expect(
      verifyUpdate(valid.proof, valid.publicSignals, { bound: norm + 10n, commitment, binding }),
    ).resolves.toMatchObject({ bound: norm })
    const err = await verifyUpdate(valid.proof, valid.publicSignals, { bound: norm - 1n, commitment, binding }).catch(
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(PublicSignalsMismatchError)
    expect((err as PublicSignalsMismatchError).signal).toBe('bound')
  })

  it('a norm over the bound has no witness, so no proof (InvalidWitnessError from the circuit)', async () => {
    const err = await prover.prove(values, { bound: norm - 1n, binding }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidWitnessError)
    expect((err as Error).message).toMatch(/over the bound/)
    expect(String((err as Error).cause)).toMatch(/Assert Failed/)
  })

  it('a wrong commitment fails: as expected value (mismatch) and as a rewritten public signal (invalid proof)', async () => {
    const other = await updateCommitment(
      values.map((v) => -v),
      binding,
    )
    const mismatch = await prover
      .verify(valid.proof, valid.publicSignals, { bound: norm, commitment: other, binding })
      .catch((e: unknown) => e)
    expect(mismatch).toBeInstanceOf(PublicSignalsMismatchError)
    expect((mismatch as PublicSignalsMismatchError).signal).toBe('commitment')
    const forged = [valid.publicSignals[0], other.toString(), valid.publicSignals[2]]
    await expect(prover.verify(valid.proof, forged, { bound: norm, commitment: other, binding })).rejects.toThrow(
      InvalidProofError,
    )
  })

  it('a proof for another update (binding) fails verification', async () => {
    const next = updateBinding({ jobId, round: 8n, sender, valueCount: 1000, chunkIndex: 2 })
    const mismatch = await prover
      .verify(valid.proof, valid.publicSignals, { bound: norm, commitment, binding: next })
      .catch((e: unknown) => e)
    expect(mismatch).toBeInstanceOf(PublicSignalsMismatchError)
    expect((mismatch as PublicSignalsMismatchError).signal).toBe('binding')
    // replaying it with the public signals rewritten to the other binding does not verify
    const replayed = [valid.publicSignals[0], valid.publicSignals[1], next.toString()]
    await expect(prover.verify(valid.proof, replayed, { bound: norm, commitment, binding: next })).rejects.toThrow(
      InvalidProofError,
    )
  })

  it('a tampered proof fails with InvalidProofError, also with points off the curve', async () => {
    const p = valid.proof
    const tampered = { ...p, pi_a: [p.pi_c[0], p.pi_c[1], '1'] }
    await expect(prover.verify(tampered, valid.publicSignals, { bound: norm, commitment, binding })).rejects.toThrow(
      InvalidProofError,
    )
    const offCurve = { ...p, pi_a: ['1', '3', '1'] }
    await expect(verifyUpdate(offCurve, valid.publicSignals, { bound: norm, commitment, binding })).rejects.toThrow(
      InvalidProofError,
    )
  })

  it('malformed proof JSON or public signals are a MalformedProofError, never a crash', async () => {
    const expected = { bound: norm, commitment, binding }
    const p = valid.proof
    const bad: [unknown, unknown][] = [
      [null, valid.publicSignals],
      ['proof', valid.publicSignals],
      [{}, valid.publicSignals],
      [{ ...p, pi_a: ['x', '1', '1'] }, valid.publicSignals],
      [{ ...p, pi_a: [SNARK_FIELD.toString(), '1', '1'] }, valid.publicSignals],
      [{ ...p, pi_b: [['1', '2']] }, valid.publicSignals],
      [{ ...p, protocol: 'plonk' }, valid.publicSignals],
      [p, valid.publicSignals.slice(0, 2)],
      [p, [...valid.publicSignals, '1']],
      [p, ['-1', valid.publicSignals[1], valid.publicSignals[2]]],
      [p, 'signals'],
    ]
    for (const [proof, signals] of bad) {
      await expect(verifyUpdate(proof, signals, expected), JSON.stringify(proof)).rejects.toThrow(MalformedProofError)
    }
    expect(() => updateProofCalldata({ pi_a: [] }, valid.publicSignals)).toThrow(MalformedProofError)
  })

  it('formats Solidity calldata as snarkjs does', async () => {
    const { a, b, c, input } = updateProofCalldata(fixture.proof, fixture.publicSignals)
    const text = (await snarkjs.groth16.exportSolidityCallData(fixture.proof, fixture.publicSignals)) as string
    const expected = JSON.parse(`[${text}]`) as [string[], string[][], string[], string[]]
    expect([a, b, c, input]).toEqual([
      expected[0].map(BigInt),
      expected[1].map((row) => row.map(BigInt)),
      expected[2].map(BigInt),
      expected[3].map(BigInt),
    ])
  })
})

describe('lifecycle', () => {
  it('proveUpdate alone releases the worker threads when done; a closed prover refuses work and holds none', async () => {
    const own = await createUpdateProver()
    await own.close()
    await expect(own.prove(values, { bound: norm, binding })).rejects.toThrow(ProverClosedError)
    // the suite's prover is still open: threads up
    expect(curve()).toBeTruthy()
    const small = Int8Array.from({ length: 40 }, (_, i) => i - 20)
    const b0 = updateBinding({ jobId, round: 1n, sender, valueCount: 40, chunkIndex: 0 })
    const single = await proveUpdate(small, { bound: squaredNorm(small), binding: b0 })
    await expect(
      prover.verify(single.proof, single.publicSignals, {
        bound: squaredNorm(small),
        commitment: await updateCommitment(small, b0),
        binding: b0,
      }),
    ).resolves.toBeTruthy()
    await prover.close()
    expect(curve()).toBeFalsy()
    await expect(prover.prove(values, { bound: norm, binding })).rejects.toThrow(ProverClosedError)
  })
})

describe('README example', () => {
  it('runs as written, and the process exits by itself once the prover is closed (no bn128 threads left)', () => {
    const pkg = join(import.meta.dirname, '..')
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## Zero-knowledge update proofs'))
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1]
    expect(code).toBeDefined()
    const file = join(pkg, `.readme-example-zk-${process.pid}.ts`)
    writeFileSync(file, code as string)
    try {
      // a leaked worker thread keeps the child alive until the timeout (status null)
      const r = spawnSync(process.execPath, ['--conditions=vain-source', '--import', 'tsx', file], {
        cwd: pkg,
        encoding: 'utf8',
        timeout: 60_000,
      })
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      expect(r.stdout).toBe('4\nchunk 0 verified\n')
    } finally {
      rmSync(file, { force: true })
    }
  })
})
