/**
 * commander helpers shared by the command groups: the `--api`/`-d`/`--json` options of the commands
 * that talk to a node, and the output settings of a run.
 * @module
 */
import type { Command } from 'commander'
import { API_HELP } from './api-client.js'
import { EXIT_CODES_HELP, interactionOf, type Output, outputFor } from './common.js'

/** Adds `--api URL`, `-d, --data-dir DIR` and `--json` to a command, and the API paragraph to its help. */
export function withApiOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', "the node's REST API, e.g. http://127.0.0.1:PORT (vain start prints it)")
    .option('-d, --data-dir <dir>', "the node's data dir: its API token is read from DIR/api-token")
    .option('--json', 'machine-readable output (one JSON value on stdout)')
    .addHelpText('after', `\n${API_HELP}\n${EXIT_CODES_HELP}`)
}

/** The output settings of `cmd`'s run: `--interaction` (global) and its `--json`. */
export function outputOf(cmd: Command): Output {
  const opts = cmd.optsWithGlobals() as { interaction?: string; json?: boolean }
  return outputFor(interactionOf(opts.interaction), opts.json === true)
}
