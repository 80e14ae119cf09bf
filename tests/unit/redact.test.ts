import { describe, expect, it } from 'vitest';
import { MASK, describeValue, redactText, redactUrl, redactValue, registerSecretsIn } from '../../src/core/redact.js';

describe('redaction', () => {
  it('masks URL passwords, keeps the user and the rest', () => {
    expect(redactUrl('redis://user:s3cret@h:6379/2')).toBe(`redis://user:${MASK}@h:6379/2`);
    expect(redactUrl('rediss://:s3cret@h')).toBe(`rediss://:${MASK}@h`);
    expect(redactUrl('redis://s3cret@h')).toBe(`redis://${MASK}@h`);
    expect(redactUrl('redis://h:6379')).toBe('redis://h:6379');
    expect(redactUrl('not a url')).toBe('not a url');
  });

  it('masks secret keys at any depth and summarises buffers and functions', () => {
    const out = redactValue({
      host: 'h',
      password: 'p1',
      tls: { key: Buffer.from('k'), ca: Buffer.from('abc'), passphrase: 'pp' },
      options: { redisOptions: { password: 'p2', sentinelPassword: 'p3' } },
      retryStrategy: function retry() {},
      url: 'redis://u:p4@h',
    });
    expect(out).toEqual({
      host: 'h',
      password: MASK,
      tls: { key: MASK, ca: '[Buffer 3 bytes]', passphrase: MASK },
      options: { redisOptions: { password: MASK, sentinelPassword: MASK } },
      retryStrategy: '[function retry]',
      url: `redis://u:${MASK}@h`,
    });
  });

  it('scrubs registered secrets and URL passwords from free text', () => {
    registerSecretsIn({ connections: { a: { connection: { password: 'Zebra-Secret-1' } }, b: { connection: 'redis://:Url-Secret-2@h' } } });
    const text = 'AUTH Zebra-Secret-1 failed; tried redis://x:Url-Secret-2@h:6379 and Url-Secret-2';
    const out = redactText(text);
    expect(out).not.toContain('Zebra-Secret-1');
    expect(out).not.toContain('Url-Secret-2');
    expect(out).toBe(`AUTH ${MASK} failed; tried redis://x:${MASK}@h:6379 and ${MASK}`);
  });

  it('describes values with their type, bounded in length', () => {
    expect(describeValue('abc')).toBe('"abc" (string)');
    expect(describeValue(null)).toBe('null (null)');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue([1, 2])).toBe('[1,2] (array)');
    expect(describeValue('s3cret', 'password')).toBe(`${MASK} (string)`);
    expect(describeValue('x'.repeat(500)).length).toBeLessThan(140);
  });
});

describe('short secrets', () => {
  it('are scrubbed as whole tokens without mangling words', () => {
    registerSecretsIn({ password: 'ab' });
    expect(redactText("auth([ 'ab' ]) about absent ab")).toBe(`auth([ '${MASK}' ]) about absent ${MASK}`);
  });
});
