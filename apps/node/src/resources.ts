/**
 * The node's resources (`@vain/resources`, wired here): it samples its host, logs anomalies,
 * trains through the resource scheduler (a busy host makes training wait while the round's
 * deadline allows, and pause between epochs under pressure), picks the low-power profile on
 * battery, and reports resources, spare capacity and progress in its status. The figures are a
 * plain typed snapshot ({@link NodeResources.snapshot}) and events that a metrics layer can read.
 */
import type { Dataset, JobSpec, Learner, LocalTrainer, Model } from '@vain/fl'
import {
  AdmissionTimeoutError,
  type Anomaly,
  type AnomalyCleared,
  type AnomalyDetector,
  advertisedCapacity,
  adviseNetwork,
  anomalyDetector,
  applyProfile,
  type CapacityAdvert,
  type NetworkAdvice,
  type PowerProfile,
  type ProgressInfo,
  type ProgressTracker,
  powerProfile,
  progressTracker,
  type ResourceLimits,
  ResourceLimitsSchema,
  type ResourceMonitor,
  type ResourceSample,
  type ResourceScheduler,
  renderProgressBar,
  resourceMonitor,
  resourceScheduler,
  type SchedulerStatus,
  type SpareCapacity,
  spareCapacity,
} from '@vain/resources'
import { z } from 'zod'
import type { Logger } from './logger.js'

/**
 * The `resources` section of a node's config: the limits of `@vain/resources`
 * (`maxCpu`, `maxMemory`, `onBattery`, `busyCpu`, `resumeCpu`, `minFreeMemory`, `idleCpu`,
 * `profile`) plus how often to sample, where the power supplies are, and the share of a round's
 * deadline a trainer may wait for a busy host.
 *
 * @example
 * ```json
 * { "resources": { "maxCpu": 0.5, "maxMemory": "2GiB", "onBattery": "pause" } }
 * ```
 */
export const NodeResourcesConfigSchema = z
  .strictObject({
    ...ResourceLimitsSchema.shape,
    maxCpu: z.number().gt(0).max(1).optional(),
    busyCpu: z.number().gt(0).max(1).optional(),
    resumeCpu: z.number().gt(0).max(1).optional(),
    sampleIntervalMs: z.number().int().min(100).max(600_000).default(1000),
    powerSupplyDir: z.string().min(1).optional(),
    /** Share of a round's deadline a trainer waits for its host before it warns that its update will be late. */
    maxWaitShare: z.number().gt(0).max(0.9).default(0.5),
    /**
     * Set the network's inbound rate limits and compression from the host's measured CPU at start
     * ({@link adviseNetwork}; @vain/net's limits are fixed once a node runs). Off by default: on a
     * machine shared by many local nodes (the demo, tests) it would throttle them all.
     */
    adaptNetwork: z.boolean().default(false),
    /** How often the network advice is re-taken while the node runs (with `adaptNetwork`). */
    adaptIntervalMs: z.number().int().min(1_000).max(3_600_000).default(30_000),
    /**
     * Advertise spare capacity in the signed descriptor (taken once at start, coarse: quarters of
     * a core, 64 MiB; peers weigh it only with `weighCapacity`). Default on.
     */
    advertiseCapacity: z.boolean().default(true),
    /**
     * Weigh committee candidates by the spare capacity they advertise
     * (`capacityWeightedEligibility` of @vain/fl: a node with nothing to spare is drawn half as
     * often). Every member must run with the same setting. Default off.
     */
    weighCapacity: z.boolean().default(false),
  })
  .transform((c, ctx) => {
    // a node pauses for other processes' CPU only when its owner asks: `busyCpu`, or `maxCpu`
    // (training then needs that share free: it pauses once others take more than 1 − maxCpu).
    // Without either, a node shares its host like any process (a local demo of many nodes on one
    // machine would otherwise hold all of its own trainers back).
    const maxCpu = c.maxCpu ?? 1
    const busyCpu = c.busyCpu ?? (maxCpu < 1 ? Math.max(0.05, 1 - maxCpu) : 1)
    const resumeCpu = c.resumeCpu ?? busyCpu * 0.7
    const {
      sampleIntervalMs,
      powerSupplyDir,
      maxWaitShare,
      adaptNetwork,
      adaptIntervalMs,
      advertiseCapacity,
      weighCapacity,
      ...rest
    } = c
    const limits = ResourceLimitsSchema.safeParse({ ...rest, maxCpu, busyCpu, resumeCpu })
    if (!limits.success) {
      for (const issue of limits.error.issues)
        ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path })
      return z.NEVER
    }
    return {
      limits: limits.data,
      sampleIntervalMs,
      powerSupplyDir,
      maxWaitShare,
      adaptNetwork,
      adaptIntervalMs,
      advertiseCapacity,
      weighCapacity,
    }
  })
