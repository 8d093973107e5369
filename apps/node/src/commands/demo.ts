/**
 * `vain demo`: a local vAIn network on 127.0.0.1 training MNIST (the flags; the run is ../demo.ts).
 * @module
 */
import type { Command } from 'commander'
import { EXIT, EXIT_CODES_HELP, interactionOf, UsageError } from './common.js'

interface DemoFlags {
  nodes: string
  rounds?: string
  target: string
  codec?: string
  secureAggregation?: boolean
  regions?: string
  json?: boolean
  keep?: boolean
  chain?: boolean
  proofs?: boolean
  verbose?: boolean
}

const CODECS = ['top-k', 'int8', 'fp16', 'fp32', 'dense']

/** Registers `vain demo`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a local vAIn network on 127.0.0.1 training MNIST (nodes in separate processes)')
    .option('-n, --nodes <n>', 'nodes, 2-50', '5')
    .option('-r, --rounds <n>', 'rounds (default 20; 4 with --proofs)')
    .option('--target <acc>', 'stop early at this test accuracy, 0-1', '0.9')
    .option('--codec <name>', 'update codec: top-k (default), int8, fp16, fp32, dense')
    .option(
      '--secure-aggregation',
      'committee members see only the sum of the updates (masked, dense fixed point: implies --codec dense)',
    )
    .option(
      '--regions <n>',
      'two-level aggregation: N regional committees (2-64) feed a root committee (for networks too large for one committee)',
    )
    .option('--json', 'print one JSON summary line at the end, no progress bars')
    .option('--keep', 'keep the temporary data directories')
    .option('--no-chain', 'no local chain (no stake, tiers, settlement or rewards)')
    .option(
      '--proofs',
      'proven updates (top-k 512 int8 with 2 Groth16 norm proofs each, checked by the committee; seconds per proof, so slower rounds) and, after training, an anonymous governance vote: the nodes join their tier groups, one proposes, several vote through a relayer',
    )
    .option('-v, --verbose', 'per-node logs')
    .addHelpText(
      'after',
      `
The demo says what it does as it goes: when the target accuracy is reached and why it stops, rounds
trained vs rounds settled on chain, what each node uploaded per round compared with the dense model,
and why the nodes' reputations differ. --interaction none is --json; verbose is -v.
${EXIT_CODES_HELP}`,
    )
    .action(async (o: DemoFlags, cmd: Command) => {
      const level = interactionOf((cmd.optsWithGlobals() as { interaction?: string }).interaction)
      const nodes = Number(o.nodes)
      // proven updates take seconds per proof on a laptop's cores: a shorter run by default
      const rounds = Number(o.rounds ?? (o.proofs === true ? '4' : '20'))
      const target = Number(o.target)
      if (!Number.isInteger(nodes) || nodes < 2 || nodes > 50)
        throw new UsageError('--nodes must be an integer in 2..50')
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 1000) {
        throw new UsageError('--rounds must be an integer in 1..1000')
      }
      if (!(target > 0 && target <= 1)) throw new UsageError('--target must be in (0, 1]')
      const secureAggregation = o.secureAggregation === true
      const codec = String(o.codec ?? (secureAggregation ? 'dense' : 'top-k'))
      if (!CODECS.includes(codec)) throw new UsageError(`unknown --codec '${codec}' (one of ${CODECS.join(', ')})`)
      const regions = o.regions === undefined ? undefined : Number(o.regions)
      if (regions !== undefined && !(Number.isInteger(regions) && regions >= 2 && regions <= 64)) {
        throw new UsageError('--regions must be an integer in 2..64')
      }
      if (regions !== undefined && secureAggregation) {
        throw new UsageError('--regions cannot be combined with --secure-aggregation yet')
      }
      if (secureAggregation && codec !== 'dense') {
        throw new UsageError(`--secure-aggregation sends dense masked vectors: it cannot use --codec ${codec}`)
      }
      // loaded on use: the demo loads the chain, training and the node
      const { runDemo } = await import('../demo.js')
      const summary = await runDemo({
        nodes,
        rounds,
        target,
        codec,
        secureAggregation,
        ...(regions !== undefined ? { regions } : {}),
        json: o.json === true || level === 'none',
        keep: o.keep === true,
        verbose: o.verbose === true || level === 'verbose',
        chain: o.chain !== false,
        proofs: o.proofs === true,
      })
      process.exit(summary.ok ? EXIT.ok : EXIT.failure)
    })
}
