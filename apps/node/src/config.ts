/**
 * `vain start` configuration: flags and an optional JSON config file, merged (flags win) and
 * validated with zod. Bad input exits with a message naming every problem.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { z } from 'zod'
import { NodeAlertsConfigSchema } from './metrics.js'
import { NodeResourcesConfigSchema } from './resources.js'

const hexAddress = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address')
const vainAmount = z
  .string()
  .regex(/^\d+(\.\d{1,18})?$/, 'must be an amount of VAIN as a decimal string, e.g. "10" or "2.5"')

/**
 * Addresses of a deployed vAIn suite (what `deployVain` returns), and of its anonymous-voting
 * contracts (optional: chain files written before them still load; Governance names them too).
 */
export const ChainAddressesSchema = z.strictObject({
  token: hexAddress,
  staking: hexAddress,
  reputation: hexAddress,
  registry: hexAddress,
  roundManager: hexAddress,
  governance: hexAddress,
  tierGroups: hexAddress.optional(),
  voteVerifier: hexAddress.optional(),
  /** ProofChallenges (update-proof challenges); absent in chain files written before it existed. */
  proofChallenges: hexAddress.optional(),
})

/**
 * The optional `chain` section: where the vAIn contracts are and which key signs for this node.
 * Without it a node behaves as before (eligibility from the job's allow-lists, nothing settled).
 *
 * @example
 * ```json
 * { "chain": { "rpcUrl": "http://127.0.0.1:8545", "account": 1, "addresses": "deploy" } }
 * ```
 */
export const ChainConfigSchema = z
  .strictObject({
    /** JSON-RPC endpoint (http or https). */
    rpcUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    /** This node's key (0x + 64 hex). Prefer the VAIN_PRIVATE_KEY environment variable. */
    privateKey: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, 'must be 0x + 64 hex characters')
      .optional(),
    /** Index of a funded development account of a local chain (Hardhat's mnemonic), instead of a key. */
    account: z.number().int().min(0).max(999).optional(),
    /**
     * A file holding this node's key (0x + 64 hex), readable by its owner only (mode 0600): keeps
     * the key off the command line and out of the config.
     */
    keyFile: z.string().min(1).optional(),
    /** The suite's addresses, or "deploy" to deploy a fresh suite (local development chains only). */
    addresses: z.union([ChainAddressesSchema, z.literal('deploy')], {
      error:
        'must be the suite\'s addresses { token, staking, reputation, registry, roundManager, governance } (0x…), or "deploy"',
    }),
    /** Retries while the chain is unreachable: attempts per request and backoff. */
    retry: z
      .strictObject({
        attempts: z.number().int().min(1).max(1_000).default(6),
        minDelayMs: z.number().int().min(10).max(60_000).default(200),
        maxDelayMs: z.number().int().min(10).max(600_000).default(5_000),
      })
      .prefault({}),
    /** Register this node's peer id in the NodeRegistry at start (needs the tier-1 stake). */
    register: z.boolean().default(true),
    /** Settle completed rounds on chain (sign as a committee member, claim as a trainer). */
    settle: z.boolean().default(true),
    /** Slash committee members proven to have signed another result than the settled one. */
    slashDissenters: z.boolean().default(true),
    /** Reward pool of each round this node opens on chain as a job's creator (VAIN). */
    rewardPerRound: vainAmount.default('10'),
    /**
     * Reputation each accepted contribution earns when claimed, at most the round's on-chain cap
     * (default: that cap, `RoundManager.maxReputationPerClaim`). Committee members must agree on it:
     * leave it unset.
     */
    reputationPerContribution: z.number().int().min(0).max(1_000_000).optional(),
    /**
     * Seconds a round this node opens on chain stays open for settlement (default: 3 × the job's
     * round deadline + 60 s); its pool is refunded to this node if it is not settled by then.
     */
    roundDeadlineSeconds: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400)
      .optional(),
    /** Tier each role needs, if not @vain/chain's defaults (light 1, trainer 2, aggregator 3, validator 3). */
    roleTiers: z
      .strictObject({
        light: z.number().int().min(1).max(3).optional(),
        trainer: z.number().int().min(1).max(3).optional(),
        aggregator: z.number().int().min(1).max(3).optional(),
        validator: z.number().int().min(1).max(3).optional(),
      })
      .optional(),
    /** How often to poll the chain for round events (ms). */
    pollMs: z.number().int().min(50).max(60_000).default(500),
    /** First block to read the suite's events from (its deployment block; 0 on a local chain). */
    fromBlock: z.number().int().min(0).default(0),
  })
  .refine((c) => [c.privateKey, c.account, c.keyFile].filter((k) => k !== undefined).length <= 1, {
    message: 'give one of privateKey, account or keyFile, not several',
  })
