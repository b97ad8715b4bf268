// The POST of a logout token against a real HTTP server: what counts as delivered, what is
// retried, what goes to the dead letters at once, and the deadline on a client that never answers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogoutDeliveryFailed, postLogoutToken, readTimeoutMs } from './deliver.js';

describe('logout token delivery (OIDC Back-Channel Logout 1.0 §2.5, §2.8)', () => {
  const seen: { path: string; type: string | undefined; body: string }[] = [];
  const hanging: ServerResponse[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    seen.push({ path: req.url!, type: req.headers['content-type'], body });
    if (req.url === '/ok') return void res.writeHead(200).end();
    if (req.url === '/no-content') return void res.writeHead(204).end();
    if (req.url === '/refuse') return void res.writeHead(400).end('{"error":"invalid_request"}');
    if (req.url === '/moved') return void res.writeHead(302, { location: '/ok' }).end();
    if (req.url === '/hang') return void hanging.push(res);
    res.writeHead(503).end();
  });
  let base = '';
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const failure = async (path: string, timeoutMs = 2_000): Promise<LogoutDeliveryFailed> => {
    try {
      await postLogoutToken(`${base}${path}`, 'a.b.c', timeoutMs);
    } catch (err) {
      assert.ok(err instanceof LogoutDeliveryFailed, String(err));
      return err;
    }
    throw new Error(`${path} was delivered`);
  };

  it('§2.5: POSTs logout_token as a form; §2.8: 200 and 204 are success', async () => {
    await postLogoutToken(`${base}/ok`, 'a.b.c', 2_000);
    await postLogoutToken(`${base}/no-content`, 'a.b.c', 2_000);
    assert.deepEqual(seen.at(-2), { path: '/ok', type: 'application/x-www-form-urlencoded', body: 'logout_token=a.b.c' });
  });

  it('§2.8: a 400 is the client refusing the token: not retried', async () => {
    assert.equal((await failure('/refuse')).retryable, false);
  });

  it('a 5xx is retried; a redirect is not followed and is retried', async () => {
    assert.equal((await failure('/down')).retryable, true);
    const before = seen.filter((s) => s.path === '/ok').length;
    const moved = await failure('/moved');
    assert.equal(moved.retryable, true);
    assert.equal(seen.filter((s) => s.path === '/ok').length, before, 'the redirect was not followed');
  });

  it('a client that never answers costs one attempt, ended by the deadline, retried later', async () => {
    const err = await failure('/hang', 50);
    assert.equal(err.retryable, true);
    assert.match(err.message, /no answer within 50 ms/);
  });

  it('an unreachable client is retried', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((r) => closed.close(() => r()));
    try {
      await postLogoutToken(`http://127.0.0.1:${port}/x`, 'a.b.c', 2_000);
      assert.fail('delivered');
    } catch (err) {
      assert.ok(err instanceof LogoutDeliveryFailed);
      assert.equal(err.retryable, true);
    }
  });

  it('checks the timeout setting once, at start', () => {
    assert.equal(readTimeoutMs(undefined), 5_000);
    assert.equal(readTimeoutMs('250'), 250);
    for (const bad of ['0', '-1', 'abc', '1.5', '600000']) assert.throws(() => readTimeoutMs(bad), TypeError, bad);
  });
});