export type NodeResourcesConfig = z.output<typeof NodeResourcesConfigSchema>

/** What the node reports about its resources (`GET /status` → `resources`; the metrics layer's input). */
export interface ResourcesSnapshot {
  sample: ResourceSample | undefined
  anomalies: Anomaly[]
  scheduler: SchedulerStatus
  profile: PowerProfile
  capacity: SpareCapacity
  network: NetworkAdvice
  progress: ProgressInfo[]
  /** CPU the sampler itself used, ms per sample. */
  samplerMsPerSample: number | undefined
}

/** What {@link NodeResources.adaptNetwork} changes on the running network node (`@vain/net`'s VainNode). */
export interface AdaptableNet {
  setInboundRate(rate: { capacity: number; refillPerSecond: number }): void
  setCompression(enabled: boolean): void
}

/** The node's resource services. */
export interface NodeResources {
  /** The limits in force. */
  readonly limits: ResourceLimits
  /**
   * Change limits at run time (`POST /api/node/resources`): the given fields over the limits in
   * force, validated as a whole; answers the limits in force after.
   * @throws InvalidResourceConfigError for invalid limits (nothing changes)
   */
  setLimits(input: unknown): ResourceLimits
  /** The spare capacity to put in the signed descriptor (coarse), or undefined when not advertised. */
  capacityAdvert(): CapacityAdvert | undefined
  /**
   * With the config's `adaptNetwork`: re-take the network advice every `adaptIntervalMs` and apply
   * a changed one (seen twice in a row) to the running node's per-peer inbound rate and default
   * compression. Without it, nothing.
   */
  adaptNetwork(node: AdaptableNet): void
  /**
   * The anomaly detector as a source of alert events (`@vain/metrics`' anomaly rules): each
   * anomaly as `resource:<metric>`, and a resolved event once no anomaly is active any more.
   */
  anomalySource(): (
    listener: (a: { kind: string; message: string; value?: number; resolved?: boolean; at?: number }) => void,
  ) => () => void
  readonly monitor: ResourceMonitor
  readonly detector: AnomalyDetector
  readonly scheduler: ResourceScheduler
  readonly progress: ProgressTracker
  /** The power profile now (auto on battery unless the config sets one). */
  profile(): PowerProfile
  snapshot(): ResourcesSnapshot
  /**
   * `@vain/net` settings from the network advice when the config's `adaptNetwork` is on (else
   * `{}`): `limits.rateLimitRefillPerSecond`/`rateLimitCapacity` scaled by CPU headroom, and
   * `compression.enabled`. Spread it into `createNode`'s config.
   */
  netConfig(): {
    limits?: { rateLimitRefillPerSecond: number; rateLimitCapacity: number }
    compression?: { enabled: boolean }
  }
  /** The roles to advertise: the configured ones, plus `light` (tier 1) under the low-power profile. */
  roles<R extends string>(configured: R[]): Array<R | 'light'>
  /** A learner that trains on `datasets` through the scheduler (see {@link scheduledLearner}). */
  learner(trainer: LocalTrainer, datasets: LearnerDatasets, seed: number): Learner
  stop(): Promise<void>
}

