/**
 * Retrying when the chain is down. A vAIn node must not crash because its RPC endpoint is
 * restarting: {@link withRetry} retries an operation while the chain is unreachable (connection
 * refused, timeout, HTTP error — never a revert, which is an answer), with exponential backoff and
 * jitter, reports each retry through `onRetry`, stops on `signal`, and finally throws
 * {@link ChainUnavailableError}. {@link retryingTransport} applies the same policy to every
 * request of a viem client, and {@link waitForChain} waits until an endpoint answers.
 *
 * @example
 * ```ts
 * import { createPublicClient, http } from 'viem'
 * import { retryingTransport } from '@vain/chain'
 *
 * const client = createPublicClient({
 *   transport: retryingTransport(http('http://127.0.0.1:8545'), {
 *     attempts: 10,
 *     onRetry: ({ attempt, delayMs, error }) => console.warn(`chain down (${attempt}), retrying in ${delayMs} ms`, error),
 *   }),
 * })
 * ```
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { PublicClient, Transport } from 'viem'
import { ChainUnavailableError, isUnavailable } from './errors.js'

/** When and how often to retry an operation against an unreachable chain. */
export interface RetryOptions {
  /** Attempts in total, the first included (default 5). `Infinity` retries until `signal` aborts. */
  attempts?: number
  /** Delay before the first retry (default 200 ms); doubles each time. */
  minDelayMs?: number
  /** Longest delay between attempts (default 5,000 ms). */
  maxDelayMs?: number
  /** Called before each wait, to report that the chain is down. */
  onRetry?: (info: RetryInfo) => void
  /** Stops retrying (the last error is thrown as the abort's cause). */
  signal?: AbortSignal
}

/** What `onRetry` is told. */
export interface RetryInfo {
  /** The attempt that just failed (1 = the first). */
  attempt: number
  /** How long until the next attempt. */
  delayMs: number
  /** Why the attempt failed. */
  error: unknown
}

/**
 * Runs `operation` until it succeeds, retrying only while the chain is unreachable.
 * Other errors (reverts, bad input) are thrown at once.
 *
 * @throws {@link ChainUnavailableError} after the last attempt, with the last error as `cause`.
 * @example
 * ```ts
 * const block = await withRetry(() => publicClient.getBlockNumber(), { attempts: 3 })
 * ```
 */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 5
  const minDelay = options.minDelayMs ?? 200
  const maxDelay = options.maxDelayMs ?? 5_000
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted()
    try {
      return await operation(attempt)
    } catch (error) {
      if (!isUnavailable(error)) throw error
      if (attempt >= attempts) {
        // retried already further down (e.g. by a retrying transport): keep that account
        const inner = findUnavailable(error)
        if (inner !== undefined && attempt === 1) throw inner
        throw new ChainUnavailableError(`chain unreachable after ${attempt} attempt(s)`, attempt, {
          cause: error,
          details: 'check that the RPC endpoint is up (for a local chain: `startLocalChain()`), then retry',
        })
      }
      const base = Math.min(maxDelay, minDelay * 2 ** (attempt - 1))
      const delayMs = Math.round(base / 2 + Math.random() * (base / 2))
      options.onRetry?.({ attempt, delayMs, error })
      try {
        await sleep(delayMs, undefined, options.signal === undefined ? undefined : { signal: options.signal })
      } catch (abort) {
        options.signal?.throwIfAborted() // the signal's own reason (e.g. a TimeoutError)
        throw abort
      }
    }
  }
}

/**
 * Wraps a viem transport so that each request is retried by {@link withRetry} while the chain is
 * unreachable. viem's own retries are turned off so the policy is in one place. A transaction
 * sent through `eth_sendTransaction` (signed by the node) is retried only when the connection
 * was refused, so it is never sent twice.
 *
 * @example
 * ```ts
 * const client = createPublicClient({ transport: retryingTransport(http(rpcUrl), { attempts: Infinity, signal }) })
 * ```
 */
export function retryingTransport<T extends Transport>(transport: T, options: RetryOptions = {}): T {
  const wrapped = ((params: Parameters<T>[0]) => {
    const inner = transport({ ...params, retryCount: 0 })
    const request = (async (args: { method: string; params?: unknown }, requestOptions?: unknown) => {
      const once = () => (inner.request as any)(args, requestOptions)
      if (args.method === 'eth_sendTransaction') {
        return withRetry(
          () =>
            once().catch((err: unknown) => {
              throw refusedOnly(err)
            }),
          options,
        )
      }
      return withRetry(once, options)
    }) as typeof inner.request
    return { ...inner, request }
  }) as T
  return wrapped
}

/** The ChainUnavailableError in `err`'s cause chain, if any. */
export function findUnavailable(err: unknown): ChainUnavailableError | undefined {
  let e: any = err
  for (let depth = 0; e != null && depth < 10; depth++) {
    if (e instanceof ChainUnavailableError) return e
    e = e.cause
  }
  return undefined
}

/** Lets only "connection refused" count as unreachable; any other failure is final. */
function refusedOnly(err: unknown): unknown {
  let e: any = err
  for (let depth = 0; e != null && depth < 8; depth++) {
    if (e.code === 'ECONNREFUSED') return err
    e = e.cause
  }
  return Object.assign(new Error('transaction may have been sent; not retrying', { cause: err }), { final: true })
}

/**
 * Waits until the chain answers (`eth_chainId`), retrying with backoff; returns the chain id.
 *
 * @example
 * ```ts
 * const chainId = await waitForChain(publicClient, { attempts: 20, onRetry: () => console.log('waiting for the chain…') })
 * ```
 */
export async function waitForChain(
  client: Pick<PublicClient, 'getChainId'>,
  options: RetryOptions = {},
): Promise<number> {
  return withRetry(() => client.getChainId(), options)
}
