import { readFileSync } from 'node:fs';

import { fromRoot } from '../config/paths.js';
import type { ApiDescription, DocumentInfo } from '../http/openapi.js';
import { oauthDescription } from '../oidc/openapi.js';
import { sisDescription } from '../sis/openapi.js';
import { statsDescription } from '../stats/openapi.js';
import type { Services } from './services.js';

/**
 * What /metadata/openapi.json describes besides the Ed-Fi resources: each route module's own description of its
 * operations, keyed by the same path constants its router registers.
 */
export function apiDescriptions({ model }: Pick<Services, 'model'>): ApiDescription[] {
  return [oauthDescription(), statsDescription(), sisDescription(model)];
}

const { version } = JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string };

export const serviceInfo: DocumentInfo = {
  title: 'edgate',
  version,
  description:
    'An OAuth 2.0 authorization server (client credentials), an API gateway and an Ed-Fi-style resource API. ' +
    'Calls under /data/ and /stats/ need an access token from the token endpoint, and are metered per client and tier: ' +
    'every admitted answer carries RateLimit and RateLimit-Policy, every 429 Retry-After too.',
};
