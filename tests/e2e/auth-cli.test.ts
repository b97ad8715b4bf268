// `zenokube auth …` against a running stack over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { nodeArgs } from '#tests/support/node-args';

const run = promisify(execFile);

describe('zenokube auth (CLI over the admin API)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'auth', ...args], {
      env: { ...process.env, ZENO_BASE_URL: h.baseUrl, ZENO_BOOTSTRAP_CLIENT_SECRET: h.adminSecret, ...env },
    });

  it('creates a tenant and a user, then lists them', async () => {
    const created = await cli(['tenants', 'create', 'cli-co', 'CLI', 'Company']);
    assert.equal(JSON.parse(created.stdout).issuer, `${h.baseUrl}/auth/cli-co`);
    await cli(['users', 'create', 'cli-co', 'carol', '--email', 'carol@cli.example'], { ZENO_NEW_PASSWORD: 'carol-password-1' });
    const users = JSON.parse((await cli(['users', 'list', 'cli-co'])).stdout) as { users: { username: string; hasPassword: boolean }[] };
    assert.deepEqual(users.users.map((u) => [u.username, u.hasPassword]), [['carol', true]]);
  });

  it('fails with a clear message on wrong credentials and a non-zero status on API errors', async () => {
    await assert.rejects(cli(['tenants', 'list'], { ZENO_BOOTSTRAP_CLIENT_SECRET: 'wrong' }), (err: { stderr: string; code: number }) => err.code === 1 && /cannot get an admin token/.test(err.stderr));
    await assert.rejects(cli(['tenants', 'delete', 'no-such-tenant']), (err: { code: number }) => err.code === 1);
    await assert.rejects(cli(['frobnicate']), (err: { code: number }) => err.code === 2);
  });
});
