/**
 * `vain` — the vAIn reference node's command line (commander; the commands are in ./commands/).
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. Errors print one line on
 * stderr (`vain: …`), never a stack trace (`VAIN_DEBUG=1` adds it).
 * @module
 */
import { CommanderError } from 'commander'
import { ApiRequestError } from './commands/api-client.js'
import { CancelledError, EXIT, UsageError } from './commands/common.js'
import { buildProgram } from './commands/program.js'

/** The exit code for an error thrown by a command. */
export function exitCodeOf(err: unknown): number {
  // help asked for (--help, vain help) exits 0; help shown for a missing subcommand is a usage error
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage
  if (err instanceof UsageError) return EXIT.usage
  // by name: config.ts (zod, the resources schema) is loaded only by the commands that need it
  const name = (err as { name?: string } | undefined)?.name
  if (name === 'AppConfigError' || name === 'ConfigError' || name === 'IdentityError') return EXIT.usage
  return EXIT.failure
}

/** One line for an error: its message, and its name where that says more. */
export function errorLine(err: unknown): string {
  if (err instanceof ApiRequestError) {
    return err.status === 0 ? err.message : `the node refused: ${err.errorName} (HTTP ${err.status}): ${err.message}`
  }
  const e = err as { name?: string; message?: string } | undefined
  const message = String(e?.message ?? err)
  const plain = ['Error', 'UsageError', 'AppConfigError', 'CancelledError', 'ConfirmationRequiredError']
  return e?.name === undefined || plain.includes(e.name) ? message : `${message} (${e.name})`
}

async function main(argv: string[]): Promise<void> {
  // `pnpm demo -- --nodes 8` passes the `--` through: drop it
  const args = argv.filter((a) => a !== '--')
  const program = buildProgram()
  if (args.length === 0) {
    program.outputHelp()
    return
  }
  await program.parseAsync(args, { from: 'user' })
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const code = exitCodeOf(err)
  // commander printed its own message (unknown option, missing argument) or the help already
  if (!(err instanceof CommanderError)) {
    process.stderr.write(`vain: ${errorLine(err)}\n`)
    if (process.env.VAIN_DEBUG === '1' && err instanceof Error && !(err instanceof CancelledError)) {
      process.stderr.write(`${err.stack}\n`)
    }
  }
  process.exit(code)
})
