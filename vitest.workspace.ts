/**
 * The one list of test projects in this repo.
 *
 * vitest 3.2 read this file by itself; vitest 4 removed workspace files in favour of
 * `test.projects`. We run vitest 4 (current, Node 22+), so `vitest.config.ts` imports this list
 * and passes it as `test.projects`. Add a package's folder here when it gets tests.
 */
export default [
  'packages/net',
  'packages/fl',
  'packages/memory',
  'packages/metrics',
  'packages/resources',
  'packages/chain',
  'circuits',
  'apps/node',
  // the repo as a whole: packages installed into another project (scripts/consumer-check.mjs)
  'scripts',
]
