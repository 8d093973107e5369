/**
 * The chain commands (`stake`, `unstake`, `tier`, `propose`, `vote`, `proposal`) and `chain up|deploy`
 * under commander: their flags are parsed by ../chain-cli.ts and ../chain-up.ts (strict: an unknown
 * flag exits 2), after relative paths are resolved against the caller's directory.
 * @module
 */
import type { Command } from 'commander'
import { CHAIN_COMMANDS, CHAIN_HELP, CHAIN_UP_HELP } from './chain-help.js'
import { EXIT_CODES_HELP, interactionOf, resolvePath } from './common.js'

/** Flags whose value is a path. */
const PATH_FLAGS = new Set([
  '-c',
  '--config',
  '--chain',
  '--addresses',
  '--key-file',
  '-d',
  '--data-dir',
  '--relayer-key-file',
  '--out',
])

/**
 * `args` with the values of path flags resolved against the caller's directory, and
 * `--interaction LEVEL` taken out (returned apart).
 */
export function preparePassThrough(args: readonly string[]): { args: string[]; interaction: string | undefined } {
  const out: string[] = []
  let interaction: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (a === '--interaction') {
      interaction = args[++i]
      continue
    }
    if (a.startsWith('--interaction=')) {
      interaction = a.slice('--interaction='.length)
      continue
    }
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0 && PATH_FLAGS.has(a.slice(0, eq))) {
      const value = a.slice(eq + 1)
      out.push(`${a.slice(0, eq)}=${value === 'deploy' ? value : resolvePath(value)}`)
      continue
    }
    out.push(a)
    const next = args[i + 1]
    if (PATH_FLAGS.has(a) && next !== undefined && !next.startsWith('-')) {
      out.push(next === 'deploy' ? next : resolvePath(next))
      i++
    }
  }
  return { args: out, interaction }
}

const SUMMARIES: Record<(typeof CHAIN_COMMANDS)[number], [string, string]> = {
  stake: ['AMOUNT [options]', 'stake AMOUNT VAIN (asks first on a terminal; --yes skips it)'],
  unstake: [
    'AMOUNT | --withdraw [options]',
    'start the cooldown for AMOUNT VAIN of stake, or withdraw what is unlocked',
  ],
  tier: ['[ADDRESS] [options]', 'stake, reputation, tier and roles of this node (or ADDRESS)'],
  propose: ['-m TEXT ACTION... [options]', 'propose parameter changes or a slash to governance'],
  vote: ['ID for|against|abstain [--anonymous] | join [options]', 'vote on a proposal (openly, or anonymously)'],
  proposal: ['ID [--queue|--execute] [options]', "a proposal's state and votes; move it along"],
}

/** Registers the chain commands and `chain up|deploy`. */
export function registerChain(program: Command): void {
  for (const name of CHAIN_COMMANDS) {
    const [usage, description] = SUMMARIES[name]
    program
      .command(name)
      .usage(usage)
      .description(description)
      .helpOption('-h, --help', 'this help')
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', `\n${CHAIN_HELP}\n${EXIT_CODES_HELP}`)
      .action(async (_opts: unknown, cmd: Command) => {
        const { args, interaction: local } = preparePassThrough(cmd.args)
        const level = interactionOf(local ?? (cmd.optsWithGlobals() as { interaction?: string }).interaction)
        // none: JSON and never a question (without --yes a spending command then needs it)
        if (level === 'none' && !args.includes('--json')) args.push('--json')
        // loaded on use: viem and the chain client are not needed for --help
        const { runChainCommand, setChainPrompts } = await import('../chain-cli.js')
        setChainPrompts(level === 'normal' || level === 'verbose')
        process.exitCode = await runChainCommand(name, args)
      })
  }
  const chain = program
    .command('chain')
    .description('run a local chain in its own process, or deploy the suite on any EVM endpoint; writes a chain file')
    .addHelpText('after', `\n${CHAIN_UP_HELP}\n${EXIT_CODES_HELP}`)
  for (const [sub, usage, description] of [
    [
      'up',
      '[--port N] [--out FILE] [--params P] [--fund N] [--genesis N] [--json]',
      'run a local development chain on 127.0.0.1, deploy the vAIn suite, write a chain file, run until Ctrl-C',
    ],
    [
      'deploy',
      '--rpc URL [--out FILE] [--params P] [--key-file FILE] [--genesis ADDR,…]',
      'deploy the suite on any EVM JSON-RPC endpoint and write a chain file',
    ],
  ] as const) {
    chain
      .command(sub)
      .usage(usage)
      .description(description)
      .allowUnknownOption()
      .allowExcessArguments()
      .addHelpText('after', `\n${CHAIN_UP_HELP}\n${EXIT_CODES_HELP}`)
      .action(async (_opts: unknown, cmd: Command) => {
        const { args } = preparePassThrough(cmd.args)
        // the default chain file is written where you are
        if (!args.some((a) => a === '--out' || a.startsWith('--out=')))
          args.push('--out', resolvePath('vain-chain.json'))
        const { runChainUp } = await import('../chain-up.js')
        process.exitCode = await runChainUp([sub, ...args])
      })
  }
}
