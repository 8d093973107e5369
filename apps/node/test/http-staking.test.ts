/**
 * `POST /api/staking/stake` on a node with a chain (a local Hardhat chain): the stake lands on
 * chain from the node's account, the node re-reads its standing and registers its peer id.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectVain, deployVain, type LocalChain, startLocalChain } from '@vain/chain'
import { parseEther } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEV_DEPLOY_PARAMS } from '../src/chain/connect.js'
import { ChainConfigSchema } from '../src/config.js'
import { createLogger } from '../src/logger.js'
import { type RunningNode, startVainNode } from '../src/runtime.js'

describe('POST /api/staking/stake on a node with a chain', () => {
  let root: string
  let chain: LocalChain
  let node: RunningNode
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'vain-http-stake-'))
    chain = await startLocalChain({ accounts: 3 })
    const { addresses } = await deployVain(chain.walletClient(0), DEV_DEPLOY_PARAMS)
    const admin = connectVain({
      rpcUrl: chain.rpcUrl,
      addresses,
      privateKey: chain.accounts[0]?.privateKey as `0x${string}`,
    })
    await admin.token.transfer(chain.accounts[1]?.address as `0x${string}`, parseEther('5000'))
    node = await startVainNode(
      {
        dataDir: root,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: [],
        profile: 'loopback',
        roles: ['validator'],
        apiPort: 0,
        logLevel: 'error',
        json: false,
        chain: ChainConfigSchema.parse({ rpcUrl: chain.rpcUrl, account: 1, addresses, pollMs: 200 }),
      },
      createLogger({ level: 'error', json: false }),
    )
  }, 120_000)
  afterAll(async () => {
    await node?.stop()
    await chain?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it('stakes from the node’s account; the standing shows it; a bad amount is refused', async () => {
    const token = (await readFile(join(root, 'api-token'), 'utf8')).trim()
    const base = node.api?.url as string
    const stake = (body: unknown, auth = true) =>
      fetch(`${base}/api/staking/stake`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      })
    expect((await stake({ amount: '100' }, false)).status).toBe(401)
    expect((await stake({ amount: -5 })).status).toBe(400)
    let res = await stake({ amount: '1000' })
    // the node connects to its chain in the background: 503 ChainNotConnected until it has
    for (let i = 0; i < 100 && res.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 200))
      res = await stake({ amount: '1000' })
    }
    expect(res.status, await res.clone().text()).toBe(200)
    const body = (await res.json()) as { action: string; amount: string; tx: string; staked: string; tier: number }
    expect(body).toMatchObject({ action: 'stake', amount: '1000', staked: '1000' })
    expect(body.tx).toMatch(/^0x[0-9a-f]{64}$/)
    const onChain = await node.chain?.connection?.vain.standing(chain.accounts[1]?.address as `0x${string}`)
    expect(onChain?.staked).toBe(parseEther('1000'))
  }, 120_000)
})
