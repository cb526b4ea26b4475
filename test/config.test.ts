import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { defaultTiers, loadConfig } from '../src/config/index.js';
import { fromRoot } from '../src/config/paths.js';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      audience: 'http://localhost:3000',
      databaseUrl: 'sqlite:./data/edgate.sqlite',
      tokenTtlSeconds: 3600,
      sisSync: { requestsPerMinute: 20, maxBatch: 5000 },
      profilesDir: 'config/profiles',
    });
    expect(config.tiers).toEqual(defaultTiers);
    expect(config.tiers.standard).toEqual({ requestsPerMinute: 600, costPerDay: 100_000 });
  });

  it('reads the EDGATE_CONFIG file, and the environment wins over it', () => {
    const file = join(tmpdir(), `edgate-config-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ tiers: { free: { requestsPerMinute: 5, costPerDay: 50 } }, sisSync: { maxBatch: 10 }, port: 4000, audience: 'urn:file' }));
    const config = loadConfig({ EDGATE_CONFIG: file, AUDIENCE: 'urn:env' });
    expect(config.tiers).toEqual({ free: { requestsPerMinute: 5, costPerDay: 50 } });
    expect(config.sisSync).toEqual({ requestsPerMinute: 20, maxBatch: 10 });
    expect(config.port).toBe(4000);
    expect(config.audience).toBe('urn:env');
  });

  it('rejects nonsense with a message naming the setting', () => {
    expect(() => loadConfig({ TOKEN_TTL_SECONDS: 'soon' })).toThrow(/TOKEN_TTL_SECONDS must be an integer/);
    const file = join(tmpdir(), `edgate-bad-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ tiers: { free: { requestsPerMinute: -1, costPerDay: 5 } } }));
    expect(() => loadConfig({ EDGATE_CONFIG: file })).toThrow(/tiers.free.requestsPerMinute/);
  });

  it('refuses to start in production on insecure defaults, with a clear message', () => {
    const result = spawnSync(process.execPath, [fromRoot('dist', 'src', 'app', 'main.js')], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('NODE_ENV=production refuses insecure defaults');
    expect(result.stderr).toContain('DATABASE_URL');
    expect(result.stderr).toContain('KEY_ENCRYPTION_SECRET');
    expect(result.stderr).toContain('SECRET_HASH_KEY');
  });

  it('accepts production with MySQL and both secrets', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'mysql://edgate@db:3306/edgate',
      KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
      SECRET_HASH_KEY: 'h'.repeat(32),
    });
    expect(config.production).toBe(true);
  });
});
