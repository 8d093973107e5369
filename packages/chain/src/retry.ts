/**
 * Retrying when the chain is down. A vAIn node must not crash because its RPC endpoint is
 * restarting: {@link withRetry} retries an operation while the chain is unreachable (connection
 * refused, timeout, HTTP error — never a revert, which is an answer), with exponential backoff and
 * jitter, reports each retry through `onRetry`, stops on `signal`, and finally throws
 * {@link ChainUnavailableError}. {@link retryingTransport} applies the same policy ({@link chainRetryPolicy},
 * built on cockatiel) to every
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
import { ExponentialBackoff, halfJitterGenerator, handleWhen, retry } from 'cockatiel'
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
 * The one retry policy of `@vain/chain` (see {@link chainRetryPolicy}).
 *
 * @example
 * ```ts
 * const policy: ChainRetryPolicy = chainRetryPolicy({ attempts: Infinity, signal })
 * ```
 */
export interface ChainRetryPolicy {
  /**
   * Runs `operation` until it succeeds, retrying only while the chain is unreachable.
   *
   * @throws {@link ChainUnavailableError} after the last attempt; any other error at once.
   */
  execute<T>(operation: (attempt: number) => Promise<T>): Promise<T>
}

/**
 * The retry policy for a chain that may be down, built on cockatiel: retries only errors that
 * say the chain could not be reached (never a revert, which is an answer, nor a failure marked
 * final), with exponential backoff from `minDelayMs` doubling up to `maxDelayMs` and equal jitter
 * (each delay between half and all of its step), reporting each retry through `onRetry`, and
 * stopping on `signal` at once (the signal's reason is thrown). The last failure is thrown as a
 * {@link ChainUnavailableError} that counts the attempts.
 *
 * @example
 * ```ts
 * const policy = chainRetryPolicy({ attempts: 10, onRetry: ({ attempt, delayMs }) => console.warn(`chain down (${attempt}), retrying in ${delayMs} ms`) })
 * const block = await policy.execute(() => publicClient.getBlockNumber())
 * ```
 */
export function chainRetryPolicy(options: RetryOptions = {}): ChainRetryPolicy {
  const attempts = options.attempts ?? 5
  const signal = options.signal
  const backoff = new ExponentialBackoff({
    initialDelay: options.minDelayMs ?? 200,
    maxDelay: options.maxDelayMs ?? 5_000,
    generator: halfJitterGenerator,
  })
  const isRetryable = (err: unknown): boolean => (err as { final?: unknown })?.final !== true && isUnavailable(err)
  let policy = retry(handleWhen(isRetryable), { maxAttempts: Math.max(0, attempts - 1), backoff })
  // cockatiel cannot cancel its wait between attempts: with a signal, its timer does not hold the
  // process (a stopped node leaves nothing behind) and a timer of ours does until the run ends
  if (signal !== undefined) policy = policy.dangerouslyUnref()
  const onRetry = options.onRetry
  if (onRetry !== undefined) {
    policy.onRetry((e) => onRetry({ attempt: e.attempt, delayMs: e.delay, error: 'error' in e ? e.error : e.value }))
  }
  return {
    async execute<T>(operation: (attempt: number) => Promise<T>): Promise<T> {
      signal?.throwIfAborted()
      let attempt = 0
      const run = policy.execute(({ attempt: retries }) => {
        signal?.throwIfAborted() // the signal's own reason (e.g. a TimeoutError), never retried
        attempt = retries + 1
        return operation(attempt)
      }, signal)
      try {
        return await (signal === undefined ? run : untilAborted(run, signal))
      } catch (error) {
        if (signal?.aborted === true) signal.throwIfAborted()
        if (!isRetryable(error)) throw error
        // retried already further down (e.g. by a retrying transport): keep that account
        const inner = findUnavailable(error)
        if (inner !== undefined && attempt === 1) throw inner
        throw new ChainUnavailableError(`chain unreachable after ${attempt} attempt(s)`, attempt, {
          cause: error,
          details: 'check that the RPC endpoint is up (for a local chain: `startLocalChain()`), then retry',
        })
      }
    },
  }
}

/** `run`, or the signal's reason as soon as it aborts; holds the process until then. */
function untilAborted<T>(run: Promise<T>, signal: AbortSignal): Promise<T> {
  run.catch(() => {}) // settles after an abort too, once cockatiel's wait ends
  return new Promise<T>((resolve, reject) => {
    const hold = setInterval(() => {}, 2 ** 31 - 1)
    const done = (): void => {
      clearInterval(hold)
      signal.removeEventListener('abort', onAbort)
    }
    const onAbort = (): void => {
      done()
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    run.then(
      (value) => {
        done()
        resolve(value)
      },
      (error: unknown) => {
        done()
        reject(error)
      },
    )
  })
}

/**
 * Runs `operation` until it succeeds, retrying only while the chain is unreachable
 * ({@link chainRetryPolicy}). Other errors (reverts, bad input) are thrown at once.
 *
 * @throws {@link ChainUnavailableError} after the last attempt, with the last error as `cause`.
 * @example
 * ```ts
 * const block = await withRetry(() => publicClient.getBlockNumber(), { attempts: 3 })
 * ```
 */
export function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  return chainRetryPolicy(options).execute(operation)
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
  const policy = chainRetryPolicy(options)
  const wrapped = ((params: Parameters<T>[0]) => {
    const inner = transport({ ...params, retryCount: 0 })
    const request = (async (args: { method: string; params?: unknown }, requestOptions?: unknown) => {
      const once = () => (inner.request as any)(args, requestOptions)
      if (args.method === 'eth_sendTransaction') {
        return policy.execute(() =>
          once().catch((err: unknown) => {
            throw refusedOnly(err)
          }),
        )
      }
      return policy.execute(once)
    }) as typeof inner.request
    return { ...inner, request }
  }) as T
  return wrapped
}

/**
 * The ChainUnavailableError in `err`'s cause chain, if any: whether an error means the chain was
 * down (after retries) rather than an answer from it.
 *
 * @example
 * ```ts
 * if (findUnavailable(err) !== undefined) console.warn('chain down, carrying on')
 * ```
 */
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
