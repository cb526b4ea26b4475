import { defineConfig } from 'vitest/config';

// The suite runs on what users run: Node 24 LTS, or 22 at the oldest (better-sqlite3 13 crashes Node 20).
if (Number(process.versions.node.split('.')[0]) < 22) {
  throw new Error(`the tests need Node.js 22 or later, this is ${process.version}: export PATH="$(.ci/node.sh 24):$PATH" && npm ci`);
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file gets its own database (SQLite file or MariaDB schema), so files may run in parallel.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
