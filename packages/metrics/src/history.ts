/**
 * The node's history: every `intervalMs` the registry's samples go into the time-series store
 * (timestamps aligned to the interval) and are committed.
 */
import { MetricsError, SeriesLimitError } from './errors.js'
import type { MetricSample } from './registry/index.js'
import type { SeriesHandle, TimeSeriesStore } from './store/tsdb.js'

/** Options of {@link createHistory}. */
export interface HistoryInit {
  store: TimeSeriesStore
  /** What to record: e.g. `() => metrics.samples()`. */
  samples: () => Promise<MetricSample[]>
  /** Default 10 s. */
  intervalMs?: number
  now?: () => number
  /** Told of each sample the store refused (a clock jump, a label explosion), and of failed ticks. */
  onError?: (err: Error) => void
}

/** A running recorder: see {@link createHistory}. */
export interface History {
  start(): void
  stop(): Promise<void>
  /** Record one tick now; resolves when it is committed. Returns the points written. */
  record(): Promise<number>
  /** Samples refused so far, by error name. */
  readonly refused: Record<string, number>
}

/** Record a node's samples into a store at an interval. */
export function createHistory(init: HistoryInit): History {
  const interval = init.intervalMs ?? 10_000
  const now = init.now ?? Date.now
  const handles = new Map<string, SeriesHandle | null>()
  const refused: Record<string, number> = {}
  let timer: NodeJS.Timeout | undefined
  let running: Promise<unknown> = Promise.resolve()
  const refuse = (err: Error) => {
    refused[err.name] = (refused[err.name] ?? 0) + 1
    init.onError?.(err)
  }
  const record = async (): Promise<number> => {
    const samples = await init.samples()
    const t = Math.floor(now() / interval) * interval
    let n = 0
    for (const s of samples) {
      const key = `${s.name}${JSON.stringify(s.labels)}`
      let h = handles.get(key)
      if (h === undefined) {
        try {
          h = init.store.series(s.name, s.labels)
        } catch (err) {
          if (!(err instanceof SeriesLimitError)) throw err
          h = null
          refuse(err)
        }
        handles.set(key, h)
      }
      if (h === null) continue
      try {
        init.store.append(h, t, s.value)
        n++
      } catch (err) {
        if (!(err instanceof MetricsError)) throw err
        refuse(err)
      }
    }
    init.store.commit()
    return n
  }
  const tick = () => {
    running = record().catch((err: Error) => refuse(err))
  }
  return {
    refused,
    record,
    start() {
      if (timer !== undefined) return
      timer = setInterval(tick, interval)
      timer.unref()
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      await running
    },
  }
}
