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
import { parseArgs } from 'node:util'
import { findUnavailable } from '@vain/chain'
import { AnonymousVoteRefusedError } from './chain/anonymous.js'
import { connectChain, type NodeChain } from './chain/connect.js'
import { proposal, propose, vote } from './chain-cli/governance.js'
import { intOf, OPTIONS, type Report, setChainPrompts, type Values } from './chain-cli/shared.js'
import { roleVerdicts, stake, tier, unstake } from './chain-cli/staking.js'
import { CHAIN_COMMANDS } from './commands/chain-help.js'
import { CancelledError, ConfirmationRequiredError, UsageError } from './commands/common.js'
import { AppConfigError, type ChainConfig, loadChainConfig, readChainFile } from './config.js'
import { createLogger } from './logger.js'

export { CHAIN_HELP } from './commands/chain-help.js'
export { CancelledError, CHAIN_COMMANDS, ConfirmationRequiredError, roleVerdicts, setChainPrompts, UsageError }

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
