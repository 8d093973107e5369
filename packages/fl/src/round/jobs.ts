/**
 * Which jobs a node takes on. Any peer with a fresh key can sign a job, so joining is a policy
 * decision ({@link JobPolicy}: a staked creator with a chain, an allow-list of creators or an
 * explicit opt-in without one) within caps on the jobs a node runs at once, in all and per
 * creator; a job whose rounds keep failing is abandoned after a bounded number of attempts.
 * @module
 */
import { admitJob } from './admission.js'
import { verifyMessage } from './envelope.js'
import { ForgedMessageError, RoundProtocolError } from './errors.js'
import { type JobAnnouncement, openRoundMessage } from './messages.js'
import type { RoundTransport } from './ports.js'

/** A job this node does not take on (policy or caps). */
export class JobNotAdmittedError extends RoundProtocolError {
  static override name = 'JobNotAdmittedError'
  override name = 'JobNotAdmittedError'
}

/** Decides whether this node takes on a job (after its signature was checked). */
export interface JobPolicy {
  /** Resolves when the job is admitted; rejects with a typed error ({@link JobNotAdmittedError}) saying why not. */
  admit(job: JobAnnouncement): Promise<void> | void
}

/**
 * Take on every signed job: an explicit opt-in for closed networks, tests and demos.
 *
 * @example
 * ```ts
 * createParticipant({ ...components, jobPolicy: acceptAnyJob() })
 * ```
 */
export function acceptAnyJob(): JobPolicy {
  return { admit: () => {} }
}

/**
 * Take on jobs whose creator is on `creators` (peer ids), and this node's own.
 *
 * @example
 * ```ts
 * createParticipant({ ...components, jobPolicy: allowJobCreators(['12D3KooW…']) })
 * ```
 */
export function allowJobCreators(creators: readonly string[] | (() => readonly string[])): JobPolicy {
  return {
    admit: (job) => {
      const list = typeof creators === 'function' ? creators() : creators
      if (!list.includes(job.creator)) {
        throw new JobNotAdmittedError(
          `job ${job.jobId.slice(0, 12)}: creator ${job.creator} is not on this node's allow-list`,
        )
      }
    },
  }
}

/** Caps on the jobs a node runs at once. */
export interface JobCaps {
  /** Jobs running at once on this node. Default 16. */
  maxActiveJobs: number
  /** Jobs running at once from one creator. Default 4. */
  maxJobsPerCreator: number
  /** Consecutive failed attempts of a round before the job is abandoned. Default 10. */
  maxFailedAttempts: number
}

export const DEFAULT_JOB_CAPS: JobCaps = { maxActiveJobs: 16, maxJobsPerCreator: 4, maxFailedAttempts: 10 }

/**
 * Check the caps for one more job from `creator`, given the creators of the jobs running now.
 *
 * @throws {JobNotAdmittedError} when a cap is reached
 */
export function checkJobCaps(running: readonly string[], creator: string, caps: JobCaps): void {
  if (running.length >= caps.maxActiveJobs) {
    throw new JobNotAdmittedError(`this node runs ${running.length} jobs, its limit`)
  }
  const mine = running.filter((c) => c === creator).length
  if (mine >= caps.maxJobsPerCreator) {
    throw new JobNotAdmittedError(`this node runs ${mine} jobs from ${creator}, the limit per creator`)
  }
}

/**
 * Open a gossiped job announcement: decode it, admit its header ({@link admitJob}), check its
 * creator's signature over the exact bytes received.
 *
 * @throws {InvalidMessageError | InvalidJobError | ForgedMessageError}
 */
export async function openJob(raw: unknown, transport: Pick<RoundTransport, 'verify'>): Promise<JobAnnouncement> {
  const a = openRoundMessage('job', raw)
  const verdict = admitJob(a)
  if (!verdict.ok) throw verdict.error
  if (!(await verifyMessage('job', a.envelope, a.creator, (s, d, sig) => transport.verify(s, d, sig)))) {
    throw new ForgedMessageError('bad creator signature')
  }
  return a
}
