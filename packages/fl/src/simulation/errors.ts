/** Errors of the simulation and its training pool. @module */
import { VainFlError, type VainFlErrorOptions } from '../errors.js'

/** A worker thread of a training pool exited or crashed while the pool was running. */
export class WorkerCrashedError extends VainFlError {
  static override name = 'WorkerCrashedError'
  override name = 'WorkerCrashedError'
  /** The worker's exit code, when it exited. */
  readonly exitCode: number | undefined
  constructor(message: string, exitCode?: number, options: VainFlErrorOptions = {}) {
    super(message, options)
    this.exitCode = exitCode
  }
}

/**
 * A task failed inside a worker thread. `remoteName` is the `name` of the error the worker threw
 * (e.g. `'ShapeMismatchError'`), `message` its message.
 */
export class TaskFailedError extends VainFlError {
  static override name = 'TaskFailedError'
  override name = 'TaskFailedError'
  readonly remoteName: string
  constructor(remoteName: string, message: string, options: VainFlErrorOptions = {}) {
    super(`${remoteName}: ${message}`, options)
    this.remoteName = remoteName
  }
}
