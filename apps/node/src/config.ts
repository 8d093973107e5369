/**
 * `vain start` configuration: flags and an optional JSON config file, merged (flags win) and
 * validated with zod. Bad input exits with a message naming every problem.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'

export const AppConfigSchema = z.strictObject({
  dataDir: z.string().min(1),
  listen: z.array(z.string().min(1)).min(1).default(['/ip4/127.0.0.1/tcp/0']),
  bootstrap: z.array(z.string().min(1)).default([]),
  profile: z.enum(['loopback', 'lan', 'public']).default('lan'),
  roles: z
    .array(z.enum(['trainer', 'aggregator', 'validator', 'light']))
    .min(1)
    .default(['trainer', 'aggregator']),
  /** Local control API (REST) on 127.0.0.1; 0 picks a free port, null disables it. */
  apiPort: z.number().int().min(0).max(65_535).nullable().default(0),
  /** This node's local data: an MNIST shard (index of count, non-IID by Dirichlet alpha). */
  data: z
    .strictObject({
      dataset: z.literal('mnist'),
      shard: z.number().int().min(0),
      shards: z.number().int().min(1).max(10_000),
      alpha: z.number().positive().default(0.5),
      seed: z.number().int().default(1),
    })
    .refine((d) => d.shard < d.shards, { message: 'shard must be < shards' })
    .optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  json: z.boolean().default(false),
})
export type AppConfig = z.output<typeof AppConfigSchema>

/** A config problem: printed as is, exit code 2. */
export class AppConfigError extends Error {
  static override name = 'AppConfigError'
  override name = 'AppConfigError'
}

/** Read and merge a JSON config file with flag values, then validate. */
export async function loadAppConfig(file: string | undefined, flags: Record<string, unknown>): Promise<AppConfig> {
  let fromFile: Record<string, unknown> = {}
  if (file !== undefined) {
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw new AppConfigError(`cannot read config file ${file}: ${(err as Error).message}`)
    }
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
      fromFile = parsed as Record<string, unknown>
    } catch (err) {
      throw new AppConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`)
    }
  }
  const merged = { ...fromFile, ...Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined)) }
  const result = AppConfigSchema.safeParse(merged)
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`)
    throw new AppConfigError(
      `invalid configuration${file !== undefined ? ` (${file} + flags)` : ''}:\n${lines.join('\n')}`,
    )
  }
  return result.data
}