/** Starts sampling (first sample taken before it resolves), anomaly logging and the scheduler. */
export async function startNodeResources(
  config: NodeResourcesConfig,
  log: Logger,
  options: { diskPath?: string } = {},
): Promise<NodeResources> {
  const { sampleIntervalMs, powerSupplyDir, maxWaitShare, limits, adaptNetwork, adaptIntervalMs, advertiseCapacity } =
    config
  const monitor = resourceMonitor({
    intervalMs: sampleIntervalMs,
    ...(powerSupplyDir !== undefined ? { powerSupplyDir } : {}),
    ...(options.diskPath !== undefined ? { diskPath: options.diskPath } : {}),
  })
  const detector = anomalyDetector()
  // several jobs may train at once (as before): the CPU budget, not a count, bounds them — each
  // training claims one core when the config sets maxCpu, none otherwise
  const scheduler = resourceScheduler(monitor, { limits, concurrency: 64 })
  const progress = progressTracker()
  monitor.addEventListener('sample', (e) => detector.observe(e.detail))
  monitor.addEventListener('error', (e) => {
    const { source, error, failures } = e.detail
    // once, then every 60th failure in a row: a broken counter must not flood the log
    if (failures === 1 || failures % 60 === 0)
      log.warn('resource sampler failed (retried at the next sample)', { source, error: error.message, failures })
  })
  detector.addEventListener('anomaly', (e) => {
    const a = e.detail
    log.warn('resource anomaly', {
      metric: a.metric,
      value: round(a.value),
      normal: round(a.baseline),
      score: round(a.score),
      since: new Date(a.since).toISOString(),
    })
  })
  detector.addEventListener('anomaly:cleared', (e) => {
    const c: AnomalyCleared = e.detail
    log.info('resource anomaly cleared', {
      metric: c.metric,
      lastedMs: c.until - c.since,
      peakScore: round(c.peakScore),
    })
  })
  scheduler.addEventListener('pressure', (e) =>
    log.info('host under pressure: training pauses', { reasons: e.detail.reasons }),
  )
  scheduler.addEventListener('relief', (e) =>
    log.info('host pressure cleared: training resumes', { afterMs: e.detail.pressureMs }),
  )
  await monitor.start()
  await monitor.sampleNow()
  scheduler.start()
  let lastProfile = powerProfile(monitor.latest(), limits).name
  monitor.addEventListener('sample', (e) => {
    const now = powerProfile(e.detail, scheduler.limits)
    if (now.name !== lastProfile) log.info(`power profile: ${now.name}`, { reason: now.reason })
    lastProfile = now.name
  })
  const profile = () => powerProfile(monitor.latest(), scheduler.limits)
  log.info('resources', describe(monitor.latest(), profile()))
  let adaptTimer: ReturnType<typeof setInterval> | undefined
  // measured bandwidth: the peak rate seen on the host's interfaces. It proves a fast link once
  // traffic reached 100 MB/s (then compression is off while the CPU is saturated); a quiet link
  // proves nothing, so below that the link speed stays unknown
  let peakLinkBytesPerSec = 0
  monitor.addEventListener('sample', (e) => {
    const { rxBytesPerSec, txBytesPerSec } = e.detail.network
    const rate = (rxBytesPerSec ?? 0) + (txBytesPerSec ?? 0)
    if (Number.isFinite(rate)) peakLinkBytesPerSec = Math.max(peakLinkBytesPerSec, rate)
  })
  const advise = (sample: ResourceSample | undefined): NetworkAdvice =>
    adviseNetwork(sample, {
      base: NET_BASE,
      ...(peakLinkBytesPerSec >= 100e6 ? { linkBytesPerSec: peakLinkBytesPerSec } : {}),
    })
  return {
    get limits() {
      return scheduler.limits
    },
    setLimits: (input: unknown) => {
      const before = scheduler.limits
      const after = scheduler.setLimits(mergeLimits(before, input))
      log.info('resource limits changed', {
        maxCpu: after.maxCpu,
        maxMemory: after.maxMemory,
        onBattery: after.onBattery,
      })
      return after
    },
    capacityAdvert: () =>
      advertiseCapacity ? advertisedCapacity(spareCapacity(monitor.latest(), scheduler.limits)) : undefined,
    anomalySource: () => (listener) => {
      const onAnomaly = (e: CustomEvent<Anomaly>) => {
        const a = e.detail
        listener({
          kind: `resource:${a.metric}`,
          message: `${a.metric} at ${round(a.value)}, normally ${round(a.baseline)} (score ${round(a.score)})`,
          value: a.value,
          at: a.since,
        })
      }
      const onCleared = (e: CustomEvent<AnomalyCleared>) => {
        if (detector.active().length > 0) return
        listener({ kind: `resource:${e.detail.metric}`, message: `${e.detail.metric} back to normal`, resolved: true })
      }
      detector.addEventListener('anomaly', onAnomaly)
      detector.addEventListener('anomaly:cleared', onCleared)
      return () => {
        detector.removeEventListener('anomaly', onAnomaly)
        detector.removeEventListener('anomaly:cleared', onCleared)
      }
    },
    adaptNetwork: (node: AdaptableNet) => {
      if (!adaptNetwork || adaptTimer !== undefined) return
      // re-advise every adaptIntervalMs; a changed advice applies once it came twice in a row
      const adaptation = networkAdaptation(advise(monitor.latest()), node, log)
      adaptTimer = setInterval(() => adaptation.observe(advise(monitor.latest())), adaptIntervalMs)
      adaptTimer.unref?.()
    },
    monitor,
    detector,
    scheduler,
    progress,
    profile,
    snapshot: () => {
      const sample = monitor.latest()
      return {
        sample,
        anomalies: detector.active(),
        scheduler: scheduler.status(),
        profile: profile(),
        capacity: spareCapacity(sample, scheduler.limits),
        network: advise(sample),
        progress: progress.snapshot(),
        samplerMsPerSample: monitor.samples === 0 ? undefined : monitor.overheadMicros / 1000 / monitor.samples,
      }
    },
    roles: <R extends string>(configured: R[]): Array<R | 'light'> => {
      const p = profile()
      if (p.role !== 'light' || (configured as string[]).includes('light')) return configured
      log.info('low-power profile: this node also advertises the light role', { reason: p.reason })
      return [...configured, 'light']
    },
    netConfig: () => {
      if (!adaptNetwork) return {}
      const advice = advise(monitor.latest())
      log.info('network limits from the host', {
        refillPerSecond: advice.refillPerSecond,
        capacity: advice.capacity,
        compression: advice.compression,
        reason: advice.reason,
      })
      return {
        limits: { rateLimitRefillPerSecond: advice.refillPerSecond, rateLimitCapacity: advice.capacity },
        compression: { enabled: advice.compress },
      }
    },
    learner: (trainer, datasets, seed) =>
      scheduledLearner({
        trainer,
        datasets,
        seed,
        scheduler,
        progress,
        profile,
        log,
        maxWaitShare,
        cpu: scheduler.limits.maxCpu < 1 ? 1 : 0,
      }),
    stop: async () => {
      if (adaptTimer !== undefined) clearInterval(adaptTimer)
      adaptTimer = undefined
      scheduler.stop()
      await monitor.stop()
    },
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000

/** @vain/net's default inbound bucket per peer and protocol (`limits.rateLimitRefillPerSecond`, `rateLimitCapacity`). */
const NET_BASE = { refillPerSecond: 50, capacity: 100 }

function describe(sample: ResourceSample | undefined, profile: PowerProfile): Record<string, unknown> {
  return {
    cores: sample?.cpu.cores,
    memoryGiB: sample === undefined ? undefined : round(sample.memory.totalBytes / 2 ** 30),
    gpus: sample?.gpu?.map((g) => g.name) ?? 'none',
    battery: sample?.power === undefined ? 'none' : sample.power.onBattery ? 'discharging' : 'on external power',
    profile: profile.name,
  }
}

/**
 * A learner (the @vain/fl port) that trains through the scheduler: admitted when the host has
 * room, one epoch at a time with a checkpoint between epochs (it pauses there under pressure, the
 * momentum carried over), its epochs and batch size scaled by the power profile. A busy host
 * makes it wait (logged when it starts waiting, and again as a warning once it has waited
 * `maxWaitShare` of the round's deadline: its update will then be late) — until admitted or the
 * job's signal aborts.
 *
 * With `giveUp: true` it gives the round up after `maxWaitShare` of the deadline instead, by
 * rejecting with {@link AdmissionTimeoutError}. Not the node's default: @vain/fl's round driver
 * does not handle a trainer that rejects before the deadline (the rejection is unhandled, which
 * ends a Node process), and the Learner port has no "skip this round" answer yet.
 */
/**
 * A learner's data: datasets by the job's `dataset.name`, or a function that resolves a job's
 * dataset (undefined: this node has no data for it, it does not train the job).
 */
export type LearnerDatasets = Record<string, Dataset> | ((spec: JobSpec) => Dataset | undefined)

export function scheduledLearner(init: {
  trainer: LocalTrainer
  datasets: LearnerDatasets
  seed: number
  scheduler: ResourceScheduler
  progress: ProgressTracker
  profile: () => PowerProfile
  log: Logger
  maxWaitShare: number
  /** Cores a training claims from the scheduler's CPU budget (default 1). */
  cpu?: number
  /** Reject with {@link AdmissionTimeoutError} after `maxWaitShare` of the deadline (default false). */
  giveUp?: boolean
}): Learner {
  const { trainer, datasets, seed, scheduler, progress, log } = init
  const dataOf = (spec: JobSpec): Dataset | undefined =>
    typeof datasets === 'function' ? datasets(spec) : datasets[spec.dataset.name]
  return {
    supports: (spec) => dataOf(spec) !== undefined,
    numSamples: (spec) => dataOf(spec)?.labels.length ?? 0,
    train: async (spec: JobSpec, model: Model, roundNo: number, options = {}) => {
      const data = dataOf(spec) as Dataset
      const task = `train ${spec.name} r${roundNo}`
      const maxWaitMs = Math.round(spec.roundDeadlineMs * init.maxWaitShare)
      let lateTimer: NodeJS.Timeout | undefined
      const onWaiting = (e: CustomEvent<{ name: string; reason: string }>) => {
        if (e.detail.name !== task) return
        log.info('host busy: training waits', { task, reason: e.detail.reason, maxWaitMs })
        if (init.giveUp !== true && lateTimer === undefined)
          lateTimer = setTimeout(() => {
            if (scheduler.status().queued.some((q) => q.name === task))
              log.warn("host still busy: this round's update will be late", { task, waitedMs: maxWaitMs })
          }, maxWaitMs)
      }
      scheduler.addEventListener('task:waiting', onWaiting)
      try {
        return await scheduler.run(
          task,
          async (ctx) => {
            const profile = init.profile()
            const { epochs, batchSize } = applyProfile(
              { epochs: spec.local.epochs, batchSize: spec.local.batchSize },
              profile,
            )
            if (profile.name !== 'normal')
              log.info('training with the low-power profile', { task, epochs, batchSize, reason: profile.reason })
            const bar = progress.start(task, epochs)
            let current = model
            let velocity: Float32Array | undefined
            try {
              for (let epoch = 0; epoch < epochs; epoch++) {
                await ctx.checkpoint()
                const result = await trainer.train(current, data, {
                  epochs: 1,
                  batchSize,
                  lr: spec.local.lr,
                  momentum: spec.local.momentum,
                  weightDecay: spec.local.weightDecay,
                  ...(velocity !== undefined ? { velocity } : {}),
                  ...(spec.local.proxMu > 0 ? { proxMu: spec.local.proxMu, globalParams: model.params } : {}),
                  seed: ((seed * 1000 + roundNo) * 64 + epoch) >>> 0,
                  signal: ctx.signal,
                })
                current = result.model
                velocity = result.velocity
                bar.advance()
              }
              bar.finish()
            } catch (err) {
              bar.fail()
              throw err
            }
            return { params: current.params, numSamples: data.labels.length }
          },
          {
            priority: 1,
            cpu: init.cpu ?? 1,
            ...(init.giveUp === true ? { admissionTimeoutMs: maxWaitMs } : {}),
            ...(options.signal !== undefined ? { signal: options.signal } : {}),
          },
        )
      } catch (err) {
        if (err instanceof AdmissionTimeoutError)
          log.warn('host stayed busy: this node skips the round', {
            task,
            waitedMs: Math.round(err.waitedMs),
            reason: err.reason,
          })
        throw err
      } finally {
        clearTimeout(lateTimer)
        scheduler.removeEventListener('task:waiting', onWaiting)
      }
    },
  }
}

/** `vain resources`: a node's resources (its `GET /status` → `resources`) as lines for a terminal, progress as bars. */
export function renderResources(snapshot: ResourcesSnapshot): string {
  const s = snapshot.sample
  const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(v * 100).toFixed(0)} %`)
  const gib = (v: number | undefined) => (v === undefined ? 'n/a' : `${(v / 2 ** 30).toFixed(1)} GiB`)
  const mbs = (v: number | undefined) => (v === undefined ? 'n/a' : `${(v / 1e6).toFixed(2)} MB/s`)
  const lines = [
    `cpu      ${pct(s?.cpu.host)} of ${s?.cpu.cores ?? '?'} cores (this node ${s?.cpu.processCores?.toFixed(2) ?? 'n/a'} cores, others ${pct(s?.cpu.others)})`,
    `memory   ${gib(s?.memory.availableBytes)} available of ${gib(s?.memory.totalBytes)} (this node ${gib(s?.memory.process.rssBytes)} RSS)`,
    `disk     ${gib(s?.disk.freeBytes)} free of ${gib(s?.disk.totalBytes)}, read ${mbs(s?.disk.readBytesPerSec)}, write ${mbs(s?.disk.writeBytesPerSec)}`,
    `network  rx ${mbs(s?.network.rxBytesPerSec)}, tx ${mbs(s?.network.txBytesPerSec)}`,
    `gpu      ${s?.gpu === undefined ? 'none' : s.gpu.map((g) => `${g.name} ${pct(g.utilization)}`).join(', ')}`,
    `power    ${s?.power === undefined ? 'no battery' : s.power.onBattery ? `on battery (${s.power.capacityPercent ?? '?'} %)` : 'external power'} · profile ${snapshot.profile.name} (${snapshot.profile.reason})`,
    `capacity ${snapshot.capacity.cpuCores?.toFixed(2) ?? 'n/a'} cores, ${gib(snapshot.capacity.memoryBytes)} spare · score ${snapshot.capacity.score.toFixed(2)}`,
    `training ${snapshot.scheduler.pressure.length > 0 ? `paused (${snapshot.scheduler.pressure.join(', ')})` : 'free to run'}, ${snapshot.scheduler.running.length} running, ${snapshot.scheduler.queued.length} waiting`,
    ...snapshot.anomalies.map(
      (a) =>
        `anomaly  ${a.metric}: ${a.value.toFixed(3)} (normal ${a.baseline.toFixed(3)}, score ${a.score.toFixed(1)}) since ${new Date(a.since).toISOString()}`,
    ),
    ...snapshot.progress.map((p) => `         ${renderProgressBar(p)}`),
  ]
  return `${lines.join('\n')}\n`
}

/**
 * Hysteresis for network advice: a changed advice (compression flipped, or rate or burst off by
 * more than 20 %) applies to the node only when the next observation agrees with it, so one busy
 * sample cannot flip the limits back and forth. Failures to apply are logged, never thrown.
 */
export function networkAdaptation(
  initial: NetworkAdvice,
  node: AdaptableNet,
  log: Logger,
): { observe(advice: NetworkAdvice): boolean; readonly applied: NetworkAdvice } {
  let applied = initial
  let pending: NetworkAdvice | undefined
  const same = (a: NetworkAdvice, b: NetworkAdvice) =>
    a.compress === b.compress &&
    Math.abs(a.refillPerSecond - b.refillPerSecond) <= 0.2 * b.refillPerSecond &&
    Math.abs(a.capacity - b.capacity) <= 0.2 * b.capacity
  return {
    get applied() {
      return applied
    },
    observe(advice) {
      if (same(advice, applied)) {
        pending = undefined
        return false
      }
      if (pending === undefined || !same(advice, pending)) {
        pending = advice
        return false
      }
      try {
        node.setInboundRate({ capacity: advice.capacity, refillPerSecond: advice.refillPerSecond })
        node.setCompression(advice.compress)
      } catch (err) {
        log.warn('network limits not adapted', { error: (err as Error).message })
        return false
      }
      log.info('network limits adapted to the host', {
        refillPerSecond: advice.refillPerSecond,
        capacity: advice.capacity,
        compression: advice.compression,
        reason: advice.reason,
      })
      applied = advice
      pending = undefined
      return true
    },
  }
}

/** The fields of `input` (an object) over `current`; anything else is handed on for validation to refuse. */
function mergeLimits(current: ResourceLimits, input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input
  const given = input as Record<string, unknown>
  const merged: Record<string, unknown> = { ...current, ...given }
  // as in the config: a new maxCpu brings its pause threshold along unless one is given
  if (typeof given.maxCpu === 'number' && given.busyCpu === undefined) {
    const busyCpu = given.maxCpu < 1 ? Math.max(0.05, 1 - given.maxCpu) : 1
    merged.busyCpu = busyCpu
    if (given.resumeCpu === undefined) merged.resumeCpu = busyCpu * 0.7
  }
  return merged
}
