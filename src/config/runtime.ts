/**
 * The oldest Node.js edgate runs on (package.json `engines`). Older ones crash rather than fail:
 * better-sqlite3 13's prebuilt binary segfaults on Node 20, and oidc-provider 9 supports 22 and later.
 * Imported first by the server and the CLI, before anything loads a database driver.
 */
export const oldestNodeMajor = 22;

const major = Number(process.versions.node.split('.')[0]);
if (major < oldestNodeMajor) {
  process.stderr.write(
    `edgate: Node.js ${process.version} is too old; edgate needs Node.js ${oldestNodeMajor} or later (24 LTS recommended).\n` +
      `  In a checkout: export PATH="$(.ci/node.sh 24):$PATH" && npm ci\n`,
  );
  process.exit(78); // EX_CONFIG: the environment, not the program, is wrong
}
