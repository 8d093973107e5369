import { parseEther } from 'viem'
import { describe, expect, it } from 'vitest'
import { HARDHAT_MNEMONIC, InvalidInputError, startLocalChain } from '../src/index.js'
import { sharedChain } from './helpers.js'

const shared = sharedChain()

describe('startLocalChain', () => {
  it('serves Hardhat’s network on 127.0.0.1 with funded accounts (the shared chain of this run)', async () => {
    expect(shared.rpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const balance = await shared.publicClient.getBalance({ address: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' })
    expect(balance).toBeGreaterThan(parseEther('9000'))
    expect(await shared.publicClient.getChainId()).toBe(31337)
    expect(HARDHAT_MNEMONIC.split(' ')).toHaveLength(12)
  })

  it('answers JSON-RPC batches and malformed bodies', async () => {
    const res = await fetch(shared.rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
        { jsonrpc: '2.0', id: 2, method: 'no_such_method', params: [] },
      ]),
    })
    const [ok, bad] = (await res.json()) as [{ result: string }, { error: { code: number } }]
    expect(ok.result).toBe('0x7a69')
    expect(bad.error.code).toBeTypeOf('number')
    const garbage = await fetch(shared.rpcUrl, { method: 'POST', body: '{not json' })
    expect(((await garbage.json()) as { error: { code: number } }).error.code).toBe(-32700)
  })

  it('answers a body nested 100,000 deep with an error (before parsing it) and keeps serving', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    for (const body of [deep, `{"jsonrpc":"2.0","id":${deep},"method":"eth_chainId","params":[]}`]) {
      const res = await fetch(shared.rpcUrl, { method: 'POST', body })
      const answer = (await res.json()) as { id: unknown; error: { code: number; message: string } }
      expect(answer.id).toBeNull()
      expect(answer.error.code).toBe(-32600)
      expect(answer.error.message).toMatch('nested deeper than 64 levels')
    }
    expect(await shared.publicClient.getChainId()).toBe(31337)
  })

  it('refuses a non-loopback host', async () => {
    await expect(startLocalChain({ hostname: '0.0.0.0' as '127.0.0.1' })).rejects.toBeInstanceOf(InvalidInputError)
  })
})
