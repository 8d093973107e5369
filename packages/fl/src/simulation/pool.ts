/**
 * A pool of worker threads, each with its own onnxruntime trainer, that runs clients' local
 * training and evaluations in parallel (or in-process with `workers: 0`).
 * @module
 */
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { Dataset } from '../data/dataset.js'
import { ClosedError, ConfigError } from '../errors.js'
import { createLocalTrainer, type LocalTrainer } from '../train/trainer.js'
import { TaskFailedError, WorkerCrashedError } from './errors.js'
import {
  type EvaluateOutcome,
  type EvaluateTask,
  type Outcome,
  type PoolData,
  runTask,
  shareDataset,
  type Task,
  type TrainOutcome,
  type TrainTask,
} from './tasks.js'
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker.js'

/** Options of {@link createTrainingPool}. */
export interface TrainingPoolInit {
  /** The training set that tasks' `indices` refer to (shared with the workers, not copied per task). */
  train: Dataset
  /** The test set evaluation tasks use. */
  test?: Dataset
  /**
   * Worker threads (default `min(2, os.availableParallelism())`); `0` runs every task in this
   * thread, one at a time. Results do not depend on it.
   */
  workers?: number
  /** onnxruntime intra-op threads per trainer (default 1). */
  threads?: number
  /**
   * The worker script. Default: `./worker.ts` next to this module when running from source
   * (loaded through tsx), `./simulation-worker.js` next to the bundle when built. Set it when
   * you bundle `@vain/fl` into your own output.
   */
  workerUrl?: URL
}

/** Options of one {@link TrainingPool.run}. */
export interface RunTaskOptions {
  /** Rejects the task (with the signal's reason) if aborted before it finished. */
  signal?: AbortSignal
}

/**
 * Runs {@link Task}s on worker threads. `start()` spawns the workers and waits until each has
 * loaded; `stop()` closes their trainers and ends every thread (terminating any that do not
 * exit within a second), rejecting queued tasks with `ClosedError`.
 */
export interface TrainingPool {
  /** Worker threads (0: in-process). */
  readonly workers: number
  /** Threads alive right now (0 after `stop()`). */
  readonly liveThreads: number
  start(): Promise<void>
  stop(): Promise<void>
  /** Runs a task on the next free worker. */
  run(task: TrainTask, options?: RunTaskOptions): Promise<TrainOutcome>
  run(task: EvaluateTask, options?: RunTaskOptions): Promise<EvaluateOutcome>
  run(task: Task, options?: RunTaskOptions): Promise<Outcome>
}

/**
 * `min(2, os.availableParallelism())`: the default number of workers.
 *
 * @example
 * ```ts
 * import { createTrainingPool, defaultWorkerCount } from '@vain/fl'
 * const pool = createTrainingPool({ train, test, workers: defaultWorkerCount() })
 * ```
 */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(2, availableParallelism()))
}

interface Job {
  id: number
  task: Task
  resolve: (outcome: Outcome) => void
  reject: (err: unknown) => void
}

interface Slot {
  worker: Worker
  job: Job | undefined
  exited: boolean
  exit: Promise<void>
}

/** Where the worker script is and how to start it (tsx when running from TypeScript source). */
function workerEntry(override: URL | undefined): { url: URL; execArgv: string[] } {
  if (override !== undefined) return { url: override, execArgv: override.pathname.endsWith('.ts') ? tsxArgs() : [] }
  const here = import.meta.url
  if (/\.[cm]?ts$/.test(new URL(here).pathname)) return { url: new URL('./worker.ts', here), execArgv: tsxArgs() }
  return { url: new URL('./simulation-worker.js', here), execArgv: [] }
}

function tsxArgs(): string[] {
  let loader: string
  try {
    loader = createRequire(import.meta.url).resolve('tsx')
  } catch (err) {
    throw new ConfigError('running @vain/fl from TypeScript source needs tsx to load the worker threads', [], {
      cause: err,
    })
  }
  return ['--import', pathToFileURL(loader).href]
}

function toError(e: { name: string; message: string; stack?: string }): Error {
  const err = new TaskFailedError(e.name, e.message)
  if (e.stack !== undefined) err.stack = `${err.name}: ${err.message}\n--- in the worker thread ---\n${e.stack}`
  return err
}

/**
 * Creates a pool of worker threads that run clients' local training and test-set evaluations
 * with their own onnxruntime trainers. The datasets are copied once into `SharedArrayBuffer`s
 * that every worker reads; a task carries the global parameters and the client's row indices.
 *
 * @example
 * ```ts
 * import { createModel, createTrainingPool, gaussianBlobs, mlp, splitDataset } from '@vain/fl'
 *
 * const { train, test } = splitDataset(gaussianBlobs({ samples: 1200, features: 16, numClasses: 4, seed: 1 }), 1000)
 * const pool = createTrainingPool({ train, test, workers: 2 })
 * await pool.start()
 * const model = createModel(mlp(16, [32], 4), { seed: 1 })
 * const options = { epochs: 1, batchSize: 32, lr: 0.05, momentum: 0.9, weightDecay: 0, proxMu: 0, seed: 1 }
 * const indices = Int32Array.from({ length: 100 }, (_, i) => i)
 * const { delta } = await pool.run({ kind: 'train', architecture: model.architecture, params: model.params, indices, options })
 * const { accuracy } = await pool.run({ kind: 'evaluate', architecture: model.architecture, params: model.params })
 * await pool.stop() // every thread has exited
 * ```
 */
