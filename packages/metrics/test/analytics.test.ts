import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeadlinePredictor, fitAccuracyCurve } from '../src/index.js'

/** Recorded from a real MNIST demo run (see the fixture's `source`). */
const run = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'mnist-demo-run.json'), 'utf8')) as {
  curve: Array<{ round: number; accuracy: number }>
  trainers: number
  rounds: Array<{ round: number; updatesSentAtMs: number[]; completedAfterMs: number | null }>
}

describe('analytics against a recorded MNIST run', () => {
  it('fits the accuracy curve on the first rounds and predicts the rounds to a target', () => {
    const firstRoundAt = (target: number) =>
      run.curve.find((p) => p.accuracy >= target)?.round ?? Number.POSITIVE_INFINITY
    const rows: string[] = []
    for (const seen of [4, 5, 6, 7]) {
      const fit = fitAccuracyCurve(run.curve.slice(0, seen))
      for (const target of [0.915, 0.925, 0.93]) {
        const predicted = fit.roundsTo(target)
        const actual = firstRoundAt(target)
        rows.push(`seen ${seen}, target ${target}: predicted ${predicted}, actual ${actual}`)
        // honest bound: within 3 rounds of what the run did (errors seen: 0–3, median 1)
        expect(Math.abs(predicted - actual), rows.join('\n')).toBeLessThanOrEqual(3)
      }
      // and the fit follows the rounds it has not seen: mean error under 1.5 points of accuracy
      const unseen = run.curve.slice(seen)
      const mae = unseen.reduce((s, p) => s + Math.abs(fit.at(p.round) - p.accuracy), 0) / unseen.length
      expect(mae).toBeLessThan(0.015)
    }
    console.log(rows.join('\n'))
    expect(fitAccuracyCurve(run.curve).roundsTo(1)).toBe(Number.POSITIVE_INFINITY)
    expect(
      fitAccuracyCurve([
        { round: 1, accuracy: 0.5 },
        { round: 2, accuracy: 0.6 },
        { round: 3, accuracy: 0.55 },
        { round: 4, accuracy: 0.5 },
      ]).roundsTo(0.9),
    ).toBe(Number.POSITIVE_INFINITY)
  })

  it('predicts from the first half of the updates whether a round misses its deadline', () => {
    const rounds = run.rounds.filter((r) => r.updatesSentAtMs.length >= run.trainers)
    const lasts = rounds.map((r) => Math.max(...r.updatesSentAtMs)).sort((a, b) => a - b)
    let right = 0
    let majority = 0
    let cases = 0
    // deadlines between the fastest and slowest rounds' last arrival: some rounds miss each
    for (const q of [0.3, 0.5, 0.7]) {
      const deadline = lasts[Math.floor(q * (lasts.length - 1))] as number
      const misses = rounds.filter((r) => Math.max(...r.updatesSentAtMs) > deadline).length
      majority += Math.max(misses, rounds.length - misses)
      rounds.forEach((r, i) => {
        // leave-one-out: learn from the other recorded rounds, then watch this one's first 2 arrivals
        const p = new DeadlinePredictor(
          run.trainers,
          rounds.filter((_, j) => j !== i).map((o) => ({ arrivalsMs: o.updatesSentAtMs })),
        )
        const sorted = [...r.updatesSentAtMs].sort((a, b) => a - b)
        const prediction = p.predict(sorted.slice(0, 2), deadline)
        const actual = (sorted.at(-1) as number) > deadline
        if (prediction.miss === actual) right++
        cases++
      })
    }
    // better than always guessing the more common outcome, and right in at least 70 % of cases
    expect(right / cases).toBeGreaterThanOrEqual(0.7)
    expect(right).toBeGreaterThan(majority)
  })

  it('extrapolates the pace when it has no history; a full round is exact', () => {
    const p = new DeadlinePredictor(4)
    expect(p.predict([1000, 2000], 3000)).toEqual({ lastArrivalMs: 4000, miss: true })
    expect(p.predict([1000, 2000, 2500, 2900], 3000)).toEqual({ lastArrivalMs: 2900, miss: false })
  })
})
