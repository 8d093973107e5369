/**
 * The RAM tier: an LRU cache bounded in bytes with a per-entry TTL (lru-cache), accounted in a
 * {@link MemoryBudget} shared with other caches.
 * @module
 */
import { LRUCache } from 'lru-cache'
import type { BudgetConsumer, MemoryBudget } from '../budget/memory-budget.js'

/** Why an entry left the RAM tier without being deleted. */
export type EvictionReason = 'capacity' | 'budget'

/** Options of a {@link RamTier}. */
export interface RamTierInit {
  label: string
  /** Most bytes this tier holds (its own cap, below the shared budget). */
  maxBytes: number
  /** Bytes the shared budget never takes back from this tier. */
  reservedBytes: number
  budget: MemoryBudget
  /** Clock in ms (same as the store's). */
  now: () => number
  /** True when `now` is not `Date.now`/`performance.now` (tests): then TTLs are checked exactly. */
  exactClock: boolean
  onEvict?: (key: string, bytes: number, reason: EvictionReason) => void
  onExpire?: (key: string, bytes: number) => void
}

/** Bytes an entry counts for: value bytes plus the key's UTF-16 size. */
export function entryBytes(key: string, value: Uint8Array): number {
  return value.byteLength + key.length * 2
}

/**
 * An LRU map from string keys to bytes, bounded in bytes, with per-entry TTL.
 *
 * @example
 * ```ts
 * const budget = createMemoryBudget({ maxBytes: 1 << 20 })
 * const ram = new RamTier({ label: 'demo', maxBytes: 1 << 20, reservedBytes: 0, budget, now: Date.now, exactClock: false })
 * ram.set('a', new Uint8Array(10), 0)
 * ram.get('a') // Uint8Array(10)
 * ```
 */
export class RamTier implements BudgetConsumer {
  readonly label: string
  readonly maxBytes: number
  readonly reservedBytes: number
  private readonly cache: LRUCache<string, Uint8Array>
  private readonly budget: MemoryBudget
  private shedding = false
  private inSet = false
  private readonly onEvict: RamTierInit['onEvict']
  private readonly onExpire: RamTierInit['onExpire']
  evictions = 0
  expirations = 0

  constructor(init: RamTierInit) {
    this.label = init.label
    this.maxBytes = init.maxBytes
    this.reservedBytes = Math.min(init.reservedBytes, init.maxBytes)
    this.budget = init.budget
    this.onEvict = init.onEvict
    this.onExpire = init.onExpire
    this.cache = new LRUCache<string, Uint8Array>({
      maxSize: Math.max(1, init.maxBytes),
      perf: { now: init.now },
      ttlResolution: init.exactClock ? 0 : 1,
      dispose: (value, key, reason) => this.disposed(value, key, reason),
    })
    this.budget.register(this)
  }

  private disposed(value: Uint8Array, key: string, reason: LRUCache.DisposeReason): void {
    // an overwrite, and evictions while set() runs, are in set()'s size difference
    if (reason === 'set') return
    const bytes = entryBytes(key, value)
    if (!this.inSet) this.budget.release(bytes)
    if (reason === 'evict') {
      this.evictions++
      this.onEvict?.(key, bytes, this.shedding ? 'budget' : 'capacity')
    } else if (reason === 'expire') {
      this.expirations++
      this.onExpire?.(key, bytes)
    }
  }

  /** Bytes held now. */
  get bytes(): number {
    return this.cache.calculatedSize
  }

  /** Entries held now (expired ones not yet purged included). */
  get entries(): number {
    return this.cache.size
  }

  /** The value, or undefined when absent or expired (an expired entry is dropped). */
  get(key: string): Uint8Array | undefined {
    return this.cache.get(key)
  }

  /** True when present and not expired. */
  has(key: string): boolean {
    return this.cache.has(key)
  }

  /**
   * Insert or replace; `ttlMs` 0 means no expiry. Returns false (and drops any old value for the
   * key) when the entry cannot fit in this tier's cap or in the shared budget.
   */
  set(key: string, value: Uint8Array, ttlMs: number, size = entryBytes(key, value)): boolean {
    if (size > this.maxBytes) {
      this.cache.delete(key)
      return false
    }
    const budget = this.budget
    if (budget.usedBytes + size > budget.maxBytes) {
      // the budget may be short: give the old value's bytes back first (shedding could evict it
      // anyway, and then the real growth would be the whole entry), then make room for the whole
      // entry, shedding others above their reservation
      this.cache.delete(key)
      if (!budget.reserve(this, size)) return false
      budget.release(size) // accounted below, from the actual change
    }
    // account the actual change of this cache's size (new entry, replaced entry, own evictions)
    const before = this.cache.calculatedSize
    this.inSet = true
    try {
      this.cache.set(key, value, { size, ttl: ttlMs })
    } finally {
      this.inSet = false
    }
    budget.adjust(this.cache.calculatedSize - before)
    return true
  }

  /** Remove an entry; true when it was there. */
  delete(key: string): boolean {
    return this.cache.delete(key)
  }

  /** Keys, most recently used first (expired ones skipped). */
  *keys(): Generator<string> {
    for (const key of this.cache.keys()) {
      if (this.cache.has(key)) yield key
    }
  }

  /** Drop expired entries now (each reported as an expiration). */
  purgeExpired(): void {
    this.cache.purgeStale()
  }

  /** Evict least recently used entries until `bytes` are freed or only `floorBytes` are left. */
  shed(bytes: number, floorBytes: number): number {
    const start = this.cache.calculatedSize
    this.shedding = true
    try {
      while (
        this.cache.size > 0 &&
        start - this.cache.calculatedSize < bytes &&
        this.cache.calculatedSize > floorBytes
      ) {
        this.cache.pop()
      }
    } finally {
      this.shedding = false
    }
    return start - this.cache.calculatedSize
  }

  /** Drop every entry and leave the budget. */
  close(): void {
    this.cache.clear()
    this.budget.unregister(this)
  }

  /** Drop every entry (deleted, not evicted). */
  clear(): void {
    this.cache.clear()
  }
}
