// `zenokube login`: the device authorization grant (RFC 8628) from the CLI against the running
// auth functions, the user's side driven as a browser; and the polling rules of §3.5 with a
// scripted token endpoint (no clock).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import { Browser } from '#functions/auth/testing/browser';
import { makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { DEVICE_CODE_GRANT } from '#functions/auth/core/grant-types';
import { deviceLogin, LoginError } from '#cli/device-login';

describe('deviceLogin polling (RFC 8628 §3.4, §3.5)', () => {
  /** A token endpoint that answers `answers` in turn, and the sleeps the client asked for. */
  function scripted(answers: Record<string, unknown>[]) {
    const sleeps: number[] = [];
    const polls: URLSearchParams[] = [];
    const fetchStub = (async (url: string, init?: RequestInit) => {
      const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (url.endsWith('/.well-known/openid-configuration')) return json({ device_authorization_endpoint: 'https://as.example/device_authorization', token_endpoint: 'https://as.example/token' });
      if (url.endsWith('/device_authorization')) return json({ device_code: 'dc', user_code: 'BCDF-GHJK', verification_uri: 'https://as.example/device', expires_in: 600, interval: 5 });
      polls.push(new URLSearchParams(String(init?.body)));
      const next = answers.shift()!;
      return json(next, 'access_token' in next ? 200 : 400);
    }) as typeof fetch;
    return { sleeps, polls, options: { issuer: 'https://as.example', clientId: 'cli', scope: 'openid', fetch: fetchStub, sleep: async (s: number) => void sleeps.push(s), show: () => {} } };
  }

  it('waits the interval, adds 5 s at each slow_down for every later poll, and returns the tokens', async () => {
    const s = scripted([{ error: 'authorization_pending' }, { error: 'slow_down' }, { error: 'authorization_pending' }, { error: 'slow_down' }, { access_token: 'at', token_type: 'Bearer', expires_in: 60, refresh_token: 'rt' }]);
    const tokens = await deviceLogin(s.options);
    assert.deepEqual(s.sleeps, [5, 5, 10, 10, 15]);
    assert.equal(tokens.access_token, 'at');
    assert.equal(tokens.refresh_token, 'rt');
    assert.deepEqual([s.polls[0]!.get('grant_type'), s.polls[0]!.get('device_code'), s.polls[0]!.get('client_id')], [DEVICE_CODE_GRANT, 'dc', 'cli']);
  });

  it('stops at access_denied and expired_token with their codes', async () => {
    for (const error of ['access_denied', 'expired_token', 'invalid_client']) {
      await assert.rejects(deviceLogin(scripted([{ error: 'authorization_pending' }, { error }]).options), (err: unknown) => err instanceof LoginError && err.code === error);
    }
  });
});

describe('zenokube login (against the auth functions)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  const dir = mkdtempSync(join(tmpdir(), 'zeno-login-'));
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const acme = await makeTenant(tdb.database.db, 'acme');
    await makeUser(tdb.database.db, acme, { username: 'alice', password: 'wonderland-42' });
    await makeClient(tdb.database.db, acme, { client_id: 'zenokube-cli', token_endpoint_auth_method: 'none', grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], scope: 'openid profile offline_access', first_party: true });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the code, polls until the user confirms, and saves the tokens with mode 0600', async () => {
    const out = join(dir, 'nested', 'tokens.json');
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'cli/zenokube.ts', 'login', '--tenant', 'acme', '--out', out], {
      env: { ...process.env, ZENO_BASE_URL: h.baseUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const complete = await new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /\(or open (\S+)\)/.exec(stderr);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error(`login exited early: ${stderr}`)));
    });
    assert.match(stderr, /enter the code [BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}/);
    // The user's side: the complete URI, sign-in, confirmation.
    const browser = new Browser();
    let res = await browser.fetch(complete);
    let html = await res.text();
    const code = /name="user_code"[^>]*value="([^"]*)"/.exec(html)![1]!;
    res = await browser.submit(html, { user_code: code }, /\/device$/);
    html = await res.text();
    if (html.includes('name="password"')) html = await (await browser.submit(html, { username: 'alice', password: 'wonderland-42' }, /\/login$/)).text();
    assert.equal((await browser.submit(html, { decision: 'allow' }, /\/device\/confirm$/)).status, 200);

    assert.equal(await exited, 0, stderr);
    assert.equal(statSync(out).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(out, 'utf8')) as { access_token: string; refresh_token?: string; issuer: string };
    assert.equal(saved.issuer, `${h.baseUrl}/auth/acme`);
    assert.ok(saved.refresh_token);
    const me = await fetch(`${h.baseUrl}/auth/acme/userinfo`, { headers: { authorization: `Bearer ${saved.access_token}` } });
    assert.equal(((await me.json()) as { preferred_username?: string }).preferred_username, 'alice');
  });

  it('fails with the error code when the client is unknown', async () => {
    const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', 'cli/zenokube.ts', 'login', '--tenant', 'acme', '--client-id', 'nobody', '--out', join(dir, 'x.json')], {
      env: { ...process.env, ZENO_BASE_URL: h.baseUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.match(stderr, /invalid_client/);
  });
});
