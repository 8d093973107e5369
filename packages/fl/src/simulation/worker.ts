/**
 * Worker-thread entry of the training pool: holds its own onnxruntime {@link LocalTrainer} and
 * runs the tasks the pool posts, one at a time. Loaded from source through tsx (tests, the
 * `vain-source` condition) or as `dist/simulation-worker.js` (a separate tsup entry).
 * @module
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { createLocalTrainer } from '../train/trainer.js'
import type { DatasetMessage, Outcome, PoolData, Task } from './tasks.js'
import { runTask } from './tasks.js'

/** What the pool passes as `workerData`. */
export interface WorkerInit {
  readonly train: DatasetMessage
  readonly test?: DatasetMessage | undefined
  readonly threads: number
}

/** A message from the pool to a worker. */
export type WorkerRequest = { readonly id: number; readonly task: Task } | { readonly id: -1; readonly close: true }

/** A message from a worker to the pool. */
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly outcome: Outcome }
  | { readonly id: number; readonly ok: false; readonly error: { name: string; message: string; stack?: string } }
  | { readonly id: -1; readonly ready: true }

if (!isMainThread && parentPort !== null) {
  const port = parentPort
  const init = workerData as WorkerInit
  const data: PoolData = { train: init.train, test: init.test }
  const trainer = createLocalTrainer({ threads: init.threads })
  // the task in flight: closing aborts it (the trainer checks before every step) and waits for
  // it to settle, so no onnxruntime session is released while it runs
  let current: { controller: AbortController; done: Promise<unknown> } | undefined
  port.on('message', (msg: WorkerRequest) => {
    if ('close' in msg) {
      current?.controller.abort()
      void Promise.resolve(current?.done)
        .then(() => trainer.close())
        .finally(() => port.close())
      return
    }
    const controller = new AbortController()
    const done = runTask(trainer, data, msg.task, controller.signal).then(
      (outcome) => {
        const reply: WorkerReply = { id: msg.id, ok: true, outcome }
        port.postMessage(reply, outcome.kind === 'train' ? [outcome.delta.buffer as ArrayBuffer] : [])
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err))
        const reply: WorkerReply = {
          id: msg.id,
          ok: false,
          error: { name: e.name, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) },
        }
        port.postMessage(reply)
      },
    )
    current = { controller, done }
    void done.finally(() => {
      if (current?.done === done) current = undefined
    })
  })
  const ready: WorkerReply = { id: -1, ready: true }
  port.postMessage(ready)
}