export function createTrainingPool(init: TrainingPoolInit): TrainingPool {
  const workers = init.workers ?? defaultWorkerCount()
  if (!(Number.isInteger(workers) && workers >= 0 && workers <= 256)) {
    throw new ConfigError(`workers must be an integer in 0..256, got ${workers}`)
  }
  const threads = init.threads ?? 1
  const slots: Slot[] = []
  const queue: Job[] = []
  let nextId = 0
  let state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new'
  let failure: Error | undefined
  // in-process mode
  let trainer: LocalTrainer | undefined
  let chain: Promise<unknown> = Promise.resolve()
  const data: PoolData = { train: init.train, test: init.test }

  const fail = (err: Error) => {
    failure ??= err
    for (const job of queue.splice(0)) job.reject(err)
    for (const s of slots) {
      const job = s.job
      s.job = undefined
      job?.reject(err)
    }
  }

  const pump = () => {
    for (const s of slots) {
      if (queue.length === 0) return
      if (s.job !== undefined || s.exited) continue
      const job = queue.shift()!
      s.job = job
      const msg: WorkerRequest = { id: job.id, task: job.task }
      s.worker.postMessage(msg)
    }
  }

  const spawn = (workerData: WorkerInit): Promise<Slot> => {
    const { url, execArgv } = workerEntry(init.workerUrl)
    const worker = new Worker(url, { workerData, execArgv })
    let onExit!: () => void
    const slot: Slot = { worker, job: undefined, exited: false, exit: new Promise<void>((r) => (onExit = r)) }
    slots.push(slot)
    return new Promise<Slot>((resolve, reject) => {
      worker.on('message', (reply: WorkerReply) => {
        if ('ready' in reply) {
          resolve(slot)
          return
        }
        const job = slot.job
        if (job === undefined || job.id !== reply.id) return
        slot.job = undefined
        if (reply.ok) job.resolve(reply.outcome)
        else job.reject(toError(reply.error))
        pump()
      })
      worker.on('error', (err) => {
        const e = new WorkerCrashedError(`a training worker failed: ${err.message}`, undefined, { cause: err })
        reject(e)
        if (state === 'running' || state === 'starting') fail(e)
      })
      worker.on('exit', (code) => {
        slot.exited = true
        onExit()
        const e = new WorkerCrashedError(`a training worker exited (code ${code})`, code)
        reject(e)
        if (state === 'running' || state === 'starting') fail(e)
      })
    })
  }

  const pool: TrainingPool = {
    workers,
    get liveThreads() {
      return slots.filter((s) => !s.exited).length
    },

    async start() {
      if (state !== 'new') throw new ClosedError(`the pool was already ${state === 'running' ? 'started' : state}`)
      state = 'starting'
      if (workers === 0) {
        trainer = createLocalTrainer({ threads })
        state = 'running'
        return
      }
      const workerData: WorkerInit = {
        train: shareDataset(init.train),
        test: init.test === undefined ? undefined : shareDataset(init.test),
        threads,
      }
      try {
        await Promise.all(Array.from({ length: workers }, () => spawn(workerData)))
      } catch (err) {
        await pool.stop()
        throw err
      }
      if ((state as string) !== 'starting') throw new ClosedError('the pool was stopped while starting')
      state = 'running'
    },

    async stop() {
      if (state === 'stopped' || state === 'stopping') {
        await Promise.all(slots.map((s) => s.exit))
        return
      }
      state = 'stopping'
      fail(new ClosedError('the training pool was stopped'))
      if (trainer !== undefined) {
        await chain // never release sessions under a running task
        await trainer.close()
      }
      await Promise.all(
        slots.map(async (s) => {
          if (s.exited) return
          const close: WorkerRequest = { id: -1, close: true }
          s.worker.postMessage(close)
          const timer = setTimeout(() => void s.worker.terminate(), 1000)
          await s.exit
          clearTimeout(timer)
        }),
      )
      state = 'stopped'
    },

    run(task: Task, options: RunTaskOptions = {}): Promise<any> {
      if (failure !== undefined) return Promise.reject(failure)
      if (state !== 'running') return Promise.reject(new ClosedError(`the training pool is ${state}, not running`))
      const { signal } = options
      if (signal?.aborted) return Promise.reject(signal.reason)
      if (workers === 0) {
        const t = trainer!
        const p = chain.then(() => {
          signal?.throwIfAborted()
          return runTask(t, data, task, signal)
        })
        chain = p.catch(() => undefined)
        return p
      }
      return new Promise<Outcome>((resolve, reject) => {
        const onAbort = () => {
          // a queued task is dropped; one already on a worker finishes there, its result ignored
          const i = queue.indexOf(job)
          if (i >= 0) queue.splice(i, 1)
          reject(signal!.reason)
        }
        const job: Job = {
          id: nextId++,
          task,
          resolve: (outcome) => {
            signal?.removeEventListener('abort', onAbort)
            resolve(outcome)
          },
          reject: (err) => {
            signal?.removeEventListener('abort', onAbort)
            reject(err)
          },
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        queue.push(job)
        pump()
      })
    },
  }
  return pool
}
