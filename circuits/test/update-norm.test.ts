/**
 * The update circuit itself, through the committed wasm and proving key: a valid witness proves and
 * verifies; a norm over the bound, an out-of-range (field-wrapped) value, a wrong commitment or a
 * bound of 2^64 or more has no witness, so no proof; the committed fixture proof (used by the
 * Solidity verifier's test) verifies.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as snarkjs from 'snarkjs'
import { afterAll, describe, expect, it } from 'vitest'
import {
  circuitsRoot,
  commitment,
  hugeValueWithSmallSquare,
  input,
  manifest,
  norm,
  P,
  sampleValues,
} from './helpers.js'

const entry = manifest().update_norm!
const wasm = join(circuitsRoot, entry.wasm.path)
const zkey = join(circuitsRoot, entry.zkey.path)
const vkey = JSON.parse(readFileSync(join(circuitsRoot, entry.vkey.path), 'utf8'))
const binding = 123456789n

async function witness(inp: Record<string, unknown>): Promise<void> {
  await snarkjs.wtns.calculate(inp, wasm, { type: 'mem' })
}

afterAll(async () => {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } | null }).curve_bn128?.terminate()
})

describe('update_norm circuit', () => {
  it('proves and verifies a valid witness; the public signals are [bound, commitment, binding]', async () => {
    const values = sampleValues()
    const c = await commitment(values, binding)
    const bound = norm(values)
    const { proof, publicSignals } = await snarkjs.groth16.fullProve(input(values, bound, c, binding), wasm, zkey)
    expect(publicSignals).toEqual([bound.toString(), c.toString(), binding.toString()])
    expect(await snarkjs.groth16.verify(vkey, publicSignals, proof)).toBe(true)
    // the same proof with any other public signal does not verify
    expect(
      await snarkjs.groth16.verify(vkey, [publicSignals[0], publicSignals[1], (binding + 1n).toString()], proof),
    ).toBe(false)
    expect(
      await snarkjs.groth16.verify(vkey, [(bound + 1n).toString(), publicSignals[1], publicSignals[2]], proof),
    ).toBe(false)
  })

  it('has no witness when the norm is over the bound (by one)', async () => {
    const values = sampleValues()
    const c = await commitment(values, binding)
    await expect(witness(input(values, norm(values), c, binding))).resolves.toBeUndefined()
    await expect(witness(input(values, norm(values) - 1n, c, binding))).rejects.toThrow(/Assert Failed/)
  })

  it('range-checks every value: 2^15 and a field-wrapped value are refused, -2^15 and 2^15 - 1 pass', async () => {
    const edge = sampleValues()
    edge[0] = -32768n
    edge[1] = 32767n
    await expect(witness(input(edge, norm(edge), await commitment(edge, binding), binding))).resolves.toBeUndefined()

    const over = sampleValues()
    over[5] = 32768n
    await expect(witness(input(over, norm(over), await commitment(over, binding), binding))).rejects.toThrow(
      /Assert Failed/,
    )

    // a huge field element whose square is tiny mod p: within any bound, but not an int16
    const { value, square } = await hugeValueWithSmallSquare()
    expect((value * value) % P).toBe(square)
    const wrapped = sampleValues()
    wrapped[7] = value
    const bound = norm(sampleValues()) - sampleValues()[7]! ** 2n + square
    await expect(witness(input(wrapped, bound, await commitment(wrapped, binding), binding))).rejects.toThrow(
      /Assert Failed/,
    )
  })

  it('has no witness for a wrong commitment or another binding', async () => {
    const values = sampleValues()
    const c = await commitment(values, binding)
    await expect(witness(input(values, norm(values), c + 1n, binding))).rejects.toThrow(/Assert Failed/)
    await expect(witness(input(values, norm(values), c, binding + 1n))).rejects.toThrow(/Assert Failed/)
    const other = sampleValues(2)
    await expect(witness(input(other, norm(other) + norm(values), c, binding))).rejects.toThrow(/Assert Failed/)
  })

  it('refuses a bound of 2^64 or more (the comparison cannot wrap)', async () => {
    const values = sampleValues()
    const c = await commitment(values, binding)
    await expect(witness(input(values, 1n << 64n, c, binding))).rejects.toThrow(/Assert Failed/)
    await expect(witness(input(values, P - 1n, c, binding))).rejects.toThrow(/Assert Failed/)
  })

  it('the committed fixture proof verifies (the Solidity verifier test uses it)', async () => {
    const fixture = JSON.parse(readFileSync(join(circuitsRoot, 'test', 'fixtures', 'update_norm.proof.json'), 'utf8'))
    expect(await snarkjs.groth16.verify(vkey, fixture.publicSignals, fixture.proof)).toBe(true)
  })
})
