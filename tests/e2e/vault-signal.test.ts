// SIGTERM reaches the unsealer's key wipe before the platform's drain: the root key is gone
// while in-flight requests are still being served.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { nodeArgs } from '#tests/support/node-args';

describe('unsealer on SIGTERM', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
  });
  after(async () => tdb?.drop());

  it('zeroes the root key at once: the vault reports sealed while the process drains', async () => {
    const child = spawn(process.execPath, nodeArgs(join(projectRoot(), 'tests', 'e2e', 'vault-signal-child.ts')), {
      env: { ...process.env, DATABASE_URL: tdb.url, ZENO_LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('READY')) resolve();
      });
      child.once('exit', () => reject(new Error(`child exited early: ${out}`)));
    });
    assert.match(out, /READY sealed=false/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /SEALED_AFTER_SIGTERM true/);
  });
});
