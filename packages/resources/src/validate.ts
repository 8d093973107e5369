import type { z } from 'zod'

/** One line per zod issue: `path: message`. */
export function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
}
