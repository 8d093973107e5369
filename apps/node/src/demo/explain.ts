/**
 * The demo's summary in words: why it stopped, what the upload figure counts, rounds trained vs
 * settled on chain, why the nodes' reputations differ.
 * @module
 */
import type { DemoChainSummary, DemoOptions, DemoSummary } from '../demo.js'

/** Bytes in KiB/MiB (binary units), for the sentences of the summary. */
const kib = (b: number): string =>
  b >= 1024 * 1024 ? `${(b / 1024 / 1024).toFixed(2)} MiB` : `${(b / 1024).toFixed(1)} KiB`

/**
 * The summary in words: why the demo stopped, what the upload figure counts, rounds trained vs
 * rounds settled on chain.
 */
export function explainRun(
  summary: DemoSummary,
  opts: Pick<DemoOptions, 'rounds' | 'target'>,
  short: (id: string) => string,
): string[] {
  const lines: string[] = []
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`
  if (summary.stopReason === 'target') {
    lines.push(
      `why it stopped: the global model reached the target ${pct(opts.target)} after round ${summary.targetReachedAtRound} (--target); ${summary.rounds} rounds ran in all (a round under way when the target was reached completes)`,
    )
  } else if (summary.stopReason === 'rounds') {
    lines.push(
      `why it stopped: all ${opts.rounds} rounds ran (--rounds ${opts.rounds}) without reaching the target ${pct(opts.target)}; more rounds or nodes would get closer`,
    )
  } else {
    lines.push(`why it stopped: the job did not finish in time (${summary.rounds} of ${opts.rounds} rounds completed)`)
  }
  if (summary.bytesPerNodePerRound > 0) {
    lines.push(
      `upload: each node uploaded ${kib(summary.bytesPerNodePerRound)} per round on average (its compressed update, sent to every committee member), ${summary.compression.toFixed(0)}× less than the dense float32 model of ${kib(summary.denseModelBytes)} it would otherwise send to each`,
    )
  }
  const lazy = summary.participation.filter((p) => p.roundsTrained < summary.rounds)
  if (lazy.length > 0 && summary.rounds > 0) {
    lines.push(
      `participation: ${lazy
        .slice(0, 5)
        .map((p) => `${short(p.peerId)} missed ${summary.rounds - p.roundsTrained} of ${summary.rounds} rounds`)
        .join(
          ', ',
        )}${lazy.length > 5 ? ` and ${lazy.length - 5} more` : ''} (its update came late or not at all: a round closes once enough updates are in)`,
    )
  }
  const c = summary.chain
  if (c !== undefined) {
    const unsettled = summary.rounds - c.settledRounds
    lines.push(
      `rounds trained vs settled: ${summary.rounds} trained (each made a new global model its committee agreed on), ${c.settledRounds} settled on chain (the committee's signed result, rewards claimable)${unsettled > 0 ? `; ${unsettled} trained but not settled — on a busy machine a round can finish before its chain round is opened, or its committee's signatures missed the deadline (then its pool is refunded)` : ''}`,
    )
  }
  return lines
}

/** Why the nodes' reputations differ: from the rounds they trained in and the committees they sat on. */
export function explainReputations(chain: DemoChainSummary, rounds: number, short: (id: string) => string): string[] {
  const reps = chain.nodes.map((n) => BigInt(n.reputation))
  if (reps.length < 2 || reps.every((r) => r === reps[0])) {
    return reps.length < 2
      ? []
      : ['reputations: all equal — every node trained in and sat on committees for as many rounds']
  }
  const why = chain.nodes
    .map((n, i) => ({ n, i }))
    .toSorted((a, b) => (BigInt(a.n.reputation) < BigInt(b.n.reputation) ? -1 : 1))
    .slice(0, 3)
    .map(({ n, i }) => {
      const missed = rounds - (n.roundsTrained ?? 0)
      const bits = [
        missed > 0 ? `missed ${missed} round${missed === 1 ? '' : 's'}` : `trained in all ${rounds} rounds`,
        `sat on ${n.committeeRounds ?? 0} committee${n.committeeRounds === 1 ? '' : 's'}`,
      ]
      return `node ${i} (${short(n.peerId)}, reputation ${n.reputation}) ${bits.join(' and ')}`
    })
  return [
    'why reputations differ: a node gains reputation for each settled round it trained in (with its reward claim) and for each settlement it signed as a committee member; rounds it missed or that were not settled add nothing',
    `  lowest: ${why.join('; ')}`,
  ]
}
