import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { defaultTiers, loadConfig } from '../src/config/index.js';
import { fromRoot } from '../src/config/paths.js';
import { parseClusterUrl } from '../src/config/redis-url.js';

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

  it('reads REDIS_URL as one server or as a Redis Cluster, and refuses a URL it could not connect to as written', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl).toBe('redis://127.0.0.1:6379');
    expect(loadConfig({ REDIS_URL: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7001' }).redisUrl).toBe('redis-cluster://10.0.0.1:7000,10.0.0.2:7001');
    expect(parseClusterUrl('rediss-cluster://app:s%40cret@[::1]:7000,h:7001')).toEqual({
      nodes: [{ host: '::1', port: 7000 }, { host: 'h', port: 7001 }],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(() => loadConfig({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL must start with redis:\/\/, rediss:\/\/ or redis-cluster:\/\//);
    expect(() => loadConfig({ REDIS_URL: 'redis-cluster://' })).toThrow(/names at least one seed node/);
    expect(() => loadConfig({ REDIS_URL: 'redis-cluster://h:7000,h' })).toThrow(/"h" is not host:port/);
  });

  it('drains for DRAIN_SECONDS on SIGTERM: 0 by default, a whole number of seconds', () => {
    expect(loadConfig({}).drainSeconds).toBe(0);
    expect(loadConfig({ DRAIN_SECONDS: '3' }).drainSeconds).toBe(3);
    expect(() => loadConfig({ DRAIN_SECONDS: '-1' })).toThrow(/DRAIN_SECONDS must be an integer ≥ 0/);
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
