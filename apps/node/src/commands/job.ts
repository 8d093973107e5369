/**
 * `vain job submit|list|status|cancel`: jobs on a running node, through its REST API.
 * @module
 */
import { readFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { ApiClient, type ApiOptions } from './api-client.js'
import { confirmAction, EXIT_CODES_HELP, printJson, printLines, resolvePath, UsageError } from './common.js'
import { outputOf, withApiOptions } from './shared.js'
import { renderTable } from './table.js'

/** Largest job spec file read. */
const MAX_SPEC_BYTES = 4 * 1024 * 1024

/** A job as `GET /api/training/status` lists it. */
interface JobSummary {
  jobId: string
  name?: string
  state: string
  round: number
  rounds?: number
  attempt: number
  model: string
  history: Array<{ round: number; model: string; contributions: number; completedAt: number }>
}

const JOB_ID = /^[0-9a-f]{64}$/

function jobIdArg(id: string): string {
  if (!JOB_ID.test(id))
    throw new UsageError(`'${id}' is not a job id (64 lowercase hex characters; vain job list shows them)`)
  return id
}

/** The job list as a table. */
export function jobsTable(jobs: readonly JobSummary[]): string[] {
  if (jobs.length === 0) return ['no jobs on this node']
  return renderTable(
    [
      { header: 'JOB ID' },
      { header: 'NAME' },
      { header: 'STATE' },
      { header: 'ROUND', right: true },
      { header: 'LATEST MODEL' },
    ],
    jobs.map((j) => [
      j.jobId,
      j.name ?? '-',
      j.state,
      `${Math.min(j.round, j.rounds ?? j.round)}/${j.rounds ?? '?'}`,
      j.model,
    ]),
  )
}

/** One job's status (`GET /api/jobs/:id`) as lines for people. */
export function jobStatusLines(s: Record<string, unknown>, verbose: boolean): string[] {
  const spec = ((s.announcement as { spec?: Record<string, unknown> } | undefined)?.spec ?? {}) as Record<
    string,
    unknown
  >
  const state = s.finished === true ? String(s.ended ?? 'finished') : s.paused === true ? 'paused' : 'running'
  const rounds = typeof spec.rounds === 'number' ? spec.rounds : undefined
  const round = typeof s.round === 'number' ? s.round : 0
  const history = (s.history as JobSummary['history'] | undefined) ?? []
  const lines = [
    `job         ${String(s.jobId)}${typeof spec.name === 'string' ? ` (${spec.name})` : ''}`,
    `state       ${state}`,
    `rounds      ${history.length} completed of ${rounds ?? '?'}${state === 'running' ? ` · round ${round + 1} under way (attempt ${Number(s.attempt ?? 0) + 1})` : ''}`,
    `model       ${String(s.model ?? '-')}`,
  ]
  const shown = verbose ? history : history.slice(-5)
  if (shown.length > 0) {
    lines.push('history')
    for (const h of shown) {
      lines.push(
        `  round ${String(h.round + 1).padStart(3)}  ${h.contributions} contributions  ${new Date(h.completedAt).toISOString()}  ${h.model}`,
      )
    }
    if (shown.length < history.length)
      lines.push(`  (${history.length - shown.length} earlier rounds: --interaction verbose)`)
  }
  return lines
}

/** Registers `job submit|list|status|cancel`. */
export function registerJob(program: Command): void {
  const job = program
    .command('job')
    .description('submit, list, show and cancel jobs on a running node')
    .addHelpText('after', `\nRun vain job COMMAND --help for its options.\n${EXIT_CODES_HELP}`)

  withApiOptions(
    job
      .command('submit')
      .description('submit a job (a JSON job spec): the node signs and announces it, and joins it')
      .argument('<FILE.json>', 'the job spec (@vain/fl JobSpecSchema); a path relative to where you are')
      .addHelpText(
        'after',
        '\nPrints {"jobId": ...}. Without a chain, the spec must name its committee: participants.aggregators\n(peer ids); with a chain, committees are drawn from staked nodes.',
      ),
  ).action(async (file: string, opts: ApiOptions, cmd: Command) => {
    outputOf(cmd)
    const path = resolvePath(file)
    let body: string
    try {
      body = await readFile(path, 'utf8')
    } catch (err) {
      throw new UsageError(`cannot read the job spec ${path}: ${(err as Error).message}`)
    }
    if (body.length > MAX_SPEC_BYTES)
      throw new UsageError(`${path} is larger than ${MAX_SPEC_BYTES} bytes: not a job spec`)
    try {
      JSON.parse(body)
    } catch (err) {
      throw new UsageError(`${path} is not valid JSON: ${(err as Error).message}`)
    }
    const client = await ApiClient.from(opts)
    client.needToken('job submit')
    const r = await client.json('/api/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    printJson(r)
  })

  withApiOptions(job.command('list').description('the jobs on the node: id, name, state, round, latest model')).action(
    async (opts: ApiOptions, cmd: Command) => {
      const out = outputOf(cmd)
      const client = await ApiClient.from(opts)
      const { jobs } = (await client.json('/api/training/status')) as { jobs: JobSummary[] }
      if (out.json) printJson(jobs)
      else printLines(jobsTable(jobs))
    },
  )

  withApiOptions(
    job
      .command('status')
      .description("a job's state, rounds completed, latest model and history")
      .argument('<JOB_ID>', 'the job id (vain job list)'),
  ).action(async (id: string, opts: ApiOptions, cmd: Command) => {
    const out = outputOf(cmd)
    const client = await ApiClient.from(opts)
    const s = (await client.json(`/api/jobs/${jobIdArg(id)}`)) as Record<string, unknown>
    if (out.json) printJson(s)
    else printLines(jobStatusLines(s, out.verbose))
  })

  withApiOptions(
    job
      .command('cancel')
      .description('stop taking part in a job on this node (it is not resumed after a restart)')
      .argument('<JOB_ID>', 'the job id (vain job list)')
      .option('-y, --yes', 'do not ask for confirmation')
      .addHelpText('after', '\nAsks first on a terminal (--interaction normal/verbose); --yes skips the question.'),
  ).action(async (id: string, opts: ApiOptions & { yes?: boolean }, cmd: Command) => {
    const out = outputOf(cmd)
    const jobId = jobIdArg(id)
    const client = await ApiClient.from(opts)
    client.needToken('job cancel')
    if (out.prompts && opts.yes !== true) {
      const s = (await client.json(`/api/jobs/${jobId}`)) as Record<string, unknown>
      const [, , rounds] = jobStatusLines(s, false)
      await confirmAction(
        `Cancel job ${jobId.slice(0, 12)}… on this node (${rounds?.replace(/^rounds\s+/, '')})?`,
        out,
        opts.yes,
      )
    }
    const r = await client.json(`/api/jobs/${jobId}`, { method: 'DELETE' })
    printJson(r)
  })
}
