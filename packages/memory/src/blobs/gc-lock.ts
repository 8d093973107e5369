/**
 * Writers (puts, fetches) share the blob store; garbage collection runs alone. A writer that
 * skips a chunk because it already exists must not race a GC that is deleting that chunk.
 * @module
 */

/** A shared/exclusive lock: many writers, or one GC. */
export class GcLock {
  private writers = 0
  private running: Promise<void> | undefined
  private waiters: Array<() => void> = []

  /** Enter as a writer; returns the release function (idempotent). */
  async enter(): Promise<() => void> {
    while (this.running !== undefined) await this.running
    this.writers++
    let released = false
    return () => {
      if (released) return
      released = true
      this.writers--
      if (this.writers === 0) {
        const waiting = this.waiters
        this.waiters = []
        for (const wake of waiting) wake()
      }
    }
  }

  /** Run `fn` with no writer inside (new writers wait until it is done). */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.running !== undefined) {
        await this.running
        continue
      }
      if (this.writers > 0) {
        await new Promise<void>((resolve) => this.waiters.push(resolve))
        continue
      }
      break
    }
    let done!: () => void
    this.running = new Promise<void>((resolve) => {
      done = resolve
    })
    try {
      return await fn()
    } finally {
      this.running = undefined
      done()
    }
  }
}
