/**
 * The chain commands of the `vain` CLI: `stake`, `unstake`, `tier`, `propose`, `vote` and
 * `proposal`. They read the `chain` section of a config file (or `--rpc`/`--addresses`/`--account`,
 * and the key from `VAIN_PRIVATE_KEY`), retry with backoff while the chain is unreachable and say
 * so, decode reverts into the typed errors' messages, ask before spending stake on a terminal
 * (`--yes` skips it; without a terminal `--yes` is required), and print one JSON object with
 * `--json`.
 * @module
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { parseArgs } from 'node:util'
import {
  checkEligibility,
  connectVain,
  DEFAULT_ROLE_TIERS,
  findUnavailable,
  formatVain,
  type NodeStanding,
  type ProposalAction,
  type RoleTiers,
  reputationAbi,
  roleTiersWith,
  roundManagerAbi,
  stakingAbi,
  type VainClient,
} from '@vain/chain'
import { loadOrCreateIdentity, NODE_ROLES, type NodeRole } from '@vain/net'
import { type Address, encodeFunctionData, getAddress, type Hex, isAddress, keccak256, parseEther, toBytes } from 'viem'
import {
  AnonymousVoteRefusedError,
  castAnonymousVoteVia,
  joinVoteGroup,
  shortNullifier,
  weightText,
} from './chain/anonymous.js'
import { connectChain, devAccountKey, type NodeChain, readKeyFile, resolvePrivateKey } from './chain/connect.js'
import { AppConfigError, type ChainConfig, loadChainConfig, readChainFile } from './config.js'
import { createLogger } from './logger.js'

/** Help text of the chain commands. */
export const CHAIN_HELP = `chain commands (stake, tiers, governance):
  vain stake AMOUNT [options]          stake AMOUNT VAIN (asks first on a terminal)
  vain unstake AMOUNT [options]        start the cooldown for AMOUNT VAIN of stake (asks first)
  vain unstake --withdraw [options]    withdraw unstaked VAIN once the cooldown is over
  vain tier [ADDRESS] [options]        stake, reputation, tier and roles of this node (or ADDRESS)
  vain propose -m TEXT ACTION... [options]
                                       propose parameter changes or a slash to governance
  vain vote ID for|against|abstain     vote on a proposal (weight = your stake × your tier 1/2/3,
                                       both as they were when the proposal was made)
  vain vote join [options]             put this node's anonymous-vote identity (derived from its
                                       key, always the same) in its tier's group on chain
  vain vote ID for|against|abstain --anonymous (--relayer-account N | --relayer-key-file FILE)
                                       vote without revealing which node you are: prove (Groth16,
                                       zero knowledge) that you were in a tier group when the
                                       proposal was made; a relayer sends the vote, so your address
                                       is not the sender. Weight = tier × that tier's minimum stake.
                                       One vote per node per proposal (a nullifier). In production
                                       the relayer is any third party: the proof binds the proposal
                                       and the vote, so a relayer can neither change nor replay it.
                                       A group member votes on proposals made after it joined only
                                       anonymously.
  vain proposal ID [--queue|--execute] a proposal's state and votes; move it along

chain options:
  -c, --config FILE        config file with a "chain" section (rpcUrl, account or privateKey, addresses)
      --chain FILE         the chain file vain chain up / vain chain deploy wrote
      --rpc URL            JSON-RPC endpoint (overrides the file)
      --addresses FILE     JSON with the suite's addresses (or a config file with chain.addresses)
      --account N          a local chain's development account N (Hardhat's mnemonic)
      --key-file FILE      the key in FILE (0x + 64 hex, mode 0600)
                           otherwise the key comes from chain.privateKey or VAIN_PRIVATE_KEY
      --retries N          attempts while the chain is unreachable (default 6, with backoff)
  -d, --data-dir DIR       the node's data dir: stake also registers its peer id on chain
  -y, --yes                do not ask for confirmation (required when not on a terminal)
      --json               one JSON object on stdout ({"ok":true,...} or {"ok":false,"error":...})
      --anonymous          vote: anonymously (see above)
      --relayer-account N  vote --anonymous: development account N sends the vote (pays its gas)
      --relayer-key-file FILE
                           vote --anonymous: the relayer's key (0x + 64 hex, mode 0600)

propose actions (one or more):
  --set-min-stake A,B,C    minimum stake of tiers 1,2,3 (VAIN)
  --set-min-reputation A,B,C
  --set-cooldown SECONDS   unstake cooldown
  --set-committee-tier N   tier committee members need
  --set-dissent-penalty VAIN,REPUTATION
  --slash ADDRESS:AMOUNT   slash AMOUNT VAIN of ADDRESS's stake
  --action TARGET:CALLDATA any call (hex calldata)
`

