/** Errors of the model registry. @module */
import { VainFlError } from '../errors.js'

/** No model is registered under this name. */
export class UnknownModelError extends VainFlError {
  static override name = 'UnknownModelError'
  override name = 'UnknownModelError'
}

/** No version matches (name and number, or content hash). */
export class UnknownVersionError extends VainFlError {
  static override name = 'UnknownVersionError'
  override name = 'UnknownVersionError'
}

/** A name is already registered with a different architecture. */
export class ModelExistsError extends VainFlError {
  static override name = 'ModelExistsError'
  override name = 'ModelExistsError'
}

/** A version's architecture differs from the one registered for its name. */
export class ArchitectureMismatchError extends VainFlError {
  static override name = 'ArchitectureMismatchError'
  override name = 'ArchitectureMismatchError'
}

/** A registry with a store was used before `start()` (or after `stop()`). */
export class RegistryNotStartedError extends VainFlError {
  static override name = 'RegistryNotStartedError'
  override name = 'RegistryNotStartedError'
}
