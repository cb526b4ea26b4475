import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { ApiError, errorCatalogue, problemOf, type ErrorCode } from '../src/errors.js';

/** Every test file's text but this one's: where the suite provokes and asserts each code. */
function suiteText(): string {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') && entry.name !== 'error-catalogue.test.ts' ? [join(dir, entry.name)] : []));
  return files(fromRoot('test')).map((file) => readFileSync(file, 'utf8')).join('\n');
}

const codes = Object.keys(errorCatalogue) as ErrorCode[];

describe('the error catalogue', () => {
  it('has a test that provokes and names every code it lists', () => {
    const text = suiteText();
    // Named as a whole word (a quoted code, a code in a page's markup), not as part of a longer name.
    const unprovoked = codes.filter((code) => !new RegExp(`(?<![a-z_])${code}(?![a-z_])`).test(text));
    expect(unprovoked).toEqual([]);
  });

  it('gives every code a status, a problem type and a title', () => {
    for (const code of codes) {
      const { status } = errorCatalogue[code];
      const problem = problemOf(code, status);
      expect({ code, status: status >= 400 && status < 600 }).toEqual({ code, status: true });
      expect(problem.type).toMatch(/^(urn:|https:\/\/)/);
      expect(problem.title.length).toBeGreaterThan(0);
    }
  });

  it('takes the status from the catalogue, and refuses a status the catalogue does not list for the code', () => {
    expect(new ApiError('not_found').status).toBe(404);
    expect(new ApiError('unknown_profile', 'x', {}, {}, 415).status).toBe(415);
    expect(() => new ApiError('not_found', 'x', {}, {}, 400)).toThrow(/not catalogued with status 400/);
  });

  it('words a code by its catalogued variant, and refuses a variant the catalogue does not list', () => {
    expect(problemOf('not_found', 404, 'delete').detail).toBe('Resource to delete was not found.');
    expect(problemOf('not_found', 404).detail).toBe('The specified data could not be found.');
    expect(new ApiError('not_found', 'x', {}, {}, undefined, 'update').variant).toBe('update');
    expect(() => new ApiError('not_found', 'x', {}, {}, undefined, 'misplaced')).toThrow(/no catalogued variant misplaced/);
  });

  it('is the only place that picks a status: no source file passes one to ApiError first', () => {
    const source = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? source(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
    const offenders = source(fromRoot('src')).filter((file) => /new ApiError\(\s*\d/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });
});
