import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveKey } from './key-file.js';

describe('a product root key (shared/crypto/key-file)', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'zk-key-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));
  const src = (over: Partial<Parameters<typeof resolveKey>[0]> = {}) =>
    ({ configured: undefined, variable: 'X_KEY', dataDir, file: ['x', 'root.key'] as [string, string], allowGenerate: true, ...over });

  it('takes the configured value in base64 or base64url, and names the variable when it is not 32 bytes', async () => {
    const key = randomBytes(32);
    assert.deepEqual(await resolveKey(src({ configured: key.toString('base64') })), key);
    assert.deepEqual(await resolveKey(src({ configured: key.toString('base64url') })), key);
    await assert.rejects(resolveKey(src({ configured: randomBytes(16).toString('base64') })), /X_KEY must be 32 bytes/);
  });

  it('refuses to generate one in a cluster', async () => {
    await assert.rejects(resolveKey(src({ allowGenerate: false })), /X_KEY is required when running in a cluster/);
  });

  it('generates one key on one machine, once, readable by its owner only, even for concurrent first starts', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => resolveKey(src())));
    for (const k of keys) assert.deepEqual(k, keys[0]);
    assert.equal(keys[0]!.length, 32);
    assert.deepEqual(await resolveKey(src()), keys[0]);
    assert.equal((await stat(join(dataDir, 'x', 'root.key'))).mode & 0o777, 0o600);
  });
});