/** A problem with the command line: exit code 2. */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

/** Stake would be spent without a confirmation. */
export class ConfirmationRequiredError extends UsageError {
  static override name = 'ConfirmationRequiredError'
  override name = 'ConfirmationRequiredError'
}

/** The user answered no. */
export class CancelledError extends Error {
  static override name = 'CancelledError'
  override name = 'CancelledError'
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  chain: { type: 'string' },
  'key-file': { type: 'string' },
  rpc: { type: 'string' },
  addresses: { type: 'string' },
  account: { type: 'string' },
  retries: { type: 'string' },
  'data-dir': { type: 'string', short: 'd' },
  yes: { type: 'boolean', short: 'y' },
  json: { type: 'boolean' },
  withdraw: { type: 'boolean' },
  queue: { type: 'boolean' },
  execute: { type: 'boolean' },
  peer: { type: 'string' },
  message: { type: 'string', short: 'm' },
  'set-min-stake': { type: 'string' },
  'set-min-reputation': { type: 'string' },
  'set-cooldown': { type: 'string' },
  'set-committee-tier': { type: 'string' },
  'set-dissent-penalty': { type: 'string' },
  slash: { type: 'string', multiple: true },
  action: { type: 'string', multiple: true },
  anonymous: { type: 'boolean' },
  'relayer-account': { type: 'string' },
  'relayer-key-file': { type: 'string' },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

/** Commands this module handles. */
export const CHAIN_COMMANDS = ['stake', 'unstake', 'tier', 'propose', 'vote', 'proposal'] as const

/** What a command reports: printed as lines, or as one JSON object with `--json`. */
interface Report {
  lines: string[]
  json: Record<string, unknown>
}

function amountOf(text: string | undefined, what: string): bigint {
  if (text === undefined) throw new UsageError(`${what} needs an AMOUNT of VAIN, e.g. 100 or 2.5`)
  if (!/^\d+(\.\d{1,18})?$/.test(text))
    throw new UsageError(`${what}: '${text}' is not an amount of VAIN (e.g. 100 or 2.5)`)
  const wei = parseEther(text)
  if (wei === 0n) throw new UsageError(`${what}: the amount must be greater than zero`)
  return wei
}

function intOf(text: string, what: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${what} must be an integer in ${min}..${max}, got '${text}'`)
  return n
}

const when = (unix: bigint): string => new Date(Number(unix) * 1000).toISOString().replace('.000Z', 'Z')

function duration(seconds: bigint): string {
  const s = Number(seconds)
  if (s >= 86_400) return `${(s / 86_400).toFixed(s % 86_400 === 0 ? 0 : 1)} d`
  if (s >= 3_600) return `${(s / 3_600).toFixed(s % 3_600 === 0 ? 0 : 1)} h`
  if (s >= 60) return `${(s / 60).toFixed(s % 60 === 0 ? 0 : 1)} min`
  return `${s} s`
}

/** Reads `--addresses FILE`: plain addresses, `{ addresses }` or `{ chain: { addresses } }`. */
async function addressesFrom(file: string): Promise<unknown> {
  let parsed: any
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new AppConfigError(`cannot read addresses from ${file}: ${(err as Error).message}`)
  }
  return parsed?.chain?.addresses ?? parsed?.addresses ?? parsed
}

async function chainConfigFrom(values: Values): Promise<ChainConfig> {
  // a chain file (vain chain up / deploy) gives the endpoint and the addresses; flags override it
  const fromFile = values.chain === undefined ? undefined : (await readChainFile(values.chain)).chain
  const flags: Record<string, unknown> = {
    rpcUrl: values.rpc ?? fromFile?.rpcUrl,
    account: values.account === undefined ? undefined : intOf(values.account, '--account', 0, 999),
    keyFile: values['key-file'],
    addresses: values.addresses === undefined ? fromFile?.addresses : await addressesFrom(values.addresses),
    fromBlock: fromFile?.fromBlock,
  }
  if (values.retries !== undefined) flags.retry = { attempts: intOf(values.retries, '--retries', 1, 1000) }
  return loadChainConfig(values.config, flags)
}

async function confirm(question: string, values: Values): Promise<void> {
  if (values.yes === true) return
  if (process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    throw new ConfirmationRequiredError(`${question.replace(/\?$/, '')}: not on a terminal, pass --yes to confirm`)
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase()
    if (answer !== 'y' && answer !== 'yes') throw new CancelledError('cancelled: nothing was sent')
  } finally {
    rl.close()
  }
}

function needKey(chain: NodeChain): Address {
  if (chain.address === undefined) {
    throw new AppConfigError(
      'this command sends a transaction: give a key (chain.privateKey in the config, VAIN_PRIVATE_KEY, or --account N on a local chain)',
    )
  }
  return chain.address
}

function standingJson(s: NodeStanding) {
  return {
    address: s.address,
    staked: formatVain(s.staked).replace(' VAIN', ''),
    pending: formatVain(s.pending).replace(' VAIN', ''),
    unlockAt: s.unlockAt === 0n ? null : when(s.unlockAt),
    reputation: String(s.reputation),
    tier: s.tier,
    registered: s.registered,
    peerId: s.peerId ?? null,
  }
}

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

function standingLines(s: NodeStanding, roleTiers: RoleTiers): string[] {
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

async function tierAfter(vain: VainClient, address: Address, before: NodeStanding): Promise<[NodeStanding, string]> {
  const after = await vain.standing(address)
  const change = after.tier === before.tier ? `tier ${after.tier}` : `tier ${before.tier} → ${after.tier}`
  return [after, change]
}

async function stake(chain: NodeChain, values: Values, positionals: string[]): Promise<Report> {
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

async function unstake(chain: NodeChain, values: Values, positionals: string[]): Promise<Report> {
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

async function tier(chain: NodeChain, config: ChainConfig, values: Values, positionals: string[]): Promise<Report> {
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

function actionsOf(chain: NodeChain, values: Values): ProposalAction[] {
  const a = chain.addresses
  const actions: ProposalAction[] = []
  const triple = (text: string, what: string, parse: (x: string) => bigint): [bigint, bigint, bigint] => {
    const parts = text.split(',').map((x) => x.trim())
    if (parts.length !== 3) throw new UsageError(`${what} needs three values A,B,C (tiers 1, 2, 3)`)
    return parts.map(parse) as [bigint, bigint, bigint]
  }
  const vainAmount = (x: string): bigint => {
    if (!/^\d+(\.\d{1,18})?$/.test(x)) throw new UsageError(`'${x}' is not an amount of VAIN`)
    return parseEther(x)
  }
  const uint = (x: string): bigint => {
    if (!/^\d{1,30}$/.test(x)) throw new UsageError(`'${x}' is not a whole number`)
    return BigInt(x)
  }
  if (values['set-min-stake'] !== undefined) {
    const args = [triple(values['set-min-stake'], '--set-min-stake', vainAmount)] as const
    actions.push({
      target: a.staking,
      data: encodeFunctionData({ abi: stakingAbi, functionName: 'setMinStake', args }),
    })
  }
  if (values['set-min-reputation'] !== undefined) {
    const args = [triple(values['set-min-reputation'], '--set-min-reputation', uint)] as const
    actions.push({
      target: a.reputation,
      data: encodeFunctionData({ abi: reputationAbi, functionName: 'setMinReputation', args }),
    })
  }
  if (values['set-cooldown'] !== undefined) {
    const args = [uint(values['set-cooldown'])] as const
    actions.push({
      target: a.staking,
      data: encodeFunctionData({ abi: stakingAbi, functionName: 'setCooldown', args }),
    })
  }
  if (values['set-committee-tier'] !== undefined) {
    const args = [intOf(values['set-committee-tier'], '--set-committee-tier', 1, 3)] as const
    actions.push({
      target: a.roundManager,
      data: encodeFunctionData({ abi: roundManagerAbi, functionName: 'setCommitteeTier', args }),
    })
  }
  if (values['set-dissent-penalty'] !== undefined) {
    const [amount, rep] = values['set-dissent-penalty'].split(',').map((x) => x.trim())
    if (amount === undefined || rep === undefined) throw new UsageError('--set-dissent-penalty needs VAIN,REPUTATION')
    const args = [vainAmount(amount), uint(rep)] as const
    actions.push({
      target: a.roundManager,
      data: encodeFunctionData({ abi: roundManagerAbi, functionName: 'setDissentPenalty', args }),
    })
  }
  for (const s of values.slash ?? []) {
    const [who, amount] = s.split(':')
    if (who === undefined || amount === undefined || !isAddress(who))
      throw new UsageError(`--slash needs ADDRESS:AMOUNT, got '${s}'`)
    const args = [getAddress(who), vainAmount(amount), keccak256(toBytes('governance'))] as const
    actions.push({ target: a.staking, data: encodeFunctionData({ abi: stakingAbi, functionName: 'slash', args }) })
  }
  for (const s of values.action ?? []) {
    const [target, data] = s.split(':')
    if (target === undefined || data === undefined || !isAddress(target) || !/^0x([0-9a-fA-F]{2})+$/.test(data)) {
      throw new UsageError(`--action needs TARGET:CALLDATA (an address and 0x hex), got '${s}'`)
    }
    actions.push({ target: getAddress(target), data: data as Hex })
  }
  return actions
}

async function propose(chain: NodeChain, values: Values): Promise<Report> {
  const address = needKey(chain)
  const description = values.message
  if (description === undefined || description.trim() === '')
    throw new UsageError('propose needs a description: -m TEXT')
  const actions = actionsOf(chain, values)
  if (actions.length === 0)
    throw new UsageError('propose needs at least one action (e.g. --set-min-stake 100,1000,10000)')
  const tx = await chain.vain.governance.propose(actions, description)
  const p = await chain.vain.governance.proposalOf(tx.proposalId)
  return {
    lines: [
      `proposal ${tx.proposalId} created by ${address} with ${actions.length} action(s) (tx ${tx.hash})`,
      `voting open until ${when(p.voteEnd)}: vain vote ${tx.proposalId} for|against|abstain`,
      `votes weigh stake × tier as of ${when(p.snapshot)}: stake added or moved later does not vote on it`,
    ],
    json: {
      action: 'propose',
      proposalId: String(tx.proposalId),
      tx: tx.hash,
      voteEnd: when(p.voteEnd),
      snapshot: when(p.snapshot),
      actions,
    },
  }
}

async function proposalReport(chain: NodeChain, id: bigint, extra: Record<string, unknown> = {}) {
  const g = chain.vain.governance
  const [p, state, quorum] = await Promise.all([
    g.proposalOf(id),
    g.state(id),
    chain.vain.contracts.governance.read.quorumVotes(),
  ])
  const line = `proposal ${id}: ${state} · for ${weightText(p.forVotes)} · against ${weightText(p.againstVotes)} · abstain ${weightText(p.abstainVotes)} (VAIN × tier; quorum ${weightText(quorum)}) · voting ${state === 'active' ? 'until' : 'ended'} ${when(p.voteEnd)}${p.eta > 0n ? ` · executable from ${when(p.eta)}` : ''}`
  return {
    line,
    json: {
      proposalId: String(id),
      state,
      proposer: p.proposer,
      forVotes: weightText(p.forVotes),
      againstVotes: weightText(p.againstVotes),
      abstainVotes: weightText(p.abstainVotes),
      quorum: weightText(quorum),
      snapshot: when(p.snapshot),
      voteEnd: when(p.voteEnd),
      eta: p.eta > 0n ? when(p.eta) : null,
      ...extra,
    },
  }
}

function proposalId(text: string | undefined): bigint {
  if (text === undefined || !/^\d{1,30}$/.test(text))
    throw new UsageError(`a proposal ID (a number) is needed, got '${text ?? ''}'`)
  return BigInt(text)
}

/** `vain vote join`: this node's vote identity into its tier's group. */
async function voteJoin(chain: NodeChain, config: ChainConfig, positionals: string[]): Promise<Report> {
  if (positionals.length > 1) throw new UsageError(`vote join takes no argument, got '${positionals[1]}'`)
  needKey(chain)
  const r = await joinVoteGroup(chain.vain, resolvePrivateKey(config) as Hex)
  const commitment = `0x${r.commitment.toString(16).padStart(64, '0')}`
  return {
    lines: r.joined
      ? [
          `${r.address} joined tier ${r.tier}'s anonymous-vote group with identity commitment ${commitment} (tx ${r.tx}, gas ${r.gasUsed})`,
          'it may vote anonymously on proposals made from now on: vain vote ID for|against|abstain --anonymous --relayer-account N',
        ]
      : [`${r.address} is already in tier ${r.tier}'s anonymous-vote group (identity commitment ${commitment})`],
    json: {
      action: 'vote-join',
      address: r.address,
      tier: r.tier,
      commitment,
      joined: r.joined,
      tx: r.tx ?? null,
      gasUsed: r.gasUsed === undefined ? null : String(r.gasUsed),
    },
  }
}

