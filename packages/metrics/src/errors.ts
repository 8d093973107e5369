/** Base class of the errors @vain/metrics throws on purpose (tests assert on `.name`). */
export class MetricsError extends Error {
  static override readonly name: string = 'MetricsError'
  override name = 'MetricsError'
}

/** A point is not after the series' last point (a clock that jumped back, or a replayed sample). */
export class OutOfOrderError extends MetricsError {
  static override readonly name = 'OutOfOrderError'
  override name = 'OutOfOrderError'
  constructor(
    readonly series: string,
    readonly t: number,
    readonly lastT: number,
  ) {
    super(`${series}: a point at ${t} is not after the last one (${lastT}); refused (the clock jumped back?)`)
  }
}

/** A point too far in the future of the store's clock (a clock that jumped forward), or not a valid time. */
export class ClockJumpError extends MetricsError {
  static override readonly name = 'ClockJumpError'
  override name = 'ClockJumpError'
  constructor(
    readonly series: string,
    readonly t: number,
    readonly now: number,
  ) {
    super(`${series}: a point at ${t} is not a time the store accepts now (${now}): refused`)
  }
}

/** A metric has as many series (label sets) as it may have: a label explosion. */
export class SeriesLimitError extends MetricsError {
  static override readonly name = 'SeriesLimitError'
  override name = 'SeriesLimitError'
  constructor(
    readonly metric: string,
    readonly limit: number,
  ) {
    super(`${metric} already has ${limit} series (label sets): refused a new one (label explosion?)`)
  }
}

/** A store file failed its checks; it was set aside (renamed to `setAsideAs`) and the store went on without it. */
export class StoreCorruptError extends MetricsError {
  static override readonly name = 'StoreCorruptError'
  override name = 'StoreCorruptError'
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly setAsideAs: string | undefined,
  ) {
    super(
      `${file} is damaged (${reason})${setAsideAs !== undefined ? `: set aside as ${setAsideAs}, the store goes on without it` : ''}`,
    )
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends MetricsError {
  static override readonly name = 'StoreClosedError'
  override name = 'StoreClosedError'
}

/** An alert rule (or rule set) failed validation; `issues` lists every problem. */
export class InvalidRuleError extends MetricsError {
  static override readonly name = 'InvalidRuleError'
  override name = 'InvalidRuleError'
  constructor(readonly issues: string[]) {
    super(`invalid alert rule: ${issues.join('; ')}`)
  }
}

/** A `/vain/metrics` summary (or other metrics message) that is not valid. */
export class InvalidSummaryError extends MetricsError {
  static override readonly name = 'InvalidSummaryError'
  override name = 'InvalidSummaryError'
}
