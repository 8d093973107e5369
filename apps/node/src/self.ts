/**
 * How to run this CLI again in a child process (the demo's nodes): from the TypeScript sources
 * through tsx (the workspace packages' sources too, the `vain-source` condition) when this code runs
 * from them, else the built bundle (`dist/cli.js`), plain Node.
 * @module
 */
import { fileURLToPath } from 'node:url'

/** Whether this code runs from its TypeScript sources (not the tsup bundle). */
export const FROM_SOURCES = import.meta.url.endsWith('.ts')

/** Node arguments that start the CLI: flags, then the entry file; append the command and its args. */
export function selfCommand(): string[] {
  // sources: this file is src/self.ts beside src/cli.ts; bundle: everything is dist/cli.js
  const entry = fileURLToPath(new URL(FROM_SOURCES ? './cli.ts' : './cli.js', import.meta.url))
  return FROM_SOURCES ? ['--conditions=vain-source', '--import', 'tsx', entry] : [entry]
}
