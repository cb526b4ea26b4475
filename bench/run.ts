/**
 * `npm run bench -- <scenario> [options]`: runs one scenario (or all) and writes bench/results/.
 * Each scenario module exports `run(args)`; it measures edgate against a baseline in the same run.
 */
const scenarios: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  tokens: () => import('./tokens.js'),
  gateway: () => import('./gateway.js'),
  edfi: () => import('./edfi.js'),
  sis: () => import('./sis.js'),
  usage: () => import('./usage.js'),
  startup: () => import('./startup.js'),
  scale: () => import('./scale.js'),
};

async function main() {
  const [name, ...args] = process.argv.slice(2);
  const names = name && name !== 'all' ? [name] : Object.keys(scenarios);
  for (const scenario of names) {
    const load = scenarios[scenario];
    if (!load) throw new Error(`unknown scenario "${scenario}"; choose from ${Object.keys(scenarios).join(', ')}, all`);
    console.log(`\n=== ${scenario}`);
    await (await load()).run(args);
  }
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