export type ChainConfig = z.output<typeof ChainConfigSchema>
export type ChainConfigInput = z.input<typeof ChainConfigSchema>

/** An MNIST shard of the node's config: shard `shard` of `shards`, non-IID by Dirichlet `alpha`. */
const mnistShardShape = {
  shard: z.number().int().min(0),
  shards: z.number().int().min(1).max(10_000),
  alpha: z.number().positive().default(0.5),
  seed: z.number().int().default(1),
}

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
  /**
   * Address the REST API listens on (default `127.0.0.1`). Another (e.g. `0.0.0.0`) exposes the
   * node's control API beyond this machine: requests must still name an allowed host
   * ({@link apiAllowedHosts}) and state changes still need the token.
   */
  apiHost: z.string().min(1).optional(),
  /** Names (besides 127.0.0.1, localhost, [::1] and `apiHost`) requests may use in `Host`, e.g. the machine's name. */
  apiAllowedHosts: z
    .array(
      z
        .string()
        .min(1)
        .regex(/^[^\s:/]+$/, 'a host name, without port'),
    )
    .optional(),
  /**
   * This node's local data. Either an MNIST shard (`{ "dataset": "mnist", "shard": 0, "shards": 5 }`,
   * non-IID by Dirichlet alpha), or the node's own files per dataset name — the `dataset.name` of
   * the jobs it trains: `{ "iris": "./iris-a.csv", "pets": "/data/pets", "mnist": { "shard": 0,
   * "shards": 5 } }`. A path is a CSV file or an image folder, read with the schema the job's
   * `dataset.params` gives; relative paths are taken from the config file's folder.
   */
  data: z
    .union([
      z
        .strictObject({ dataset: z.literal('mnist'), ...mnistShardShape })
        .refine((d) => d.shard < d.shards, { message: 'shard must be < shards' }),
      z.record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a dataset name (letters, digits, . _ -; at most 64)'),
        z.union([
          z.string().min(1).max(4096),
          z.strictObject(mnistShardShape).refine((d) => d.shard < d.shards, { message: 'shard must be < shards' }),
        ]),
      ),
    ])
    .optional(),
  /**
   * Which announced jobs this node takes on: `accept` is `"staked"` (with a chain: the creator is
   * registered, staked at the creators' tier the network sets on chain and may open — fund —
   * rounds; a job whose rounds go unfunded is cancelled), a list of creator peer ids, or `"any"`
   * (an explicit opt-in). An absent section means `"staked"` with a chain, and only this node's
   * own jobs without one. Caps on the jobs it runs at once and on a job's failed attempts.
   */
  jobs: z
    .strictObject({
      accept: z.union([z.literal('any'), z.literal('staked'), z.array(z.string().min(1).max(128)).max(10_000)]),
      maxActive: z.number().int().min(1).max(1_000).optional(),
      maxPerCreator: z.number().int().min(1).max(1_000).optional(),
      maxFailedAttempts: z.number().int().min(1).max(100).optional(),
    })
    .optional(),
  logLevel: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  json: z.boolean().default(false),
  /** Stake, tiers, eligibility and settlement on an EVM chain (optional). */
  chain: ChainConfigSchema.optional(),
  /**
   * What this node gives and when (see apps/node/src/resources.ts): `maxCpu` (share of the host's
   * cores training may take), `maxMemory` (bytes or "2GiB": this process above it pauses training),
   * `onBattery` ("low-power" default, "pause", "run"), `profile` ("auto", "normal", "low-power").
   * Absent: the defaults (no CPU limit; memory, battery as above).
   */
  resources: NodeResourcesConfigSchema.optional(),
  /**
   * Alert rules (threshold, rate, absence, anomaly — see @vain/metrics), how often they run, and a
   * webhook for their notices (see apps/node/src/metrics.ts). Absent: the default rules, notices
   * in the log only.
   */
  alerts: NodeAlertsConfigSchema.optional(),
})
export type AppConfig = z.output<typeof AppConfigSchema>

/** A config problem: printed as is, exit code 2. */
export class AppConfigError extends Error {
  static override name = 'AppConfigError'
  override name = 'AppConfigError'
}

