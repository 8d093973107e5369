/**
 * Errors of `@vain/resources`: named classes (tests and callers check `.name`), chained with `{ cause }`.
 * @module
 */

/** Base class of every error this package throws. */
export class ResourcesError extends Error {
  static override name = 'ResourcesError'
  override name = 'ResourcesError'
}

/** Invalid limits or options (a config value out of range, a bad interval…): names every problem. */
export class InvalidResourceConfigError extends ResourcesError {
  static override name = 'InvalidResourceConfigError'
  override name = 'InvalidResourceConfigError'
  constructor(
    message: string,
    readonly problems: string[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** A text read from an OS interface (`/proc/stat`, a power-supply `uevent`…) is not what it should be. */
export class ParseError extends ResourcesError {
  static override name = 'ParseError'
  override name = 'ParseError'
}

/** The operation was aborted through its `AbortSignal`. */
export class AbortError extends ResourcesError {
  static override name = 'AbortError'
  override name = 'AbortError'
  constructor(message = 'the operation was aborted', options?: ErrorOptions) {
    super(message, options)
  }
}

/** A task was not admitted before its admission deadline (the host stayed busy). */
export class AdmissionTimeoutError extends ResourcesError {
  static override name = 'AdmissionTimeoutError'
  override name = 'AdmissionTimeoutError'
  constructor(
    readonly task: string,
    readonly waitedMs: number,
    readonly reason: string,
  ) {
    super(`task ${task} was not admitted within ${Math.round(waitedMs)} ms: ${reason}`)
  }
}

/** The scheduler was stopped while the task waited or ran. */
export class SchedulerStoppedError extends ResourcesError {
  static override name = 'SchedulerStoppedError'
  override name = 'SchedulerStoppedError'
  constructor(message = 'the scheduler is stopped') {
    super(message)
  }
}

/** `signal.reason` as an Error, or an {@link AbortError}. */
export function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortError()
}
