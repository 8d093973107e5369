/**
 * Round analytics: the accuracy curve's fit and the rounds it predicts to a target; whether a
 * round will miss its deadline, from the arrival of its updates so far.
 */

/**
 * `accuracy(r) = intercept + slope · ln(r)`, fitted by least squares on the rounds after the
 * first (the first round starts from the random initial model and sits far below the trend).
 * On a recorded MNIST run (test/fixtures), fitted on its first 4–7 rounds, it predicted the
 * rounds to 91.5 / 92.5 / 93 % within 3 rounds (median error 1); saturating fits (exponential,
 * power law) put their ceiling below those targets and never reached them.
 */
export interface AccuracyCurve {
  intercept: number
  slope: number
  /** Root mean square error of the fit on its points. */
  rmse: number
  /** The fitted accuracy at round `r` (capped at 1). */
  at(r: number): number
  /**
   * The first round at which the fit reaches `target`; `Infinity` when it never does (a flat or
   * falling curve, or a target of 1 or more).
   */
  roundsTo(target: number): number
}

/**
 * Fit the accuracy curve of a job from its rounds so far (numbered from 1).
 *
 * @throws {RangeError} for fewer than 3 rounds after the first
 */
export function fitAccuracyCurve(points: ReadonlyArray<{ round: number; accuracy: number }>): AccuracyCurve {
  const first = Math.min(...points.map((p) => p.round))
  const used = points.filter((p) => p.round > first && p.round >= 1)
  if (used.length < 3) throw new RangeError('fitting a curve needs at least 3 rounds after the first')
  let sx = 0
  let sy = 0
  let sxx = 0
  let sxy = 0
  const n = used.length
  for (const p of used) {
    const x = Math.log(p.round)
    sx += x
    sy += p.accuracy
    sxx += x * x
    sxy += x * p.accuracy
  }
  const den = n * sxx - sx * sx
  const slope = den === 0 ? 0 : (n * sxy - sx * sy) / den
  const intercept = (sy - slope * sx) / n
  let sse = 0
  for (const p of used) sse += (intercept + slope * Math.log(p.round) - p.accuracy) ** 2
  return {
    intercept,
    slope,
    rmse: Math.sqrt(sse / n),
    at: (r) => Math.min(1, intercept + slope * Math.log(r)),
    roundsTo(target) {
      if (intercept >= target) return 1
      if (slope <= 0 || target >= 1) return Number.POSITIVE_INFINITY
      return Math.max(1, Math.ceil(Math.exp((target - intercept) / slope) - 1e-9))
    },
  }
}

/** A finished round's arrivals, to learn from. */
export interface RoundArrivals {
  /** ms from the round's start to each update's arrival, any order. */
  arrivalsMs: number[]
}

/** What {@link DeadlinePredictor.predict} says about a round under way. */
export interface DeadlinePrediction {
  /** When the last expected update should arrive (ms from the round's start). */
  lastArrivalMs: number
  /** Whether that is after the deadline. */
  miss: boolean
}

/**
 * Predict when a round's last update arrives from the arrivals so far: learnt from finished
 * rounds as the median ratio of the last arrival to the k-th, per k.
 */
export class DeadlinePredictor {
  private readonly ratios = new Map<number, number[]>()

  constructor(
    /** Updates a round waits for. */
    readonly expected: number,
    history: Iterable<RoundArrivals> = [],
  ) {
    for (const r of history) this.learn(r)
  }

  /** Learn from a finished round (ignored unless it got every expected update). */
  learn(round: RoundArrivals): void {
    const a = [...round.arrivalsMs].sort((x, y) => x - y)
    if (a.length < this.expected) return
    const last = a[this.expected - 1] as number
    for (let k = 1; k < this.expected; k++) {
      const kth = a[k - 1] as number
      if (kth <= 0) continue
      let list = this.ratios.get(k)
      if (list === undefined) {
        list = []
        this.ratios.set(k, list)
      }
      list.push(last / kth)
    }
  }

  /**
   * Predict the round's last arrival from `arrivalsMs` so far (ms since its start) against its
   * `deadlineMs`. With no history, the pace so far is extrapolated (arrivals evenly spread).
   */
  predict(arrivalsMs: readonly number[], deadlineMs: number): DeadlinePrediction {
    const a = [...arrivalsMs].sort((x, y) => x - y)
    const k = a.length
    if (k >= this.expected) {
      const last = a[this.expected - 1] as number
      return { lastArrivalMs: last, miss: last > deadlineMs }
    }
    if (k === 0) return { lastArrivalMs: Number.POSITIVE_INFINITY, miss: true }
    const kth = a[k - 1] as number
    const learnt = this.ratios.get(k)
    let last: number
    if (learnt !== undefined && learnt.length > 0) {
      const sorted = [...learnt].sort((x, y) => x - y)
      last = kth * (sorted[Math.floor(sorted.length / 2)] as number)
    } else last = (kth / k) * this.expected
    return { lastArrivalMs: last, miss: last > deadlineMs }
  }
}
