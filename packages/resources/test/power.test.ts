import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  applyProfile,
  mayTrain,
  parseResourceLimits,
  powerProfile,
  type ResourceSample,
  readPowerState,
  resourceMonitor,
  resourceScheduler,
} from '../src/index.js'
import { nextEvent, recorder } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A fake /sys/class/power_supply: a laptop battery and a mains adapter. */
function fakePowerSupply(state: { status: string; capacity: number; ac: boolean }) {
  const dir = mkdtempSync(join(tmpdir(), 'vain-power-'))
  dirs.push(dir)
  mkdirSync(join(dir, 'BAT0'))
  mkdirSync(join(dir, 'AC'))
  const write = (s: typeof state) => {
    writeFileSync(
      join(dir, 'BAT0', 'uevent'),
      `POWER_SUPPLY_NAME=BAT0\nPOWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_STATUS=${s.status}\nPOWER_SUPPLY_PRESENT=1\nPOWER_SUPPLY_CAPACITY=${s.capacity}\nPOWER_SUPPLY_POWER_NOW=9100000\n`,
    )
    writeFileSync(
      join(dir, 'AC', 'uevent'),
      `POWER_SUPPLY_NAME=AC\nPOWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=${s.ac ? 1 : 0}\n`,
    )
  }
  write(state)
  return { dir, write }
}

describe('battery and the low-power profile (fake power-supply directory)', () => {
  it('reads the state; a missing directory is absent (undefined), not "on mains"', async () => {
    const { dir } = fakePowerSupply({ status: 'Discharging', capacity: 37, ac: false })
    expect(await readPowerState(dir)).toMatchObject({
      onBattery: true,
      charging: false,
      externalPower: false,
      capacityPercent: 37,
    })
    expect(await readPowerState(join(dir, 'missing'))).toBeUndefined()
  })

  it('on battery the profile is low-power (fewer epochs, smaller batches, light role); config overrides it', async () => {
    const { dir, write } = fakePowerSupply({ status: 'Discharging', capacity: 37, ac: false })
    const monitor = resourceMonitor({ intervalMs: 100, powerSupplyDir: dir, gpu: false })
    await monitor.start()
    try {
      const sample = await nextEvent<ResourceSample>(monitor, 'sample')
      const auto = powerProfile(sample, parseResourceLimits({}))
      expect(auto).toMatchObject({
        name: 'low-power',
        reason: 'on battery (37 %)',
        role: 'light',
        trainWhen: 'charging-or-idle',
      })
      expect(applyProfile({ epochs: 5, batchSize: 64, lr: 0.1 }, auto)).toEqual({ epochs: 2, batchSize: 32, lr: 0.1 })
      expect(applyProfile({ epochs: 1, batchSize: 1 }, auto)).toEqual({ epochs: 1, batchSize: 1 })
      expect(powerProfile(sample, parseResourceLimits({ profile: 'normal' }))).toMatchObject({
        name: 'normal',
        reason: 'set in config',
      })
      expect(powerProfile(sample, parseResourceLimits({ onBattery: 'run' })).name).toBe('normal')
      // plugged in: normal again, and training is allowed whatever the CPU does
      write({ status: 'Charging', capacity: 38, ac: true })
      const plugged = await nextEvent<ResourceSample>(monitor, 'sample', (s) => s.power?.charging === true)
      const profile = powerProfile(plugged, parseResourceLimits({}))
      expect(profile.name).toBe('normal')
      expect(mayTrain(powerProfile(plugged, parseResourceLimits({ profile: 'low-power' })), plugged)).toBe(true)
      // a host without a battery: normal, for "no battery"
      expect(powerProfile({ power: undefined }, parseResourceLimits({}))).toMatchObject({
        name: 'normal',
        reason: 'no battery',
      })
    } finally {
      await monitor.stop()
    }
  })

  it('onBattery "pause": training pauses when the power goes and resumes when it is back', async () => {
    const { dir, write } = fakePowerSupply({ status: 'Charging', capacity: 80, ac: true })
    const monitor = resourceMonitor({ intervalMs: 100, powerSupplyDir: dir, gpu: false })
    await monitor.start()
    // CPU limits out of the way (a busy shared machine must not pause it for CPU)
    const scheduler = resourceScheduler(monitor, { limits: { onBattery: 'pause', busyCpu: 1, resumeCpu: 0.99 } })
    scheduler.start()
    const log = recorder(scheduler, ['task:started', 'task:paused', 'task:resumed', 'pressure', 'relief'])
    let unplug = false
    let steps = 0
    let stop = false
    let stepsAtResume: number | undefined
    scheduler.addEventListener('task:resumed', () => {
      stepsAtResume = steps
    })
    const task = scheduler.run('train', async (ctx) => {
      while (!stop) {
        await ctx.checkpoint()
        steps++
        if (steps === 10 && !unplug) {
          unplug = true
          write({ status: 'Discharging', capacity: 80, ac: false })
        }
        await new Promise((r) => setTimeout(r, 5))
      }
      return steps
    })
    try {
      const paused = await log.waitFor<{ reasons: string[] }>('task:paused')
      expect(paused.detail.reasons).toEqual(['battery'])
      const at = steps
      write({ status: 'Charging', capacity: 80, ac: true })
      await log.waitFor('task:resumed', paused.index)
      // not a step while paused
      expect(stepsAtResume).toBe(at)
      stop = true
      expect(await task).toBeGreaterThan(at)
    } finally {
      stop = true
      scheduler.stop()
      await monitor.stop()
      await task.catch(() => {})
    }
  })
})
