import { join } from 'node:path'
import {
  checkEligibility,
  DEFAULT_ROLE_TIERS,
  formatVain,
  type NodeStanding,
  type RoleTiers,
  roleTiersWith,
  type VainClient,
} from '@vain/chain'
import { loadOrCreateIdentity, NODE_ROLES, type NodeRole } from '@vain/net'
import { type Address, getAddress, isAddress } from 'viem'
import type { NodeChain } from '../chain/connect.js'
import { UsageError } from '../commands/common.js'
import type { ChainConfig } from '../config.js'
import { amountOf, confirm, duration, needKey, type Report, standingJson, type Values, when } from './shared.js'

/** Every role, lowest default tier first (the order `vain tier` lists them in). */
const ROLES_BY_TIER: readonly NodeRole[] = NODE_ROLES.toSorted((a, b) => DEFAULT_ROLE_TIERS[a] - DEFAULT_ROLE_TIERS[b])

/** Verdict for every role: eligible, or the typed error's message. */
export function roleVerdicts(
  s: NodeStanding,
  roleTiers: RoleTiers,
): Array<{ role: NodeRole; required: number; eligible: boolean; reason?: string; error?: string }> {
  return ROLES_BY_TIER.map((role) => {
    const v = checkEligibility(s, role, roleTiers)
    return v.eligible
      ? { role, required: v.required, eligible: true }
      : { role, required: v.required, eligible: false, reason: v.error.message, error: v.error.name }
  })
}

export function standingLines(s: NodeStanding, roleTiers: RoleTiers): string[] {
  const thresholds = [0, 1, 2]
    .map((i) => `tier ${i + 1}: ${formatVain(s.minStake[i] as bigint)}, reputation ${s.minReputation[i]}`)
    .join(' · ')
  const lines = [
    `address     ${s.address}`,
    `stake       ${formatVain(s.staked)}${s.pending > 0n ? ` (+ ${formatVain(s.pending)} unstaking, unlocks ${when(s.unlockAt)})` : ''}`,
    `reputation  ${s.reputation}`,
    `tier        ${s.tier === 0 ? '0 (none: not staked enough)' : s.tier}   [${thresholds}]`,
    `peer id     ${s.peerId ?? '(not registered)'}`,
    'roles',
  ]
  for (const v of roleVerdicts(s, roleTiers)) {
    if (v.eligible) lines.push(`  ✓ ${v.role.padEnd(10)} (needs tier ${v.required})`)
    else {
      const [first, ...rest] = (v.reason ?? '').split('\n')
      lines.push(`  ✗ ${v.role.padEnd(10)} refused: ${first}`, ...rest.map((r) => `               ${r}`))
    }
  }
  return lines
}

export async function tierAfter(
  vain: VainClient,
  address: Address,
  before: NodeStanding,
): Promise<[NodeStanding, string]> {
  const after = await vain.standing(address)
  const change = after.tier === before.tier ? `tier ${after.tier}` : `tier ${before.tier} → ${after.tier}`
  return [after, change]
}

export async function stake(chain: NodeChain, values: Values, positionals: string[]): Promise<Report> {
  const amount = amountOf(positionals[0], 'stake')
  const address = needKey(chain)
  const { vain } = chain
  const before = await vain.standing(address)
  const balance = await vain.token.balanceOf(address)
  const cooldown = await vain.staking.cooldown()
  await confirm(
    `Stake ${formatVain(amount)} from ${address} (balance ${formatVain(balance)}; unstaking takes a ${duration(cooldown)} cooldown)?`,
    values,
  )
  const tx = await vain.staking.stake(amount)
  let registered: string | undefined
  if (values['data-dir'] !== undefined) {
    const { peerId, privateKey } = await loadOrCreateIdentity({
      path: join(values['data-dir'], 'identity.key'),
      create: false,
    })
    const id = peerId.toString()
    const bound = await vain.registry.peerIdOf(address)
    if (bound !== id) {
      // the node's libp2p key (secp256k1) signs the binding; the registry checks it
      await (bound === undefined ? vain.registry.register(privateKey) : vain.registry.updatePeerId(privateKey))
    }
    registered = id
  }
  const [after, change] = await tierAfter(vain, address, before)
  return {
    lines: [
      `staked ${formatVain(amount)} from ${address} (tx ${tx.hash})`,
      `now ${formatVain(after.staked)} staked · ${change} · reputation ${after.reputation}`,
      ...(registered !== undefined ? [`peer id ${registered} registered for ${address}`] : []),
    ],
    json: { action: 'stake', amount: formatVain(amount).replace(' VAIN', ''), tx: tx.hash, ...standingJson(after) },
  }
}

