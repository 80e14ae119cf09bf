import { describe, expect, it } from 'vitest';
import { collectConfigIssues, resolveConfig } from '../../src/core/config.js';
import { bootLockResource } from '../../src/strapi/boot-lock.js';

describe('boot lock settings', () => {
  it('default: on, 5 min timeout, 10 s TTL, proceed when Redis is unavailable', () => {
    const { settings } = resolveConfig({});
    expect({
      bootLock: settings.bootLock,
      bootLockTimeout: settings.bootLockTimeout,
      bootLockTTL: settings.bootLockTTL,
      bootLockOnError: settings.bootLockOnError,
    }).toEqual({
      bootLock: true,
      bootLockTimeout: 300_000,
      bootLockTTL: 10_000,
      bootLockOnError: 'proceed',
    });
  });

  it('bad values are config errors naming the path, the value and what is expected', () => {
    const issues = collectConfigIssues({ settings: { bootLock: 'yes', bootLockTimeout: -1, bootLockTTL: 50, bootLockOnError: 'ignore' } });
    expect(issues).toEqual([
      { path: 'redis.settings.bootLock', got: '"yes" (string)', expected: 'true or false' },
      { path: 'redis.settings.bootLockTimeout', got: '-1 (number)', expected: 'an integer number of milliseconds >= 1' },
      { path: 'redis.settings.bootLockTTL', got: '50 (number)', expected: 'an integer number of milliseconds >= 1000' },
      { path: 'redis.settings.bootLockOnError', got: '"ignore" (string)', expected: '"proceed" or "fail"' },
    ]);
  });
});

describe('bootLockResource()', () => {
  it('names the database, not the host: instances reaching one server by different addresses share it', () => {
    expect(bootLockResource({ client: 'postgres', connection: { host: '10.0.0.1', database: 'cms' } })).toBe('boot:schema-sync:postgres/cms');
    expect(bootLockResource({ client: 'postgres', connection: { host: 'db.internal', database: 'cms' } })).toBe('boot:schema-sync:postgres/cms');
    expect(bootLockResource({ client: 'postgres', connection: { connectionString: 'postgres://u:secret@db:5432/cms' } })).toBe('boot:schema-sync:postgres/cms');
    expect(bootLockResource({ client: 'postgres', connection: 'postgres://u:secret@db:5432/cms' })).toBe('boot:schema-sync:postgres/cms');
    expect(bootLockResource({ client: 'postgres', connection: { database: 'cms', schema: 'tenant_a' } })).toBe('boot:schema-sync:postgres/cms/tenant_a');
    expect(bootLockResource({ client: 'mysql', connection: { database: 'cms' } })).toBe('boot:schema-sync:mysql/cms');
  });

  it('SQLite: the absolute file path; unknown shapes: the client alone', () => {
    expect(bootLockResource({ client: 'sqlite', connection: { filename: '/srv/app/.tmp/data.db' } })).toBe('boot:schema-sync:sqlite//srv/app/.tmp/data.db');
    expect(bootLockResource({ client: 'postgres', connection: () => ({}) })).toBe('boot:schema-sync:postgres');
    expect(bootLockResource(undefined)).toBe('boot:schema-sync:db');
  });

  it('never carries the password of a connection string', () => {
    expect(bootLockResource({ client: 'postgres', connection: 'postgres://u:hunter2@db/cms' })).not.toContain('hunter2');
  });
});

describe('webhook sync settings', () => {
  it('default: on, on the first enabled connection, channel strapi-redis-suite:webhooks', () => {
    const { settings } = resolveConfig({
      connections: { off: { connection: 'redis://127.0.0.1:1', enabled: false }, main: { connection: 'redis://127.0.0.1:6379' } },
    });
    expect([settings.webhookSync, settings.webhookSyncConnection, settings.webhookSyncChannel]).toEqual([true, 'main', 'strapi-redis-suite:webhooks']);
    expect(resolveConfig({ connections: { off: { connection: 'redis://127.0.0.1:1', enabled: false } } }).settings.webhookSyncConnection).toBeNull();
  });

  it('webhookSyncConnection must name a configured, enabled connection', () => {
    const connections = { main: { connection: 'redis://127.0.0.1:6379' }, off: { connection: 'redis://127.0.0.1:1', enabled: false } };
    expect(collectConfigIssues({ settings: { webhookSyncConnection: 'nope' }, connections })).toEqual([
      { path: 'redis.settings.webhookSyncConnection', got: '"nope" (string)', expected: 'the name of a configured connection: "main", "off"' },
    ]);
    expect(collectConfigIssues({ settings: { webhookSyncConnection: 'off' }, connections })).toEqual([
      { path: 'redis.settings.webhookSyncConnection', got: '"off" (string)', expected: 'an enabled connection ("off" has enabled: false)' },
    ]);
    expect(collectConfigIssues({ settings: { webhookSyncChannel: '' } })[0]?.path).toBe('redis.settings.webhookSyncChannel');
  });
});
