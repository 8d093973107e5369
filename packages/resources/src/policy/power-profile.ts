/**
 * The low-power profile (for laptops, phones, small boards): fewer local epochs, smaller batches,
 * training only while charging or idle, and the light-node (tier 1) role. Chosen automatically on
 * battery; a config overrides it.
 * @module
 */
import type { ResourceLimits } from '../limits.js'
import type { ResourceSample } from '../sampling/sample.js'

/** A power profile and what it changes. */
export interface PowerProfile {
  name: 'normal' | 'low-power'
  /** Why this profile (e.g. `"on battery (42 %)"`, `"set in config"`). */
  reason: string
  /** Local epochs are multiplied by this (at least 1 epoch remains). */
  epochScale: number
  /** Batch sizes are multiplied by this (at least 1 row remains). */
  batchScale: number
  /** `"always"`, or `"charging-or-idle"`: train only on external power or while the host is idle. */
  trainWhen: 'always' | 'charging-or-idle'
  /** The role the node should advertise: `"light"` (tier 1) under low power, else its configured roles. */
  role: 'light' | undefined
}

/** The normal profile. */
export const NORMAL_PROFILE: Readonly<PowerProfile> = Object.freeze({
  name: 'normal',
  reason: 'on external power',
  epochScale: 1,
  batchScale: 1,
  trainWhen: 'always',
  role: undefined,
})

/** Defaults of the low-power profile: half the epochs, half the batch. */
export const LOW_POWER_PROFILE: Readonly<PowerProfile> = Object.freeze({
  name: 'low-power',
  reason: 'on battery',
  epochScale: 0.5,
  batchScale: 0.5,
  trainWhen: 'charging-or-idle',
  role: 'light',
})

/**
 * The profile for a sample under the limits: `limits.profile` when it is `"normal"` or
 * `"low-power"` (an override); with `"auto"`, low-power while the host runs on battery (and
 * `onBattery` is not `"run"`), normal otherwise — also when the host has no battery (absent).
 *
 * @example
 * ```ts
 * const profile = powerProfile(monitor.latest(), limits)
 * const { epochs, batchSize } = applyProfile({ epochs: 4, batchSize: 64 }, profile) // low-power: 2, 32
 * ```
 */
export function powerProfile(
  sample: Pick<ResourceSample, 'power'> | undefined,
  limits: Pick<ResourceLimits, 'profile' | 'onBattery'>,
): PowerProfile {
  if (limits.profile === 'normal') return { ...NORMAL_PROFILE, reason: 'set in config' }
  if (limits.profile === 'low-power') return { ...LOW_POWER_PROFILE, reason: 'set in config' }
  const power = sample?.power
  if (power === undefined) return { ...NORMAL_PROFILE, reason: 'no battery' }
  if (power.onBattery && limits.onBattery !== 'run') {
    const pct = power.capacityPercent === undefined ? '' : ` (${power.capacityPercent} %)`
    return { ...LOW_POWER_PROFILE, reason: `on battery${pct}` }
  }
  return { ...NORMAL_PROFILE, reason: power.onBattery ? 'on battery, onBattery "run"' : 'on external power' }
}

/** Local training settings scaled by a profile (never below 1 epoch or 1 row). */
export function applyProfile<T extends { epochs: number; batchSize: number }>(settings: T, profile: PowerProfile): T {
  return {
    ...settings,
    epochs: Math.max(1, Math.floor(settings.epochs * profile.epochScale)),
    batchSize: Math.max(1, Math.floor(settings.batchSize * profile.batchScale)),
  }
}

/**
 * Whether a profile lets training run now: always under `"always"`; under
 * `"charging-or-idle"`, when the host is on external power or charging, or other processes use
 * less than `idleCpu` of it.
 */
export function mayTrain(profile: PowerProfile, sample: ResourceSample | undefined, idleCpu = 0.25): boolean {
  if (profile.trainWhen === 'always') return true
  if (sample?.power?.charging === true || sample?.power?.onBattery === false) return true
  const others = sample?.cpu.others
  return others !== undefined && others < idleCpu
}