export async function unstake(chain: NodeChain, values: Values, positionals: string[]): Promise<Report> {
  const address = needKey(chain)
  const { vain } = chain
  const before = await vain.standing(address)
  if (values.withdraw === true) {
    if (positionals.length > 0)
      throw new UsageError('unstake --withdraw takes no AMOUNT: it withdraws all that is unlocked')
    const tx = await vain.staking.withdraw()
    const withdrawn = before.pending
    const [after] = await tierAfter(vain, address, before)
    return {
      lines: [
        `withdrew ${formatVain(withdrawn)} to ${address} (tx ${tx.hash})`,
        `now ${formatVain(after.staked)} staked · tier ${after.tier}`,
      ],
      json: {
        action: 'withdraw',
        amount: formatVain(withdrawn).replace(' VAIN', ''),
        tx: tx.hash,
        ...standingJson(after),
      },
    }
  }
  const amount = amountOf(positionals[0], 'unstake')
  const cooldown = await vain.staking.cooldown()
  await confirm(
    `Unstake ${formatVain(amount)} of ${address}'s ${formatVain(before.staked)} stake (withdrawable after a ${duration(cooldown)} cooldown)?`,
    values,
  )
  const tx = await vain.staking.requestUnstake(amount)
  const [after, change] = await tierAfter(vain, address, before)
  const lost = roleVerdicts(before, roleTiersWith())
    .filter((v) => v.eligible)
    .map((v) => v.role)
  const stillOk = new Set(
    roleVerdicts(after, roleTiersWith())
      .filter((v) => v.eligible)
      .map((v) => v.role),
  )
  const dropped = lost.filter((r) => !stillOk.has(r))
  return {
    lines: [
      `requested unstake of ${formatVain(amount)} (tx ${tx.hash})`,
      `now ${formatVain(after.staked)} staked · ${change} · ${formatVain(after.pending)} unstaking, unlocks ${when(after.unlockAt)} (cooldown ${duration(cooldown)})`,
      ...(dropped.length > 0 ? [`this node may no longer be: ${dropped.join(', ')}`] : []),
      `after the cooldown, run: vain unstake --withdraw`,
    ],
    json: {
      action: 'unstake',
      amount: formatVain(amount).replace(' VAIN', ''),
      tx: tx.hash,
      cooldownSeconds: Number(cooldown),
      ...standingJson(after),
    },
  }
}

export async function tier(
  chain: NodeChain,
  config: ChainConfig,
  values: Values,
  positionals: string[],
): Promise<Report> {
  const { vain } = chain
  let address: Address
  if (positionals[0] !== undefined) {
    if (!isAddress(positionals[0])) throw new UsageError(`'${positionals[0]}' is not an address`)
    address = getAddress(positionals[0])
  } else if (values.peer !== undefined) {
    const a = await vain.registry.nodeOf(values.peer)
    if (a === undefined) throw new UsageError(`peer id ${values.peer} is not registered on chain`)
    address = a
  } else if (chain.address !== undefined) address = chain.address
  else throw new UsageError('tier needs an ADDRESS, --peer PEER_ID, or a key (this node)')
  const s = await vain.standing(address)
  const tiers = roleTiersWith(config.roleTiers)
  return {
    lines: standingLines(s, tiers),
    json: {
      ...standingJson(s),
      minStake: s.minStake.map((x) => formatVain(x).replace(' VAIN', '')),
      minReputation: s.minReputation.map(String),
      roles: roleVerdicts(s, tiers),
    },
  }
}
