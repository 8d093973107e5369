/** Job state persisted as one CBOR file per job under `<dataDir>/jobs/`, written atomically. */
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { JobStateStore, PersistedJobState } from '@vain/fl'
import { decodeMessage, encodeMessage } from '@vain/net'
import { z } from 'zod'

const StateSchema = z.custom<PersistedJobState>(
  (v) => typeof v === 'object' && v !== null && 'announcement' in v && 'round' in v && 'model' in v,
  { message: 'not a job state' },
)

export async function fileJobStateStore(dir: string): Promise<JobStateStore> {
  await mkdir(dir, { recursive: true })
  const file = (jobId: string) => join(dir, `${jobId}.cbor`)
  return {
    load: async (jobId) => {
      if (!/^[0-9a-f]{64}$/.test(jobId)) return undefined
      try {
        return decodeMessage(new Uint8Array(await readFile(file(jobId))), StateSchema, { maxBytes: 64 * 1024 * 1024 })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw err
      }
    },
    save: async (state) => {
      const path = file(state.announcement.jobId)
      const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
      await writeFile(tmp, encodeMessage(state))
      await rename(tmp, path)
    },
    list: async () => (await readdir(dir)).filter((f) => /^[0-9a-f]{64}\.cbor$/.test(f)).map((f) => f.slice(0, 64)),
  }
}