/** The relayer of an anonymous vote: `--relayer-account N` or `--relayer-key-file FILE`. */
function relayerOf(chain: NodeChain, config: ChainConfig, values: Values): VainClient {
  const account = values['relayer-account']
  const file = values['relayer-key-file']
  if ((account === undefined) === (file === undefined)) {
    throw new UsageError(
      'vote --anonymous needs one relayer to send it: --relayer-account N or --relayer-key-file FILE (sending it yourself would show your address)',
    )
  }
  const key = account !== undefined ? devAccountKey(intOf(account, '--relayer-account', 0, 999)) : readKeyFile(file!)
  return connectVain({ rpcUrl: config.rpcUrl, addresses: chain.addresses, privateKey: key })
}

async function anonymousVote(
  chain: NodeChain,
  config: ChainConfig,
  values: Values,
  id: bigint,
  support: 'for' | 'against' | 'abstain',
): Promise<Report> {
  needKey(chain)
  const relayer = relayerOf(chain, config, values)
  const v = await castAnonymousVoteVia({ vain: chain.vain, privateKey: resolvePrivateKey(config) as Hex }, relayer, {
    proposalId: id,
    support,
    fromBlock: config.fromBlock,
  })
  const r = await proposalReport(chain, id, {
    action: 'vote',
    anonymous: true,
    support,
    tier: v.tier,
    weight: weightText(v.weight),
    nullifier: `0x${v.nullifier.toString(16).padStart(64, '0')}`,
    relayer: v.relayer,
    tx: v.tx,
    gasUsed: String(v.gasUsed),
    proveMs: Math.round(v.proveMs),
    verifyMs: Math.round(v.verifyMs),
  })
  return {
    lines: [
      `voted ${support} on proposal ${id} anonymously, as one of tier ${v.tier}'s group, with weight ${weightText(v.weight)} (tier × the tier's minimum stake)`,
      `sent by relayer ${v.relayer} (tx ${v.tx}, gas ${v.gasUsed}) · nullifier ${shortNullifier(v.nullifier)} · proved in ${(v.proveMs / 1000).toFixed(2)} s, checked by the relayer in ${(v.verifyMs / 1000).toFixed(2)} s`,
      r.line,
    ],
    json: r.json,
  }
}

