/**
 * @packageDocumentation
 *
 * `@vain/resources` — what a vAIn node has to give, watched, scheduled and shared: a sampler of
 * the host and this process (CPU, memory, disk, network, GPU, battery; absent figures are
 * `undefined`, never zero), robust anomaly detection (EWMA + MAD baselines with hysteresis), a
 * resource-aware task scheduler (priorities, concurrency, admission by free CPU and memory,
 * pause/resume under pressure or on battery, `AbortSignal` throughout), a low-power profile,
 * adaptive network limits, progress tracking and spare-capacity figures for load balancing. It
 * depends on no other vAIn package: the app wires it to networking and training.
 *
 * @example
 * ```ts
 * import { anomalyDetector, parseResourceLimits, resourceMonitor, resourceScheduler } from '@vain/resources'
 *
 * const monitor = resourceMonitor({ intervalMs: 100 })
 * const detector = anomalyDetector()
 * monitor.addEventListener('sample', (e) => detector.observe(e.detail))
 * await monitor.start()
 *
 * const scheduler = resourceScheduler(monitor, { limits: { maxCpu: 0.5, onBattery: 'pause' } })
 * scheduler.start()
 * const steps = await scheduler.run('train', async (ctx) => {
 *   let n = 0
 *   for (; n < 100; n++) await ctx.checkpoint() // waits here while the host is busy
 *   return n
 * })
 * console.log(steps) // 100
 *
 * const sample = await monitor.sampleNow()
 * console.log(sample.cpu.cores > 0, typeof sample.memory.totalBytes) // true number
 *
 * try {
 *   parseResourceLimits({ maxCpu: 2 })
 * } catch (err) {
 *   console.log((err as Error).name) // InvalidResourceConfigError
 * }
 * scheduler.stop()
 * await monitor.stop()
 * ```
 */
export * from './anomaly/detector.js'
export * from './errors.js'
export * from './limits.js'
export * from './policy/adaptive-limits.js'
export * from './policy/capacity.js'
export * from './policy/power-profile.js'
export * from './progress/progress.js'
export * from './sampling/monitor.js'
export * from './sampling/parse.js'
export * from './sampling/power.js'
export type * from './sampling/sample.js'
export * from './scheduler/scheduler.js'
