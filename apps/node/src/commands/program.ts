/**
 * The `vain` command tree (commander): every command and subcommand has `--help`; `vain help CMD`
 * too. Errors are typed (see ./common.ts) and turned into exit codes by ../cli.ts.
 * @module
 */
import { Command, Option } from 'commander'
import { registerChain } from './chain.js'
import { CHAIN_HELP } from './chain-help.js'
import { EXIT_CODES_HELP, INTERACTION_HELP, INTERACTION_LEVELS } from './common.js'
import { registerDemo } from './demo.js'
import { registerJob } from './job.js'
import { registerModel } from './model.js'
import { registerNodeInfo } from './node-info.js'
import { registerStart } from './start.js'

/** The overview at the end of `vain help`. */
export const OVERVIEW = `Usage at a glance:
  vain start [options]                 run a node until SIGINT/SIGTERM
  vain demo [options]                  a local vAIn network on 127.0.0.1 training MNIST
                                       (vain demo --no-chain: without the local chain;
                                        vain demo --proofs: proven updates and an anonymous vote)
  vain status --api URL                a node's identity, peers, jobs and chain standing
  vain peers --api URL                 a node's peers as a table (--json for the raw list)
  vain job submit --api URL -d DIR FILE.json
                                       submit a job (a JSON job spec) through a node
  vain job list|status|cancel --api URL [-d DIR] [JOB_ID]
  vain model import --api URL -d DIR FILE.onnx
                                       upload an ONNX model; prints its content id
  vain model export --api URL CID -o FILE.onnx
                                       save a model as a standard ONNX inference model
  vain resources --api URL             a node's CPU, memory, disk, network, GPU, battery (as bars)
  vain stake|unstake|tier|propose|vote|proposal
                                       stake, tiers and governance on chain (below)
  vain chain up|deploy                 a local chain in its own process, or the suite on any
                                       EVM endpoint; writes a chain file
  vain help [COMMAND]                  help on vain or on a command (also vain COMMAND --help)

Relative paths (config files, data dirs, job specs, models) resolve against the directory you
run vain from, also through pnpm (pnpm vain …).

${INTERACTION_HELP}

${CHAIN_HELP}
${EXIT_CODES_HELP}`

/** Builds the `vain` program (no side effects until it is parsed). */
export function buildProgram(): Command {
  const program = new Command('vain')
    .description('vain — the vAIn reference node (decentralized federated learning over libp2p)')
    .addOption(
      new Option(
        '--interaction <level>',
        'how much vain talks and asks (default normal; env VAIN_INTERACTION)',
      ).choices(INTERACTION_LEVELS),
    )
    .helpOption('-h, --help', 'help on vain (vain COMMAND --help: on a command)')
    .helpCommand('help [command]', 'help on vain or on a command')
    .showHelpAfterError("(run 'vain help' or 'vain COMMAND --help' for usage)")
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(text.startsWith('error:') ? `vain: ${text.slice('error: '.length)}` : text),
    })
  program.addHelpText('after', `\n${OVERVIEW}`)
  registerStart(program)
  registerDemo(program)
  registerNodeInfo(program)
  registerJob(program)
  registerModel(program)
  registerChain(program)
  return program
}