async function vote(chain: NodeChain, config: ChainConfig, values: Values, positionals: string[]): Promise<Report> {
  if (positionals[0] === 'join') return voteJoin(chain, config, positionals)
  needKey(chain)
  const id = proposalId(positionals[0])
  const support = positionals[1]
  if (support !== 'for' && support !== 'against' && support !== 'abstain') {
    throw new UsageError(`vote needs for, against or abstain after the proposal ID, got '${support ?? ''}'`)
  }
  if (positionals.length > 2) throw new UsageError(`vote takes ID and a vote, got also '${positionals[2]}'`)
  if (values.anonymous === true) return anonymousVote(chain, config, values, id, support)
  if (values['relayer-account'] !== undefined || values['relayer-key-file'] !== undefined) {
    throw new UsageError('--relayer-account / --relayer-key-file only go with --anonymous')
  }
  const tx = await chain.vain.governance.vote(id, support).catch((err: unknown) => {
    if ((err as { errorName?: string }).errorName === 'VotesAnonymously') {
      throw new UsageError(
        `${chain.address} was in a tier group when proposal ${id} was made: it votes on it only anonymously (vain vote ${id} ${support} --anonymous --relayer-account N)`,
      )
    }
    throw err
  })
  const cast = tx.events.find((e) => e.eventName === 'VoteCast') as { args: { weight: bigint } } | undefined
  const weight = cast?.args.weight ?? 0n
  const r = await proposalReport(chain, id, { action: 'vote', support, weight: weightText(weight), tx: tx.hash })
  return {
    lines: [
      `voted ${support} on proposal ${id} with weight ${weightText(weight)} (your stake × tier when it was proposed; tx ${tx.hash})`,
      r.line,
    ],
    json: r.json,
  }
}

