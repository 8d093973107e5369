/**
 * Which announced jobs a node takes on when it has a chain: a job's creator must be registered
 * (its peer id bound to an address in the NodeRegistry), staked at the tier the network sets for
 * creators (`RoundManager.creatorTier`, at least tier 1) and allowed to open — and so fund — chain
 * rounds (the OPENER role). After it is admitted, a job whose creator leaves its rounds unfunded
 * (no chain round opened for a completed protocol round) for {@link DEFAULT_MAX_UNFUNDED_ROUNDS}
 * rounds in a row is reported with `job:unfunded`, for the node to cancel it.
 *
 * Verdicts are kept per creator for a few seconds, and admissions in flight are shared per
 * creator and bounded in all, so one key gossiping hundreds of jobs costs a few chain reads.
 * @module
 */
import type { Address } from 'viem'
import { VainChainError } from '../errors.js'
import { formatVain } from '../format.js'
import { VAIN_ROLES } from '../roles.js'
import { bounded, firstLine, type SettlementContext } from './context.js'
import { roundKey } from './rules.js'

/** Consecutive completed rounds without a chain round before `job:unfunded` (default 3). */
export const DEFAULT_MAX_UNFUNDED_ROUNDS = 3

/** How long a verdict on a creator is kept (ms). */
const VERDICT_TTL_MS = 10_000
/** Creators whose verdict is kept, and admissions waiting on the chain at once. */
const MAX_CREATORS = 1_024
const MAX_PENDING = 64

/**
 * A job's creator this node does not take jobs from: not registered, staked under the creators'
 * tier, not allowed to open rounds, or the chain could not be asked.
 *
 * @example
 * ```ts
 * participant.addEventListener('rejected', (e) => {
 *   if (e.detail.errorName === 'JobCreatorRefusedError') console.log(e.detail.reason)
 * })
 * ```
 */
export class JobCreatorRefusedError extends VainChainError {
  static override name = 'JobCreatorRefusedError'
  override name = 'JobCreatorRefusedError'
  /** The creator's peer id. */
  readonly creator: string
  constructor(creator: string, why: string) {
    super(`job creator ${creator} ${why}`)
    this.creator = creator
  }
}

/**
 * A job admission policy read from chain (structurally `@vain/fl`'s `JobPolicy`).
 *
 * @example
 * ```ts
 * const participant = createParticipant({ ...components, jobPolicy: settlement.jobPolicy })
 * ```
 */
export interface ChainJobPolicy {
  /** Resolves when `job.creator` may have this node run its job; rejects with {@link JobCreatorRefusedError}. */
  admit(job: { jobId: string; creator: string }): Promise<void>
}

/** The tier the network asks of job creators (`RoundManager.creatorTier`, at least 1). */
async function creatorTier(ctx: SettlementContext): Promise<number> {
  const chain = ctx.chain
  if (chain === undefined) return 1
  const tier = await chain.vain.contracts.roundManager.read.creatorTier()
  return Math.max(1, Number(tier))
}

/** Checks `creator` against the chain; throws {@link JobCreatorRefusedError} saying why not. */
async function checkCreator(ctx: SettlementContext, creator: string): Promise<void> {
  const chain = await ctx.ready()
  const directory = ctx.dir
  if (chain === undefined || directory === undefined) {
    throw new JobCreatorRefusedError(creator, 'cannot be checked: this node has no chain connection')
  }
  let address: Address | undefined
  try {
    address = await directory.addressOf(creator)
    if (address === undefined) {
      throw new JobCreatorRefusedError(creator, 'is not registered on chain (no address bound to its peer id)')
    }
    const [standing, required, opener] = await Promise.all([
      directory.standing(address),
      creatorTier(ctx),
      chain.vain.contracts.roundManager.read.hasRole([VAIN_ROLES.OPENER, address]),
    ])
    if (standing.staked < standing.minStake[0] || standing.tier < required) {
      throw new JobCreatorRefusedError(
        creator,
        `(${address}) is tier ${standing.tier} with ${formatVain(standing.staked)} staked; the network asks job creators for tier ${required}`,
      )
    }
    if (!opener) {
      throw new JobCreatorRefusedError(
        creator,
        `(${address}) may not open rounds on chain (no OPENER role): its rounds could not be funded`,
      )
    }
  } catch (err) {
    if (err instanceof JobCreatorRefusedError) throw err
    throw new JobCreatorRefusedError(creator, `could not be checked on chain: ${firstLine(err)}`)
  }
}

/** The job policy of a settlement: see the module docs. */
export function createChainJobPolicy(ctx: SettlementContext): ChainJobPolicy {
  const verdicts = new Map<string, { at: number; error: JobCreatorRefusedError | undefined }>()
  const pending = new Map<string, Promise<void>>()
  const decide = async (creator: string): Promise<void> => {
    try {
      await checkCreator(ctx, creator)
      bounded(verdicts).set(creator, { at: Date.now(), error: undefined })
    } catch (err) {
      const error = err as JobCreatorRefusedError
      // a chain that could not be asked is not remembered: the next job asks again
      if (!/could not be checked|no chain connection/.test(error.message)) {
        bounded(verdicts).set(creator, { at: Date.now(), error })
      }
      throw error
    }
  }
  return {
    async admit({ creator }) {
      const kept = verdicts.get(creator)
      if (kept !== undefined && Date.now() - kept.at < VERDICT_TTL_MS) {
        if (kept.error !== undefined) throw kept.error
        return
      }
      let p = pending.get(creator)
      if (p === undefined) {
        if (pending.size >= MAX_PENDING || verdicts.size > MAX_CREATORS * 4) {
          throw new JobCreatorRefusedError(creator, 'is not checked now: too many job creators are being checked')
        }
        p = decide(creator).finally(() => pending.delete(creator))
        pending.set(creator, p)
      }
      await p
    },
  }
}

/**
 * Funding of admitted jobs: at the start of round `round` (≥ 1) of a job this node did not create,
 * whether a chain round was opened for round `round - 1`; after `max` unfunded rounds in a row,
 * `job:unfunded` is emitted (once per job).
 */
export function noteRoundStarted(
  ctx: SettlementContext,
  unfunded: Map<string, number>,
  d: { jobId: string; round: number },
  max: number,
): void {
  if (d.round < 1 || ctx.createdJobs.has(d.jobId) || ctx.watcher === undefined || ctx.watcher.down) return
  const previous = d.round - 1
  const attempt = ctx.attempts.get(`${d.jobId}:${previous}`) ?? 0
  const funded = ctx.openedKeys.has(roundKey(d.jobId, previous, attempt))
  const count = funded ? 0 : (unfunded.get(d.jobId) ?? 0) + 1
  bounded(unfunded).set(d.jobId, count)
  if (count === max) {
    ctx.log.warn(
      `job ${d.jobId.slice(0, 12)}: its creator opened no chain round for ${count} rounds in a row (its rounds are not funded)`,
    )
    ctx.emit('job:unfunded', { jobId: d.jobId, rounds: count })
  }
}
