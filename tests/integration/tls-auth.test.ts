/**
 * TLS and ACL auth pass through to ioredis: a server of our own with a TLS port (certificates
 * made here with openssl) and an ACL user.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisRegistry, type RedisRegistry } from '../../src/index.js';
import { freePort, randomPrefix, startStandalone, type ServerHandle } from '../harness/servers.js';
import { captureLogger } from '../helpers/logger.js';

const USER_PASSWORD = 'Acl-Canary-Pw-2207';
let dir: string;
let server: ServerHandle;
let tlsPort: number;
let ca: Buffer;

function makeCerts(into: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: into, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=redis-suite-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt']);
  writeFileSync(path.join(into, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'san.cnf', '-out', 'server.crt']);
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'redis-suite-tls-'));
  makeCerts(dir);
  ca = readFileSync(path.join(dir, 'ca.crt'));
  tlsPort = await freePort();
  server = await startStandalone({
    args: [
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      path.join(dir, 'server.crt'),
      '--tls-key-file',
      path.join(dir, 'server.key'),
      '--tls-ca-cert-file',
      path.join(dir, 'ca.crt'),
      '--tls-auth-clients',
      'no',
      '--user',
      'alice',
      'on',
      `>${USER_PASSWORD}`,
      '~*',
      '&*',
      '+@all',
    ],
  });
});

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TLS and auth', () => {
  const open: RedisRegistry[] = [];
  afterAll(async () => {
    await Promise.all(open.map((r) => r.close()));
  });

  it('connects over TLS with a CA and ACL user/password (options object)', async () => {
    const logger = captureLogger();
    const reg = createRedisRegistry(
      { connections: { secure: { connection: { host: '127.0.0.1', port: tlsPort, username: 'alice', password: USER_PASSWORD, tls: { ca } } } } },
      { logger },
    );
    open.push(reg);
    expect(await reg.waitUntilReady()).toEqual({ secure: 'ready' });
    const key = `${randomPrefix('tls')}k`;
    await reg.client('secure').set(key, 'over-tls', 'PX', 10_000);
    expect(await reg.client('secure').get(key)).toBe('over-tls');
    expect(await reg.client('secure').call('ACL', 'WHOAMI')).toBe('alice');
    const status = await reg.status();
    expect(status.connections[0]?.endpoint).toBe(`rediss://127.0.0.1:${tlsPort}/0`);
    expect(JSON.stringify(status)).not.toContain(USER_PASSWORD);
  });

  it('connects with a rediss:// URL plus TLS options', async () => {
    const reg = createRedisRegistry(
      { connections: { secure: { connection: { url: `rediss://alice:${USER_PASSWORD}@127.0.0.1:${tlsPort}/2`, tls: { ca } } } } },
      { logger: captureLogger() },
    );
    open.push(reg);
    expect(await reg.waitUntilReady()).toEqual({ secure: 'ready' });
    expect(await reg.client('secure').call('ACL', 'WHOAMI')).toBe('alice');
    expect(reg.get('secure').config.endpoint).toBe(`rediss://alice:***@127.0.0.1:${tlsPort}/2`);
  });

  it('an untrusted certificate is a logged error, never a crash, and the secret stays out of it', async () => {
    const logger = captureLogger();
    const reg = createRedisRegistry(
      {
        connections: { secure: { connection: { host: '127.0.0.1', port: tlsPort, username: 'alice', password: USER_PASSWORD, tls: {} }, readyTimeout: 1000 } },
      },
      { logger },
    );
    open.push(reg);
    expect(await reg.waitUntilReady()).toEqual({ secure: 'timeout' });
    expect(logger.of('warn')[0]).toMatch(/is down: .*(self[- ]signed|certificate)/i);
    expect(logger.all()).not.toContain(USER_PASSWORD);
  });

  it('a wrong ACL password is reported without the password', async () => {
    const logger = captureLogger();
    const wrong = 'Wrong-Canary-Pw-9931';
    const reg = createRedisRegistry({ connections: { s: { connection: `redis://alice:${wrong}@127.0.0.1:${server.port}`, readyTimeout: 1000 } } }, { logger });
    open.push(reg);
    await reg.waitUntilReady();
    const all = logger.all() + JSON.stringify(await reg.status());
    expect(all).toMatch(/WRONGPASS|invalid username-password/);
    expect(all).not.toContain(wrong);
  });
});