/** Flags over file values; the `chain` section is merged field by field. */
function mergeConfig(fromFile: Record<string, unknown>, flags: Record<string, unknown>): Record<string, unknown> {
  const defined = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
  const merged: Record<string, unknown> = { ...fromFile, ...defined(flags) }
  const fileChain = fromFile.chain
  const flagChain = flags.chain
  if (flagChain !== undefined) {
    const base = typeof fileChain === 'object' && fileChain !== null && !Array.isArray(fileChain) ? fileChain : {}
    merged.chain = { ...(base as Record<string, unknown>), ...defined(flagChain as Record<string, unknown>) }
  }
  return merged
}

/** Read a JSON object from a config file (a typed error names the file and the problem). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new AppConfigError(`cannot read config file ${file}: ${(err as Error).message}`)
  }
  try {
    const parsed: unknown = JSON.parse(text)
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
    return parsed as Record<string, unknown>
  } catch (err) {
    throw new AppConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`)
  }
}

/**
 * What `vain chain up` and `vain chain deploy` write, and `--chain FILE` reads: where the chain is
 * and the suite's addresses (the `chain` key is a valid chain section on its own).
 */
export const ChainFileSchema = z.object({
  chain: z.strictObject({
    rpcUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    addresses: ChainAddressesSchema,
    fromBlock: z.number().int().min(0).optional(),
  }),
  chainId: z.number().int().positive().optional(),
  profile: z.enum(['development', 'production']).optional(),
})
export type ChainFile = z.output<typeof ChainFileSchema>

/**
 * Reads a chain file written by `vain chain up` / `vain chain deploy`.
 *
 * @throws {@link AppConfigError} naming the file when it cannot be read or is not a chain file.
 */
export async function readChainFile(file: string): Promise<ChainFile> {
  const raw = await readConfigFile(file)
  const result = ChainFileSchema.safeParse(raw)
  if (!result.success) {
    throw new AppConfigError(
      `${file} is not a vAIn chain file (what \`vain chain up --out FILE\` writes):\n${problems(result.error)}`,
    )
  }
  return result.data
}

function problems(error: z.ZodError, prefix = ''): string {
  return error.issues.map((i) => `  - ${prefix}${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')
}

/**
 * The `chain` section alone, for the chain commands (`vain stake`, `vain tier`...): from a config
 * file's `chain` key (a full node config or just `{ "chain": ... }`) merged with flags.
 *
 * @throws {@link AppConfigError} when there is no chain section or it is invalid.
 */
export async function loadChainConfig(file: string | undefined, flags: Record<string, unknown>): Promise<ChainConfig> {
  const fromFile = file === undefined ? {} : await readConfigFile(file)
  const section = fromFile.chain
  if (section !== undefined && (typeof section !== 'object' || section === null || Array.isArray(section))) {
    throw new AppConfigError(`invalid configuration (${file}):\n  - chain: expected an object`)
  }
  const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined))
  const merged = { ...((section as Record<string, unknown> | undefined) ?? {}), ...defined }
  if (merged.rpcUrl === undefined && merged.addresses === undefined) {
    throw new AppConfigError(
      'no chain configured: pass --config FILE.json with a "chain" section, or --rpc URL and --addresses FILE.json',
    )
  }
  const result = ChainConfigSchema.safeParse(merged)
  if (!result.success) {
    throw new AppConfigError(
      `invalid chain configuration${file !== undefined ? ` (${file} + flags)` : ''}:\n${problems(result.error, 'chain.')}`,
    )
  }
  return result.data
}

/** Read and merge a JSON config file with flag values, then validate. */
export async function loadAppConfig(file: string | undefined, flags: Record<string, unknown>): Promise<AppConfig> {
  const fromFile = file === undefined ? {} : await readConfigFile(file)
  const merged = mergeConfig(fromFile, flags)
  const result = AppConfigSchema.safeParse(merged)
  if (!result.success) {
    throw new AppConfigError(
      `invalid configuration${file !== undefined ? ` (${file} + flags)` : ''}:\n${problems(result.error)}`,
    )
  }
  const data = result.data.data
  // local data paths in a config file are relative to its folder
  if (file !== undefined && data !== undefined && typeof data.shards !== 'number' && fromFile.data !== undefined) {
    const paths = data as Record<string, unknown>
    for (const [name, source] of Object.entries(paths))
      if (typeof source === 'string') paths[name] = resolve(dirname(file), source)
  }
  return result.data
}
