import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../src/app/server.js';
import { rotateSigningKey } from '../src/keys/signing-keys.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { accessClaims, bearer, signWith, strangerJwk } from './helpers/gateway.js';

const summary = '/stats/v1/attendance/summary?school_id=255901001';

/** Two instances on one database; neither looks for new keys on its own during the test (REFRESH_SECONDS=60). */
describe.each(engines)('a key rotated in on another instance, on $name', (engine) => {
  let first: TestApp;
  let second: RunningServer;

  beforeAll(async () => {
    first = await startTestApp(engine, { REFRESH_SECONDS: '60' });
    second = await startServer(first.config);
    await first.edorgs(...grandBend);
  });
  afterAll(async () => {
    await second?.close();
    await first?.stop();
  });

  const onSecond = (token: string) => fetch(second.url + summary, bearer(token)).then((res) => res.status);

  it('verifies within a second, even right after a token with an unknown kid made that instance reload its keys', async () => {
    const client = await first.client({ tier: 'standard', edorgIds: [255901] });
    expect(await onSecond(await first.token(client))).toBe(200);
    // A made-up kid: the second instance reloads its keys and refuses it.
    const stranger = await strangerJwk();
    expect(await onSecond(await signWith(stranger, accessClaims(client.clientId)))).toBe(401);
    // Within the second after that reload, the first instance rotates and signs with the new key.
    await rotateSigningKey(first.services.db, first.config);
    await first.services.keyring.refresh();
    const fresh = await first.token(client);
    expect(decodeProtectedHeader(fresh).kid).toBe(first.services.keyring.current.activeKid);
    // Before, the second instance refused to reload again so soon: a 401 for a valid token. Now it waits for it.
    const started = Date.now();
    expect(await onSecond(fresh)).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('still refuses a made-up kid, after one reload shared by every call that met it', async () => {
    const client = await first.client({ tier: 'standard', edorgIds: [255901] });
    const stranger = await strangerJwk();
    const forged = await Promise.all(Array.from({ length: 20 }, async () => onSecond(await signWith(stranger, accessClaims(client.clientId)))));
    expect(forged).toEqual(Array(20).fill(401));
  });
});
