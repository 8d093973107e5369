/**
 * What every `vain` command shares: exit codes, typed usage errors, the caller's directory (relative
 * paths resolve against it, also when run through pnpm), interaction levels, and confirmations.
 * @module
 */
import { isAbsolute, resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'

/** Exit codes of every command (documented in `vain help`). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** A runtime failure: the node, the chain or the network refused or could not be reached. */
  failure: 1,
  /** Bad usage or configuration: a flag, an argument, a config file, a missing token. */
  usage: 2,
} as const

/** The exit-code paragraph of the help texts. */
export const EXIT_CODES_HELP =
  'Exit codes: 0 ok, 1 runtime failure (node, chain, network), 2 bad usage or configuration.'

/** A problem with the command line or the configuration: exit code 2. */
export class UsageError extends Error {
  static override name = 'UsageError'
  override name = 'UsageError'
}

/** A destructive action would run without a confirmation: exit code 2. */
export class ConfirmationRequiredError extends UsageError {
  static override name = 'ConfirmationRequiredError'
  override name = 'ConfirmationRequiredError'
}

/** The user answered no: exit code 1, nothing was done. */
export class CancelledError extends Error {
  static override name = 'CancelledError'
  override name = 'CancelledError'
}

/** How much a command talks and asks: `--interaction none|minimal|normal|verbose`. */
export const INTERACTION_LEVELS = ['none', 'minimal', 'normal', 'verbose'] as const
/** One of {@link INTERACTION_LEVELS}. */
export type Interaction = (typeof INTERACTION_LEVELS)[number]

/** The interaction level help text. */
export const INTERACTION_HELP = `interaction levels (--interaction LEVEL, or VAIN_INTERACTION):
  none       for scripts: no prompts, no progress, JSON on stdout (as --json)
  minimal    plain results, no progress bars; destructive actions proceed without asking
  normal     (default) progress bars and confirmations on a terminal (--yes skips them)
  verbose    normal, and per-peer detail (status, peers) and per-node logs (demo)`

/** The package scripts that run the CLI from the package directory (`pnpm vain …`, `pnpm demo`). */
const CLI_SCRIPTS = new Set(['vain', 'demo', 'start'])

/**
 * The directory the user ran `vain` from: pnpm runs package scripts in the package's directory and
 * says where it was invoked in `INIT_CWD`; otherwise the process's working directory.
 */
export function callerCwd(env: NodeJS.ProcessEnv = process.env): string {
  const init = env.INIT_CWD
  const script = env.npm_lifecycle_event
  if (init !== undefined && init !== '' && script !== undefined && CLI_SCRIPTS.has(script)) return init
  return process.cwd()
}

/** `path` resolved against the caller's directory ({@link callerCwd}); `undefined` stays `undefined`. */
export function resolvePath<T extends string | undefined>(path: T): T {
  if (path === undefined || isAbsolute(path)) return path
  return resolve(callerCwd(), path) as T
}

/** The options every command takes (on `vain` itself, before or after the command). */
export interface GlobalOptions {
  interaction: Interaction
}

/** The interaction level from `--interaction` or `VAIN_INTERACTION`; `normal` by default. */
export function interactionOf(value: unknown): Interaction {
  const v = value ?? process.env.VAIN_INTERACTION ?? 'normal'
  if (!(INTERACTION_LEVELS as readonly unknown[]).includes(v)) {
    throw new UsageError(`--interaction must be one of ${INTERACTION_LEVELS.join(', ')}, got '${String(v)}'`)
  }
  return v as Interaction
}

/** Output settings of one command run: JSON or text, progress bars, prompts, detail. */
export interface Output {
  level: Interaction
  /** Machine-readable output: `--json` or `--interaction none`. */
  json: boolean
  /** Progress bars on stderr: `normal`/`verbose` on a terminal, never with JSON. */
  progress: boolean
  /** Per-peer detail. */
  verbose: boolean
  /** May ask a question on the terminal. */
  prompts: boolean
}

/** Output settings for an interaction level and a command's `--json`. */
export function outputFor(level: Interaction, json = false): Output {
  const tty = process.stderr.isTTY === true
  const rich = level === 'normal' || level === 'verbose'
  return {
    level,
    json: json || level === 'none',
    progress: rich && tty && !json,
    verbose: level === 'verbose',
    prompts: rich && tty && process.stdin.isTTY === true,
  }
}

/**
 * Asks `question` before a destructive action when the output may prompt (`normal`/`verbose` on a
 * terminal) and `--yes` was not given; proceeds without asking otherwise (scripts, `minimal`, `none`).
 * Answering anything but y/yes throws {@link CancelledError}.
 */
export async function confirmAction(question: string, out: Output, yes: boolean | undefined): Promise<void> {
  if (yes === true || !out.prompts) return
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase()
    if (answer !== 'y' && answer !== 'yes') throw new CancelledError('cancelled: nothing was done')
  } finally {
    rl.close()
  }
}

/** Writes `value` as one JSON line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

/** Writes lines on stdout. */
export function printLines(lines: readonly string[]): void {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`)
}

/** A whole number flag in `min..max`, or a {@link UsageError} naming the flag. */
export function intOption(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^-?\d+$/.test(value) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer in ${min}..${max}, got '${value}'`)
  }
  return n
}

/** Bytes as KiB/MiB, e.g. `12.3 KiB`. */
export function binaryBytes(b: number): string {
  if (b >= 1024 * 1024) return `${(b / (1024 * 1024)).toFixed(2)} MiB`
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`
  return `${b} B`
}
