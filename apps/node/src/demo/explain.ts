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

/**
 * Why the nodes' reputations differ, from the rounds they trained in and the committees they sat
 * on: each node below the highest is compared with it (missed rounds, fewer committee seats, or —
 * the same work — fewer of its signatures among the quorum that settled the rounds).
 */
export function explainReputations(chain: DemoChainSummary, rounds: number, short: (id: string) => string): string[] {
  const nodes = chain.nodes.map((n, i) => ({ n, i, rep: BigInt(n.reputation) }))
  if (nodes.length < 2) return []
  const top = nodes.reduce((a, b) => (b.rep > a.rep ? b : a))
  if (nodes.every((x) => x.rep === top.rep)) {
    return ['reputations: all equal — every node trained in and settled as many rounds']
  }
  const name = (x: (typeof nodes)[number]) => `node ${x.i} (${short(x.n.peerId)}, reputation ${x.n.reputation})`
  const reasons = nodes
    .filter((x) => x.rep < top.rep)
    .toSorted((a, b) => (a.rep < b.rep ? -1 : a.rep > b.rep ? 1 : 0))
    .slice(0, 4)
    .map((x) => {
      const missed = rounds - (x.n.roundsTrained ?? 0)
      const fewerSeats = (top.n.committeeRounds ?? 0) - (x.n.committeeRounds ?? 0)
      if (missed > 0) return `${name(x)} missed ${missed} round${missed === 1 ? '' : 's'}`
      if (fewerSeats > 0) {
        return `${name(x)} sat on ${fewerSeats} committee${fewerSeats === 1 ? '' : 's'} fewer than node ${top.i}`
      }
      return `${name(x)} did the same work as node ${top.i}, but fewer of its signatures were among those that settled the rounds`
    })
  return [
    `why reputations differ (highest: ${name(top)}): a node gains reputation for each settled round it trained in (with its reward claim) and for each settlement its signature is part of — a settlement needs only a quorum of the committee's signatures (e.g. 2 of 3), so a member left out gains nothing for that round; missed rounds add nothing`,
    ...reasons.map((r) => `  ${r}`),
  ]
}
