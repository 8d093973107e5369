/**
 * Jobs and training: list, status, submit and cancel jobs (`/api/jobs`), the seed's
 * `GET /api/training/status` and `POST /api/training/control` (start, pause, resume, stop, cancel).
 * @module
 */
import { fieldsOf, type JobSpecInput, JobSpecSchema, openRoundMessage, type PersistedJobState } from '@vain/fl'
import { z } from 'zod'
import { ApiError } from '../errors.js'
import type { ApiApp, ApiParts, RouteOptions } from '../parts.js'
import {
  AnyJson,
  errors,
  JobParamsSchema,
  type JobSummarySchema,
  TrainingControlResultSchema,
  TrainingControlSchema,
  TrainingStatusSchema,
} from '../schemas.js'

const JOB_ID = /^[0-9a-f]{64}$/

/** A job spec from a request body, or 400 `InvalidJob` naming every problem. */
export function parseJobSpec(body: unknown): JobSpecInput {
  const parsed = JobSpecSchema.safeParse(body)
  if (!parsed.success) {
    throw new ApiError(
      400,
      'InvalidJob',
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
    )
  }
  return parsed.data
}

/**
 * Without a chain a job's committee comes only from its allow-list (`participants.aggregators`): a
 * job without one would have no committee and every round would fail at its deadline ("no committee
 * majority"). Refused at once with 400 `NoCommittee`, saying what to add.
 */
export function requireCommittee(parts: ApiParts, spec: JobSpecInput): JobSpecInput {
  if (parts.chain !== undefined || (spec.participants?.aggregators?.length ?? 0) > 0) return spec
  throw new ApiError(
    400,
    'NoCommittee',
    `this node has no chain to draw a committee from, so a job must name its committee: add participants.aggregators (the peer ids that aggregate, e.g. this node's ${parts.node.peerId.toString()}) to the spec, or run the node with a chain (vain start --chain FILE)`,
  )
}

/** One job's summary, from its state. */
export function summary(state: PersistedJobState): z.output<typeof JobSummarySchema> {
  let name: string | undefined
  let rounds: number | undefined
  try {
    const spec = openRoundMessage('job', state.announcement).spec
    name = spec.name
    rounds = spec.rounds
  } catch {
    // a state whose announcement does not open: the figures without the spec
  }
  return {
    jobId: state.jobId,
    ...(name !== undefined ? { name } : {}),
    state: state.finished ? (state.ended ?? 'finished') : state.paused === true ? 'paused' : 'running',
    round: state.round,
    ...(rounds !== undefined ? { rounds } : {}),
    attempt: state.attempt,
    model: state.model,
    history: state.history,
  }
}

/** A job's state on this node, or 404 `JobNotFound`. */
async function jobOr404(parts: ApiParts, jobId: string): Promise<PersistedJobState> {
  const state = JOB_ID.test(jobId) ? await parts.participant.jobState(jobId) : undefined
  if (state === undefined) throw new ApiError(404, 'JobNotFound', `no job ${jobId} on this node`)
  return state
}

