/**
 * Battery and mains state from the Linux power-supply interface (`/sys/class/power_supply/<name>/uevent`).
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseUevent } from './parse.js'

/** Where Linux lists power supplies. */
export const DEFAULT_POWER_SUPPLY_DIR = '/sys/class/power_supply'

/** One battery. */
export interface BatteryInfo {
  name: string
  /** `Charging`, `Discharging`, `Full`, `Not charging`, `Unknown`. */
  status: string
  /** Charge, 0–100; undefined when not reported. */
  capacityPercent: number | undefined
  /** Power drawn or supplied now, watts; undefined when not reported. */
  powerWatts: number | undefined
}

/** What the host runs on. */
export interface PowerState {
  /** True when no mains/USB supply is online and a battery discharges. */
  onBattery: boolean
  /** True when a battery charges or is full on mains. */
  charging: boolean
  /** Whether a mains/USB supply is online; undefined when the host lists none. */
  externalPower: boolean | undefined
  /** Lowest charge of the batteries, 0–100; undefined without batteries reporting it. */
  capacityPercent: number | undefined
  batteries: BatteryInfo[]
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined || !/^-?\d{1,15}$/.test(s.trim())) return undefined
  return Number(s)
}

/**
 * The power state from the `uevent` texts of a host's supplies (name → text). `undefined` when
 * the host lists no supply at all (a server, a container): absent, not "on mains".
 *
 * @throws {@link ParseError} when a uevent text is malformed.
 */
export function powerStateOf(uevents: ReadonlyMap<string, string>): PowerState | undefined {
  if (uevents.size === 0) return undefined
  const batteries: BatteryInfo[] = []
  let external: boolean | undefined
  for (const [name, text] of uevents) {
    const u = parseUevent(text)
    const type = (u.type ?? '').toLowerCase()
    if (type === 'battery') {
      // devices (mice, keyboards) report batteries with scope Device: they do not power the host
      if ((u.scope ?? '').toLowerCase() === 'device') continue
      const microWatts = num(u.power_now)
      const capacity = num(u.capacity)
      batteries.push({
        name,
        status: (u.status ?? 'Unknown').slice(0, 32),
        capacityPercent: capacity === undefined ? undefined : Math.max(0, Math.min(100, capacity)),
        powerWatts: microWatts === undefined ? undefined : Math.abs(microWatts) / 1e6,
      })
    } else if (type === 'mains' || type.startsWith('usb')) {
      const online = num(u.online)
      if (online !== undefined) external = (external ?? false) || online > 0
    }
  }
  if (batteries.length === 0 && external === undefined) return undefined
  const discharging = batteries.some((b) => b.status === 'Discharging')
  const capacities = batteries.map((b) => b.capacityPercent).filter((c): c is number => c !== undefined)
  return {
    onBattery: external !== true && discharging,
    charging: batteries.some((b) => b.status === 'Charging') || (external === true && batteries.length > 0),
    externalPower: external,
    capacityPercent: capacities.length === 0 ? undefined : Math.min(...capacities),
    batteries,
  }
}

/**
 * Reads the power state from `dir` (default {@link DEFAULT_POWER_SUPPLY_DIR}; tests point it at a
 * fake directory of `<name>/uevent` files). A missing directory → `undefined`. The files are read
 * synchronously (sysfs: generated in memory, a few µs each; far cheaper than async reads).
 */
export async function readPowerState(dir: string = DEFAULT_POWER_SUPPLY_DIR): Promise<PowerState | undefined> {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const uevents = new Map<string, string>()
  for (const name of names.sort()) {
    try {
      uevents.set(name, readFileSync(join(dir, name, 'uevent'), 'utf8'))
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') continue
      throw err
    }
  }
  return powerStateOf(uevents)
}
