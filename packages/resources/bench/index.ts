/**
 * `pnpm bench` in packages/resources: what watching and scheduling cost.
 *
 * - sampling overhead at 1 Hz and 10 Hz as a share of one core: this process's CPU time over
 *   wall time while the monitor runs, minus the same process idle for as long (the baseline,
 *   measured in the same run); and CPU per sample vs node's own `os.cpus()` + `os.freemem()`;
 * - scheduler decision latency: one `evaluate(sample)` with 1, 100 and 1000 tasks queued, and
 *   the time from `run()` to the task starting on an idle scheduler;
 * - reaction to a load spike: from the pressure sample to the training task stopping at its next
 *   checkpoint (injected sample), and, when the host is not saturated by other work, from a real
 *   CPU hog starting to the task pausing under the real monitor at 10 Hz.
 */
import { spawn } from 'node:child_process'
import { arch, cpus, freemem, loadavg, platform, release, totalmem } from 'node:os'
import { TypedEventEmitter } from 'main-event'
import { type ResourceSample, resourceMonitor, resourceScheduler, type SampleSource } from '../src/index.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const cpuMicros = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

console.log('@vain/resources bench')
console.log(
  `machine: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${release()} ${arch()}, node ${process.version}, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
)

// --- sampling overhead
/** Share of one core this process used over `ms` of wall time. */
async function coreShare(ms: number): Promise<number> {
  const c0 = cpuMicros()
  const t0 = performance.now()
  await sleep(ms)
  return (cpuMicros() - c0) / 1000 / (performance.now() - t0)
}
console.log(
  `\nsampling overhead (workload: the monitor on this host for ${SECONDS} s per rate, twice, alternating with the baseline: this process idle as long)`,
)
{
  // warm up: JIT the sampler and let start-up work settle before any measurement
  const warm = resourceMonitor({ gpu: false })
  for (let i = 0; i < 50; i++) await warm.sampleNow()
  await sleep(1000)
}
const keepAlive = setInterval(() => {}, 60_000)
for (const hz of [1, 10]) {
  const idle: number[] = []
  const busy: number[] = []
  let samples = 0
  let overhead = 0
  for (let round = 0; round < 2; round++) {
    idle.push(await coreShare(SECONDS * 1000))
    const monitor = resourceMonitor({ intervalMs: 1000 / hz })
    await monitor.start()
    busy.push(await coreShare(SECONDS * 1000))
    await monitor.stop()
    samples += monitor.samples
    overhead += monitor.overheadMicros
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const perSampleMs = overhead / 1000 / Math.max(1, samples)
  console.log(
    `  ${String(hz).padStart(2)} Hz: ${((mean(busy) - mean(idle)) * 100).toFixed(3)} % of one core over idle (process ${(mean(busy) * 100).toFixed(3)} % vs idle ${(mean(idle) * 100).toFixed(3)} %); ` +
      `${samples} samples at ${perSampleMs.toFixed(3)} ms CPU each → ${((perSampleMs * hz) / 10).toFixed(3)} % of one core`,
  )
}
clearInterval(keepAlive)
{
  const n = 2000
  const c0 = cpuMicros()
  for (let i = 0; i < n; i++) {
    cpus()
    freemem()
  }
  const osUs = (cpuMicros() - c0) / n
  const monitor = resourceMonitor({ gpu: false })
  const m0 = cpuMicros()
  for (let i = 0; i < 200; i++) await monitor.sampleNow()
  const ourUs = (cpuMicros() - m0) / 200
  console.log(
    `  per sample, back to back: ${(ourUs / 1000).toFixed(3)} ms CPU (full sample: /proc stat, meminfo, net/dev, diskstats, statfs, power supply) vs ${(osUs / 1000).toFixed(3)} ms for os.cpus() + os.freemem() alone: ratio ${(ourUs / osUs).toFixed(1)}×`,
  )
}

// --- scheduler decision latency
class Source extends TypedEventEmitter<{ sample: CustomEvent<ResourceSample> }> implements SampleSource {
  last: ResourceSample | undefined
  latest() {
    return this.last
  }
  push(s: ResourceSample) {
    this.last = s
    this.dispatchEvent(new CustomEvent('sample', { detail: s }))
  }
}
const monitor = resourceMonitor({ gpu: false })
await monitor.sampleNow()
const base = await monitor.sampleNow()
const withOthers = (others: number): ResourceSample => ({
  ...base,
  time: Date.now(),
  cpu: { ...base.cpu, others, host: others },
})

console.log('\nscheduler decision latency (workload: evaluate(sample) with N tasks queued behind one running task)')
for (const queued of [1, 100, 1000]) {
  const source = new Source()
  source.push(withOthers(0))
  const scheduler = resourceScheduler(source, { limits: { busyCpu: 0.9, resumeCpu: 0.5 } })
  scheduler.start()
  let release!: () => void
  const blocker = scheduler.run('blocker', () => new Promise<void>((r) => (release = r)))
  const waiting = Array.from({ length: queued }, (_, i) => scheduler.run(`t${i}`, async () => {}, { priority: i % 5 }))
  await sleep(0)
  const times: number[] = []
  for (let i = 0; i < 2000; i++) {
    const s = withOthers(i % 2 === 0 ? 0.95 : 0.1)
    const t = performance.now()
    scheduler.evaluate(s)
    times.push(performance.now() - t)
  }
  release()
  source.push(withOthers(0))
  source.push(withOthers(0))
  await Promise.all([blocker, ...waiting])
  scheduler.stop()
  console.log(
    `  ${String(queued).padStart(4)} queued: median ${(median(times) * 1000).toFixed(1)} µs, p99 ${(([...times].sort((a, b) => a - b)[Math.floor(times.length * 0.99)] as number) * 1000).toFixed(1)} µs`,
  )
}
{
  const source = new Source()
  source.push(withOthers(0))
  const scheduler = resourceScheduler(source)
  scheduler.start()
  const times: number[] = []
  for (let i = 0; i < 2000; i++) {
    const t = performance.now()
    await scheduler.run('t', async () => {
      times.push(performance.now() - t)
    })
  }
  scheduler.stop()
  // baseline: an async call with no scheduler in front of it
  const bare: number[] = []
  for (let i = 0; i < 2000; i++) {
    const t = performance.now()
    await (async () => {
      bare.push(performance.now() - t)
    })()
  }
  console.log(
    `  run() → task started on an idle scheduler: median ${(median(times) * 1000).toFixed(1)} µs (a bare async call: ${(median(bare) * 1000).toFixed(1)} µs)`,
  )
}

// --- reaction to a load spike
/** A training step: a batch of 32 rows of logistic regression with 256 features. */
const features = 256
const w = new Float64Array(features)
const rows = Array.from({ length: 32 }, (_, n) =>
  Float64Array.from({ length: features }, (_, i) => Math.sin(n * 31 + i)),
)
const step = () => {
  for (const r of rows) {
    let z = 0
    for (let i = 0; i < features; i++) z += (r[i] as number) * (w[i] as number)
    const g = 1 / (1 + Math.exp(-z)) - 0.5
    for (let i = 0; i < features; i++) w[i] = (w[i] as number) - 0.01 * g * (r[i] as number)
  }
}
{
  const t0 = performance.now()
  for (let i = 0; i < 1000; i++) step()
  const stepMs = (performance.now() - t0) / 1000
  const reactions: number[] = []
  for (let round = 0; round < 50; round++) {
    const source = new Source()
    source.push(withOthers(0))
    const scheduler = resourceScheduler(source)
    scheduler.start()
    let spikeAt = 0
    let steps = 0
    const paused = new Promise<number>((resolve) =>
      scheduler.addEventListener('task:paused', () => resolve(performance.now() - spikeAt), { once: true }),
    )
    let stop = false
    const task = scheduler.run('train', async (ctx) => {
      while (!stop) {
        await ctx.checkpoint()
        step()
        if (++steps === 20) {
          spikeAt = performance.now()
          // the spike arrives from a timer, as a real sample does, while the task runs
          setTimeout(() => source.push(withOthers(0.99)), 0)
        }
      }
    })
    reactions.push(await paused)
    stop = true
    source.push(withOthers(0))
    source.push(withOthers(0))
    await task
    scheduler.stop()
  }
  console.log(
    `\nreaction to a load spike (workload: a training loop, one checkpoint per batch of ${stepMs.toFixed(3)} ms)\n  pressure sample → task paused: median ${median(reactions).toFixed(3)} ms over ${reactions.length} spikes (≈ one batch; add up to one sample interval for detection)`,
  )
}
{
  // real hog, real monitor at 10 Hz: only meaningful when the host is not already saturated
  const probe = resourceMonitor({ gpu: false })
  await probe.sampleNow()
  const others: number[] = []
  for (let i = 0; i < 10; i++) {
    await sleep(200)
    others.push((await probe.sampleNow()).cpu.others ?? 1)
  }
  const calm = median(others)
  if (calm >= 0.7) {
    console.log(`  real CPU hog: not measured — other processes already use ${(calm * 100).toFixed(0)} % of this host`)
  } else {
    const real = resourceMonitor({ intervalMs: 100, gpu: false })
    await real.start()
    const busyCpu = Math.min(0.92, Math.max(0.6, calm + 0.25))
    const scheduler = resourceScheduler(real, { limits: { busyCpu, resumeCpu: busyCpu - 0.15 } })
    scheduler.start()
    let stop = false
    let hogAt = 0
    const paused = new Promise<number>((resolve) =>
      scheduler.addEventListener('task:paused', () => resolve(performance.now() - hogAt), { once: true }),
    )
    const task = scheduler.run('train', async (ctx) => {
      while (!stop) {
        await ctx.checkpoint()
        step()
      }
    })
    // the monitor's timer does not hold the process open (unref): this one does, until the end
    const keepAlive = setInterval(() => {}, 1000)
    await sleep(1000)
    hogAt = performance.now()
    const hogs = Array.from({ length: cpus().length + 1 }, () =>
      spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
    )
    const ms = await paused
    for (const h of hogs) h.kill('SIGKILL')
    stop = true
    scheduler.stop()
    await real.stop()
    await task.catch(() => {})
    clearInterval(keepAlive)
    console.log(
      `  real CPU hog (${hogs.length} busy processes; others used ${(calm * 100).toFixed(0)} % before, pause line ${(busyCpu * 100).toFixed(0)} %) → task paused, monitor at 10 Hz: ${ms.toFixed(0)} ms (includes spawning the hogs)`,
    )
  }
}
