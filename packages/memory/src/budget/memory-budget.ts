/**
 * A byte budget shared by several RAM caches in one process. Each cache (a namespace's RAM tier,
 * a blob chunk cache) registers as a consumer with a guaranteed `reservedBytes`; when the total
 * would exceed `maxBytes`, the budget takes bytes back from the consumers most above their
 * reservation (least recently used entries first), so a large model cache cannot starve the
 * small, hot caches beside it.
 * @module
 */
import { BudgetExceededError } from '../errors.js'
import { assertInteger } from '../keys.js'

/** A cache that holds bytes under a {@link MemoryBudget}. */
export interface BudgetConsumer {
  /** A label for stats, e.g. `store:/data/a ns:models`. */
  readonly label: string
  /** Bytes this consumer holds now. */
  readonly bytes: number
  /** Bytes the budget never takes back from this consumer for others. */
  readonly reservedBytes: number
  /**
   * Evict least-recently-used entries until at least `bytes` are freed or nothing is left
   * to evict above `floorBytes`; returns the bytes freed.
   */
  shed(bytes: number, floorBytes: number): number
}

/** Options of {@link createMemoryBudget}. */
export interface MemoryBudgetInit {
  /** Total bytes all consumers together may hold. */
  maxBytes: number
}

/** A point-in-time view of a budget. */
export interface MemoryBudgetStats {
  maxBytes: number
  usedBytes: number
  /** Bytes promised to consumers as reservations. */
  reservedBytes: number
  /** Bytes taken back from one consumer to make room for another (or itself). */
  shedBytes: number
  consumers: Array<{ label: string; bytes: number; reservedBytes: number }>
}

/**
 * A process-wide RAM byte budget. Create one and pass it as `budget` to several stores.
 *
 * @example
 * ```ts
 * import { createMemory, createMemoryBudget } from '@vain/memory'
 * const budget = createMemoryBudget({ maxBytes: 512 * 1024 * 1024 })
 * const models = createMemory({ path: './data/models', budget })
 * const peers = createMemory({ path: './data/peers', budget })
 * ```
 */
export class MemoryBudget {
  readonly maxBytes: number
  private used = 0
  private reserved = 0
  private shedTotal = 0
  private readonly consumers = new Set<BudgetConsumer>()

  /** @internal use {@link createMemoryBudget} */
  constructor(init: MemoryBudgetInit) {
    this.maxBytes = assertInteger('budget maxBytes', init.maxBytes, 0)
  }

  /** Bytes held by all consumers together. */
  get usedBytes(): number {
    return this.used
  }

  /**
   * Register a consumer and its reservation.
   *
   * @throws {BudgetExceededError} when the reservations together would exceed `maxBytes`
   */
  register(consumer: BudgetConsumer): void {
    if (this.consumers.has(consumer)) return
    if (this.reserved + consumer.reservedBytes > this.maxBytes) {
      throw new BudgetExceededError(
        'ram',
        consumer.reservedBytes,
        this.maxBytes - this.reserved,
        `cannot reserve ${consumer.reservedBytes} bytes for ${consumer.label}: ${this.maxBytes - this.reserved} of ${this.maxBytes} left unreserved`,
      )
    }
    this.consumers.add(consumer)
    this.reserved += consumer.reservedBytes
    this.used += consumer.bytes
  }

  /** Remove a consumer (its bytes are no longer counted). */
  unregister(consumer: BudgetConsumer): void {
    if (!this.consumers.delete(consumer)) return
    this.reserved -= consumer.reservedBytes
    this.used -= consumer.bytes
  }

  /**
   * Account `delta` bytes for `consumer` (negative to release). A positive delta that does not
   * fit makes the budget shed bytes from consumers above their reservation, the furthest above
   * first (the requester included). Returns false, accounting nothing, when it still does not fit.
   */
  reserve(_consumer: BudgetConsumer, delta: number): boolean {
    if (delta <= 0 || this.used + delta <= this.maxBytes) {
      this.used += delta
      return true
    }
    if (delta > this.maxBytes) return false
    // the requester may always grow up to its own reservation: others pay for that
    let need = this.used + delta - this.maxBytes
    const victims = [...this.consumers]
      .filter((c) => c.bytes > c.reservedBytes)
      .sort((a, b) => b.bytes - b.reservedBytes - (a.bytes - a.reservedBytes))
    for (const victim of victims) {
      if (need <= 0) break
      const freed = victim.shed(need, victim.reservedBytes)
      this.shedTotal += freed
      need -= freed
    }
    if (this.used + delta > this.maxBytes) return false
    this.used += delta
    return true
  }

  /** Account a change a consumer already made room for (positive or negative). @internal */
  adjust(delta: number): void {
    this.used += delta
  }

  /** Release bytes a consumer no longer holds (evicted, expired, deleted). */
  release(bytes: number): void {
    this.used -= bytes
  }

  /** A snapshot of usage per consumer. */
  stats(): MemoryBudgetStats {
    return {
      maxBytes: this.maxBytes,
      usedBytes: this.used,
      reservedBytes: this.reserved,
      shedBytes: this.shedTotal,
      consumers: [...this.consumers].map((c) => ({ label: c.label, bytes: c.bytes, reservedBytes: c.reservedBytes })),
    }
  }
}

/**
 * Create a RAM byte budget to share between stores (see {@link MemoryBudget}).
 *
 * @throws {InvalidArgumentError} when `maxBytes` is not a non-negative integer
 * @example
 * ```ts
 * const budget = createMemoryBudget({ maxBytes: 256 * 1024 * 1024 })
 * console.log(budget.stats().usedBytes) // 0
 * ```
 */
export function createMemoryBudget(init: MemoryBudgetInit): MemoryBudget {
  return new MemoryBudget(init)
}