export function jobRoutes(app: ApiApp, parts: ApiParts, { hide }: RouteOptions): void {
  const { participant } = parts
  app.get(
    '/jobs',
    {
      schema: {
        hide,
        tags: ['jobs'],
        summary: 'Ids of the jobs this node runs',
        response: { 200: z.array(z.string()) },
      },
    },
    async () => participant.jobIds(),
  )
  app.get(
    '/jobs/:jobId',
    {
      schema: {
        hide,
        tags: ['jobs'],
        summary: 'A job: its progress here, its announcement and latest results (decoded)',
        params: JobParamsSchema,
        response: { 200: AnyJson, ...errors(404) },
      },
    },
    async (request) => {
      // the earlier route answers for running jobs only (`vain job status` exits 1 once a job ended here)
      const status = hide ? participant.status(request.params.jobId) : await jobOr404(parts, request.params.jobId)
      if (status === undefined) throw new ApiError(404, 'JobNotFound', `no job ${request.params.jobId} on this node`)
      const { announcement, lastResults, ...rest } = status
      return {
        ...rest,
        announcement: fieldsOf(openRoundMessage('job', announcement)),
        ...(lastResults !== undefined
          ? { lastResults: lastResults.map((r) => fieldsOf(openRoundMessage('result', r))) }
          : {}),
      }
    },
  )
  app.post(
    '/jobs',
    {
      config: { invalidName: 'InvalidJob' },
      schema: {
        hide,
        tags: ['jobs'],
        summary: 'Submit a job (signed and announced; this node joins it)',
        body: z.record(z.string(), z.unknown()).describe('A job spec (@vain/fl JobSpecSchema)'),
        response: { 201: z.object({ jobId: z.string() }), ...errors(400, 401, 415) },
      },
    },
    async (request, reply) => {
      const a = await participant.submitJob(requireCommittee(parts, parseJobSpec(request.body)))
      return reply.code(201).send({ jobId: a.jobId })
    },
  )
  app.delete(
    '/jobs/:jobId',
    {
      config: { invalidName: 'InvalidJobId' },
      schema: {
        hide,
        tags: ['jobs'],
        summary: 'Cancel a job on this node',
        params: z.object({ jobId: z.string().regex(JOB_ID, 'a job id is 64 lowercase hex chars') }),
        response: { 200: z.object({ jobId: z.string(), ended: z.literal('cancelled') }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { jobId } = request.params
      if (!(await participant.cancelJob(jobId))) throw new ApiError(404, 'JobNotFound', `no job ${jobId} on this node`)
      return { jobId, ended: 'cancelled' as const }
    },
  )
  if (hide) return
  app.get(
    '/training/status',
    {
      schema: {
        tags: ['training'],
        summary: 'Every job this node runs or paused: state, round, history',
        response: { 200: TrainingStatusSchema },
      },
    },
    async () => {
      const states = await Promise.all(participant.jobIds().map((id) => participant.jobState(id)))
      return { jobs: states.filter((s) => s !== undefined).map(summary) }
    },
  )
  app.post(
    '/training/control',
    {
      schema: {
        tags: ['training'],
        summary: 'Start a job (action start with its spec), or pause, resume, stop or cancel one',
        description:
          'pause: the job stops here and is kept (not resumed at a restart) until resume, which catches up with the rounds done meanwhile. stop and cancel: the job ends on this node (kept as cancelled, never resumed).',
        body: TrainingControlSchema,
        response: {
          200: TrainingControlResultSchema,
          201: TrainingControlResultSchema,
          ...errors(400, 401, 404, 409, 415),
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      if (body.action === 'start') {
        const a = await participant.submitJob(requireCommittee(parts, parseJobSpec(body.spec)))
        return reply.code(201).send({ jobId: a.jobId, action: 'start', state: 'running' })
      }
      const { jobId, action } = body
      const before = await jobOr404(parts, jobId)
      if (action === 'pause') {
        if (before.finished)
          throw new ApiError(409, 'JobEnded', `job ${jobId} has ended here (${before.ended ?? 'finished'})`)
        if (!(await participant.pauseJob(jobId)))
          throw new ApiError(404, 'JobNotFound', `no job ${jobId} runs on this node`)
      } else if (action === 'resume') {
        if (before.finished)
          throw new ApiError(409, 'JobEnded', `job ${jobId} has ended here (${before.ended ?? 'finished'})`)
        if (!(await participant.resumeJob(jobId)))
          throw new ApiError(
            409,
            'CannotResume',
            `job ${jobId} cannot run on this node (the node is stopping, or it cannot take part)`,
          )
      } else if (!before.finished) {
        await participant.cancelJob(jobId)
      }
      const after = await jobOr404(parts, jobId)
      return { jobId, action, state: summary(after).state }
    },
  )
}
