import { createInterface } from 'node:readline/promises'
import type { parseArgs } from 'node:util'
import { formatVain, type NodeStanding } from '@vain/chain'
import { type Address, parseEther } from 'viem'
import type { NodeChain } from '../chain/connect.js'
import { CancelledError, ConfirmationRequiredError, UsageError } from '../commands/common.js'
import { AppConfigError } from '../config.js'

/** Whether a chain command may ask on the terminal (`--interaction normal|verbose`, the default). */
let promptsAllowed = true

/** Lets chain commands ask on a terminal (`true`, the default) or never (`--interaction none|minimal`). */
export function setChainPrompts(allowed: boolean): void {
  promptsAllowed = allowed
}

export const OPTIONS = {
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

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values']

/** What a command reports: printed as lines, or as one JSON object with `--json`. */
export interface Report {
  lines: string[]
  json: Record<string, unknown>
}

export function amountOf(text: string | undefined, what: string): bigint {
  if (text === undefined) throw new UsageError(`${what} needs an AMOUNT of VAIN, e.g. 100 or 2.5`)
  if (!/^\d+(\.\d{1,18})?$/.test(text))
    throw new UsageError(`${what}: '${text}' is not an amount of VAIN (e.g. 100 or 2.5)`)
  const wei = parseEther(text)
  if (wei === 0n) throw new UsageError(`${what}: the amount must be greater than zero`)
  return wei
}

export function intOf(text: string, what: string, min: number, max: number): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${what} must be an integer in ${min}..${max}, got '${text}'`)
  return n
}

export const when = (unix: bigint): string => new Date(Number(unix) * 1000).toISOString().replace('.000Z', 'Z')

export function duration(seconds: bigint): string {
  const s = Number(seconds)
  if (s >= 86_400) return `${(s / 86_400).toFixed(s % 86_400 === 0 ? 0 : 1)} d`
  if (s >= 3_600) return `${(s / 3_600).toFixed(s % 3_600 === 0 ? 0 : 1)} h`
  if (s >= 60) return `${(s / 60).toFixed(s % 60 === 0 ? 0 : 1)} min`
  return `${s} s`
}

export async function confirm(question: string, values: Values): Promise<void> {
  if (values.yes === true) return
  if (!promptsAllowed || process.stdin.isTTY !== true || process.stderr.isTTY !== true) {
    const why = promptsAllowed ? 'not on a terminal' : 'no prompts at this --interaction level'
    throw new ConfirmationRequiredError(`${question.replace(/\?$/, '')}: ${why}, pass --yes to confirm`)
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase()
    if (answer !== 'y' && answer !== 'yes') throw new CancelledError('cancelled: nothing was sent')
  } finally {
    rl.close()
  }
}

export function needKey(chain: NodeChain): Address {
  if (chain.address === undefined) {
    throw new AppConfigError(
      'this command sends a transaction: give a key (chain.privateKey in the config, VAIN_PRIVATE_KEY, or --account N on a local chain)',
    )
  }
  return chain.address
}

export function standingJson(s: NodeStanding) {
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