async function proposal(chain: NodeChain, values: Values, positionals: string[]): Promise<Report> {
  const id = proposalId(positionals[0])
  const lines: string[] = []
  if (values.queue === true) {
    needKey(chain)
    const tx = await chain.vain.governance.queue(id)
    lines.push(`queued proposal ${id} (tx ${tx.hash})`)
  }
  if (values.execute === true) {
    needKey(chain)
    const tx = await chain.vain.governance.execute(id)
    lines.push(`executed proposal ${id} (tx ${tx.hash})`)
  }
  const r = await proposalReport(chain, id)
  return { lines: [...lines, r.line], json: r.json }
}

/**
 * Runs a chain command (`stake`, `unstake`, `tier`, `propose`, `vote`, `proposal`) and returns
 * the exit code: 0 done, 1 the chain refused or could not be reached, 2 bad usage/configuration.
 *
 * @example
 * ```ts
 * process.exitCode = await runChainCommand('tier', ['--config', 'node.json', '--json'])
 * ```
 */
export async function runChainCommand(command: (typeof CHAIN_COMMANDS)[number], args: string[]): Promise<number> {
  let values: Values
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true }))
  } catch (err) {
    process.stderr.write(`vain: ${(err as Error).message}\n\nRun 'vain help' for usage.\n`)
    return 2
  }
  const json = values.json === true
  const log = createLogger({ level: 'warn', json, name: 'vain' })
  const fail = (err: unknown, code: number): number => {
    const e = err as Error
    const name = e?.name ?? 'Error'
    const message = String(e?.message ?? err)
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ ok: false, command, error: name, message, chainDown: findUnavailable(err) !== undefined })}\n`,
      )
    } else {
      const plain = ['Error', 'UsageError', 'AppConfigError', 'ContractRevertError', 'ChainUnavailableError']
      const hint = plain.includes(name) ? '' : ` (${name})`
      process.stderr.write(`vain ${command}: ${message}${hint}\n`)
    }
    return code
  }
  let config: ChainConfig
  let chain: NodeChain
  try {
    config = await chainConfigFrom(values)
    if (config.addresses === 'deploy') {
      throw new AppConfigError('chain.addresses "deploy" only works for `vain start`: give the deployed addresses')
    }
    chain = await connectChain(config, { log, reportEveryMs: 0 })
  } catch (err) {
    return fail(err, err instanceof AppConfigError || err instanceof UsageError ? 2 : 1)
  }
  try {
    let report: Report
    switch (command) {
      case 'stake':
        report = await stake(chain, values, positionals)
        break
      case 'unstake':
        report = await unstake(chain, values, positionals)
        break
      case 'tier':
        report = await tier(chain, config, values, positionals)
        break
      case 'propose':
        report = await propose(chain, values)
        break
      case 'vote':
        report = await vote(chain, config, values, positionals)
        break
      case 'proposal':
        report = await proposal(chain, values, positionals)
        break
    }
    if (json) process.stdout.write(`${JSON.stringify({ ok: true, command, ...report.json })}\n`)
    else process.stdout.write(`${report.lines.join('\n')}\n`)
    return 0
  } catch (err) {
    if (err instanceof CancelledError) return fail(err, 1)
    const usage = err instanceof UsageError || err instanceof AppConfigError || err instanceof AnonymousVoteRefusedError
    return fail(err, usage ? 2 : 1)
  }
}
