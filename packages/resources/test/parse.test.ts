import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  ParseError,
  parseBytes,
  parseDiskstats,
  parseMeminfo,
  parseNetDev,
  parseNvidiaSmi,
  parseProcStat,
  parseUevent,
  powerStateOf,
} from '../src/index.js'

const parsers: Array<[string, (s: string) => unknown]> = [
  ['parseProcStat', parseProcStat],
  ['parseMeminfo', parseMeminfo],
  ['parseNetDev', parseNetDev],
  ['parseDiskstats', (s) => parseDiskstats(s)],
  ['parseUevent', parseUevent],
  ['parseNvidiaSmi', parseNvidiaSmi],
  ['parseBytes', parseBytes],
  ['powerStateOf', (s) => powerStateOf(new Map([['BAT0', s]]))],
]

/** Text shaped like the real thing (so the fuzz gets past the first line), mutated. */
const procLike = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 400 }),
  fc
    .array(
      fc.tuple(
        fc.constantFrom(
          'cpu',
          'cpu0',
          'cpu12',
          'MemTotal:',
          'MemFree:',
          'eth0:',
          'POWER_SUPPLY_STATUS=',
          '0,',
          ' 8 0 sda',
        ),
        fc.array(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 5 })), { maxLength: 18 }),
      ),
      { maxLength: 8 },
    )
    .map((lines) => lines.map(([head, fields]) => `${head} ${fields.join(' ')}`).join('\n')),
)

describe('parsers: any text in → a value or a ParseError, never another exception', () => {
  for (const [name, parse] of parsers) {
    it(name, () => {
      fc.assert(
        fc.property(procLike, (text) => {
          try {
            parse(text)
          } catch (err) {
            expect((err as Error).name).toBe('ParseError')
            expect(err).toBeInstanceOf(ParseError)
          }
        }),
        { numRuns: 500 },
      )
    })
  }
})

describe('parseProcStat', () => {
  it('reads busy and idle ticks of the host and each core (round trip)', () => {
    const times = fc.array(fc.nat({ max: 2 ** 40 }), { minLength: 8, maxLength: 10 })
    fc.assert(
      fc.property(times, fc.array(times, { maxLength: 8 }), (total, cores) => {
        const line = (name: string, t: number[]) => `${name} ${t.join(' ')}`
        const text = [line('cpu', total), ...cores.map((c, i) => line(`cpu${i}`, c)), 'intr 1 2 3', 'ctxt 99'].join(
          '\n',
        )
        const sum = (t: number[]) => ({
          busy: t[0]! + t[1]! + t[2]! + t[5]! + t[6]! + t[7]!,
          idle: t[3]! + t[4]!,
        })
        expect(parseProcStat(text)).toEqual({ total: sum(total), cores: cores.map(sum) })
      }),
    )
  })
  it('a /proc/stat without its cpu line is a ParseError', () => {
    expect(() => parseProcStat('intr 1\n')).toThrow(ParseError)
  })
})

describe('parseMeminfo', () => {
  it('kB → bytes; MemAvailable absent (old kernels) is undefined, not zero', () => {
    expect(parseMeminfo('MemTotal:  1000 kB\nMemFree:   200 kB\nMemAvailable: 500 kB\n')).toEqual({
      totalBytes: 1024000,
      freeBytes: 204800,
      availableBytes: 512000,
    })
    expect(parseMeminfo('MemTotal: 1000 kB\nMemFree: 200 kB\n').availableBytes).toBeUndefined()
  })
})

describe('parseUevent and powerStateOf', () => {
  it('round-trips KEY=value lines', () => {
    const key = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,20}$/)
    const value = fc
      .string({ unit: 'grapheme-ascii', maxLength: 20 })
      .filter((v) => !/[\n\r]/.test(v) && v.trim() === v)
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 10 }), (entries) => {
        const text = Object.entries(entries)
          .map(([k, v]) => `POWER_SUPPLY_${k}=${v}`)
          .join('\n')
        const parsed = parseUevent(text)
        for (const [k, v] of Object.entries(entries)) expect(parsed[k.toLowerCase()]).toBe(v)
      }),
    )
  })
  it('a discharging battery without mains is on battery; mains online is not', () => {
    const bat =
      'POWER_SUPPLY_TYPE=Battery\nPOWER_SUPPLY_STATUS=Discharging\nPOWER_SUPPLY_CAPACITY=42\nPOWER_SUPPLY_POWER_NOW=7500000\n'
    const ac = (online: number) => `POWER_SUPPLY_TYPE=Mains\nPOWER_SUPPLY_ONLINE=${online}\n`
    expect(
      powerStateOf(
        new Map([
          ['BAT0', bat],
          ['AC', ac(0)],
        ]),
      ),
    ).toMatchObject({
      onBattery: true,
      charging: false,
      externalPower: false,
      capacityPercent: 42,
      batteries: [{ name: 'BAT0', status: 'Discharging', capacityPercent: 42, powerWatts: 7.5 }],
    })
    expect(
      powerStateOf(
        new Map([
          ['BAT0', bat.replace('Discharging', 'Charging')],
          ['AC', ac(1)],
        ]),
      ),
    ).toMatchObject({
      onBattery: false,
      charging: true,
    })
    // a server: no supplies at all → absent
    expect(powerStateOf(new Map())).toBeUndefined()
  })
})

describe('parseNvidiaSmi', () => {
  it('reads the CSV; [N/A] is absent, not zero', () => {
    expect(parseNvidiaSmi('0, NVIDIA H200, 37, 1024, 143771\n1, Tesla T4, [N/A], [N/A], 15360\n')).toEqual([
      {
        index: 0,
        name: 'NVIDIA H200',
        utilization: 0.37,
        memoryUsedBytes: 1024 * 2 ** 20,
        memoryTotalBytes: 143771 * 2 ** 20,
      },
      {
        index: 1,
        name: 'Tesla T4',
        utilization: undefined,
        memoryUsedBytes: undefined,
        memoryTotalBytes: 15360 * 2 ** 20,
      },
    ])
  })
})

describe('parseNetDev and parseDiskstats', () => {
  it('reads the counters of real-looking files', () => {
    const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0: 5000 50 0 0 0 0 0 0 7000 70 0 0 0 0 0 0
`
    expect([...parseNetDev(dev)]).toEqual([
      ['lo', { rxBytes: 1000, txBytes: 1000 }],
      ['eth0', { rxBytes: 5000, txBytes: 7000 }],
    ])
    const disk = `   8       0 sda 100 0 2000 0 50 0 4000 0 0 0 0
   8       1 sda1 100 0 2000 0 50 0 4000 0 0 0 0
   7       0 loop0 1 0 8 0 0 0 0 0 0 0 0`
    expect(parseDiskstats(disk)).toEqual({ readBytes: 2000 * 512, writeBytes: 4000 * 512, devices: ['sda'] })
  })
})

describe('parseBytes', () => {
  it('units', () => {
    expect(parseBytes('512MiB')).toBe(512 * 2 ** 20)
    expect(parseBytes('2 GB')).toBe(2e9)
    expect(parseBytes(1024)).toBe(1024)
    expect(() => parseBytes(-1)).toThrow(ParseError)
    expect(() => parseBytes('12 parsecs')).toThrow(ParseError)
  })
})
