import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpus } from 'node:os'

/** Resolves with the detail of the first `type` event that `accept`s (no time limit: the test's timeout is the bound). */
type Target = { addEventListener(type: any, l: any): void; removeEventListener(type: any, l: any): void }

export function nextEvent<T>(target: Target, type: string, accept: (detail: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (e: CustomEvent<T>) => {
      if (!accept(e.detail)) return
      target.removeEventListener(type, listener)
      resolve(e.detail)
    }
    target.addEventListener(type, listener)
  })
}

/** A real load in child processes; `stop()` kills them and waits for their exit. */
export interface Load {
  stop(): Promise<void>
}

const live = new Set<ChildProcess>()

/** Kills every load still running (call it in `afterEach`: a test that timed out never reached its own `stop()`). */
export function killLoads(): void {
  for (const p of live) p.kill('SIGKILL')
  live.clear()
}

// a load whose test process died exits by itself: its parent is gone when `process.ppid` changes
const orphanCheck = `const parent = process.ppid; const orphaned = () => process.ppid !== parent;`

async function children(procs: ChildProcess[]): Promise<Load> {
  for (const p of procs) {
    live.add(p)
    p.once('exit', () => live.delete(p))
  }
  // wait until each child runs its load (it prints "ready")
  await Promise.all(procs.map((p) => once(p.stdout as NodeJS.ReadableStream, 'data')))
  return {
    stop: async () => {
      await Promise.all(
        procs.map(async (p) => {
          if (p.exitCode !== null || p.signalCode !== null) return
          const exited = once(p, 'exit')
          p.kill('SIGKILL')
          await exited
        }),
      )
    },
  }
}

/** `n` busy-looping processes (default: one more than the host's cores). */
export function cpuHog(n = cpus().length + 1): Promise<Load> {
  const procs = Array.from({ length: n }, () =>
    spawn(
      process.execPath,
      [
        '-e',
        `${orphanCheck} process.stdout.write("ready\\n"); for (let i = 0; ; i++) if (i % 1e7 === 0 && orphaned()) process.exit()`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  )
  return children(procs)
}

/** A process holding `bytes` of touched memory. */
export function memoryBalloon(bytes: number): Promise<Load> {
  const code = `${orphanCheck} const b = Buffer.alloc(${bytes}, 1); globalThis.keep = b; process.stdout.write("ready\\n"); setInterval(() => orphaned() && process.exit(), 500)`
  return children([spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] })])
}

/** Records events of `types` from the moment it is called; `waitFor` resolves with the first recorded one that matches, past or future. */
export function recorder(target: Target, types: string[]) {
  const events: Array<{ type: string; detail: unknown }> = []
  const waiters: Array<() => void> = []
  for (const type of types)
    target.addEventListener(type, (e: CustomEvent<unknown>) => {
      events.push({ type, detail: e.detail })
      for (const w of waiters.splice(0)) w()
    })
  const waitFor = async <T>(type: string, from = 0): Promise<{ detail: T; index: number }> => {
    for (;;) {
      const index = events.findIndex((e, i) => i >= from && e.type === type)
      if (index >= 0) return { detail: events[index]?.detail as T, index }
      await new Promise<void>((r) => waiters.push(r))
    }
  }
  return { events, waitFor, types: () => events.map((e) => e.type) }
}
