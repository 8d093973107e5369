import { createServer } from 'node:net'
import { createPublicClient, http, parseEther } from 'viem'
import { describe, expect, it } from 'vitest'
import {
  ChainUnavailableError,
  chainRetryPolicy,
  connectVain,
  isUnavailable,
  type RetryInfo,
  retryingTransport,
  StakeTooLowError,
  startLocalChain,
  waitForChain,
  withRetry,
} from '../src/index.js'
import { freshSuite, libp2pIdentity, sharedChain } from './helpers.js'

const shared = sharedChain()

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('a chain that is down', () => {
  it('is retried with backoff, reported, then surfaces as ChainUnavailableError (no crash)', async () => {
    const port = await closedPort()
    const reports: RetryInfo[] = []
    const vain = connectVain({
      rpcUrl: `http://127.0.0.1:${port}`,
      addresses: {
        token: '0x0000000000000000000000000000000000000001',
        staking: '0x0000000000000000000000000000000000000002',
        reputation: '0x0000000000000000000000000000000000000003',
        registry: '0x0000000000000000000000000000000000000004',
        roundManager: '0x0000000000000000000000000000000000000005',
        governance: '0x0000000000000000000000000000000000000006',
      },
      retry: { attempts: 3, minDelayMs: 10, onRetry: (info) => reports.push(info) },
    })
    const err = await vain.staking.stakeOf('0x0000000000000000000000000000000000000007').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ChainUnavailableError)
    expect((err as ChainUnavailableError).attempts).toBe(3)
    expect(reports.map((r) => r.attempt)).toEqual([1, 2])
    expect(isUnavailable((err as Error).cause)).toBe(true)
  })

  it('stops retrying when the signal aborts', async () => {
    const port = await closedPort()
    const client = createPublicClient({ transport: http(`http://127.0.0.1:${port}`, { retryCount: 0 }) })
    const started = Date.now()
    await expect(
      waitForChain(client, { attempts: Number.POSITIVE_INFINITY, minDelayMs: 50, signal: AbortSignal.timeout(300) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('waits for a chain that comes up later', async () => {
    const port = await closedPort()
    const client = createPublicClient({
      transport: retryingTransport(http(`http://127.0.0.1:${port}`), {
        attempts: 100,
        minDelayMs: 100,
        maxDelayMs: 200,
      }),
    })
    const waiting = waitForChain(client)
    await new Promise((r) => setTimeout(r, 300))
    const chain = await startLocalChain({ port, accounts: 2 })
    try {
      expect(await waiting).toBe(31337)
      expect(chain.rpcUrl).toBe(`http://127.0.0.1:${port}`)
      expect(await client.getBalance({ address: chain.accounts[1]!.address })).toBe(parseEther('10000'))
    } finally {
      await chain.stop()
    }
    // stopped: the port is closed again
    const plain = createPublicClient({ transport: http(`http://127.0.0.1:${port}`, { retryCount: 0 }) })
    await expect(withRetry(() => plain.getChainId(), { attempts: 1 })).rejects.toBeInstanceOf(ChainUnavailableError)
  })

  it('does not retry reverts: they are answers, decoded at once', async () => {
    const { nodes } = await freshSuite(shared, { nodes: [1] })
    let retried = 0
    const vain = connectVain({
      rpcUrl: shared.rpcUrl,
      addresses: nodes[0]!.addresses,
      privateKey: shared.keys[1]!,
      retry: { onRetry: () => retried++ },
    })
    await expect(vain.registry.register(libp2pIdentity('poor').key)).rejects.toBeInstanceOf(StakeTooLowError)
    expect(retried).toBe(0)
  })

  it('one policy: backs off with jitter between half and all of each doubling step, never retries a failure marked final', async () => {
    const port = await closedPort()
    const client = createPublicClient({ transport: http(`http://127.0.0.1:${port}`, { retryCount: 0 }) })
    const delays: number[] = []
    const policy = chainRetryPolicy({
      attempts: 5,
      minDelayMs: 8,
      maxDelayMs: 32,
      onRetry: ({ delayMs }) => delays.push(delayMs),
    })
    await expect(policy.execute(() => client.getChainId())).rejects.toMatchObject({
      name: 'ChainUnavailableError',
      attempts: 5,
    })
    expect(delays).toHaveLength(4)
    for (const [i, step] of [8, 16, 32, 32].entries()) {
      expect(delays[i]).toBeGreaterThanOrEqual(step / 2)
      expect(delays[i]).toBeLessThanOrEqual(step)
    }
    // e.g. a transaction that may have been sent: thrown at once, even though its cause is a network error
    let calls = 0
    const cause = await client.getChainId().catch((e: unknown) => e)
    const final = Object.assign(new Error('transaction may have been sent; not retrying', { cause }), { final: true })
    await expect(
      withRetry(async () => {
        calls++
        throw final
      }),
    ).rejects.toBe(final)
    expect(calls).toBe(1)
  })
})
