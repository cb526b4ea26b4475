import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { RosterRecord } from '../src/sis/roster.js';
import { issueSisSecret } from '../src/sis/institution-secrets.js';
import { grandBend, type TestApp } from './helpers/app.js';

/** A config file for EDGATE_CONFIG (the only way to set sisSync.*). */
export function configFile(settings: Record<string, unknown>): string {
  const path = join(mkdtempSync(join(tmpdir(), 'edgate-sis-config-')), 'config.json');
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

/** Grand Bend (255901, three schools) plus a district outside its reach (999 → 999001). */
export const districts = [...grandBend, { id: 999, type: 'lea' as const, name: 'Other ISD' }, { id: 999001, type: 'school' as const, name: 'Other High', parentId: 999 }];
export const gbSchools = [255901001, 255901044, 255901107];

export function roster(count: number, prefix = 'S', schools = gbSchools): RosterRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    studentUniqueId: `${prefix}${String(i).padStart(6, '0')}`,
    firstName: `First${i}`,
    lastSurname: `Last${i}`,
    birthDate: `2010-0${(i % 9) + 1}-1${i % 10}`,
    schoolId: schools[i % schools.length],
    entryDate: '2025-08-20',
    ...(i % 2 ? { entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' } : {}),
  }));
}

export async function secretFor(app: TestApp, institution: number): Promise<string> {
  return (await issueSisSecret(app.services.db, app.services.hashKey, institution)).secret;
}

export function sync(app: TestApp, secret: string | undefined, body: unknown): Promise<Response> {
  return app.fetch('/api/sis/sync', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { authorization: `Bearer ${secret}` }) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export async function documentCount(app: TestApp, resource: string): Promise<number> {
  const [{ n }] = await app.services.db('edfi_documents').where({ resource }).count({ n: '*' });
  return Number(n);
}
