/**
 * The house rules, checked in CI (`npm run check:imports`): no import loop, and no import that runs back up.
 * Floors, from the ground: a module may import its own floor and any floor below, never one above.
 */
const floors = [
  ['^src/(errors|secret-hash)\\.ts$', '^src/config/'],
  ['^src/db/', '^migrations/'],
  ['^src/http/', '^src/keys/', '^src/clients/'],
  ['^src/gateway/'],
  ['^src/(oidc|edfi|stats)/'],
  ['^src/(sis|portal)/'],
  ['^src/(app|integrator)/'],
  ['^src/admin/'],
];

const either = (patterns) => `(${patterns.join('|')})`;

const upward = floors.slice(0, -1).map((floor, i) => ({
  name: `floor-${i + 1}-imports-up`,
  comment: `${floor.join(', ')} may not import from a higher floor`,
  severity: 'error',
  from: { path: either(floor) },
  to: { path: either(floors.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
