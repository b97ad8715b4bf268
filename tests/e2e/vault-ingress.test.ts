// The vault behind ZenoIngress as `npm start` hosts it (local-cluster/stack.ts: the real proxy,
// its circuit breakers, each function on a loopback port of its own), on the real PostgreSQL:
// a burst of writers on one path neither fails nor takes the vault's route away; the proxy's own
// refusals on the vault's routes (414, 431) are in Vault's shape; the audit trail records the
// client's address as the ingress forwarded it, and a forged X-Forwarded-For changes nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { sql } from 'drizzle-orm';
import { startStack, type RunningStack } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import { listen, type RunningServer } from '#shared/http/serve';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';

/** Connections from another loopback address than the ingress's own (127.0.0.1). */
const CLIENT_ADDRESS = '127.0.0.2';

describe('the vault behind the ingress', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;
  let base: string;
  let root: string;
  let unsealKey: string;

  /** A request over node:http from CLIENT_ADDRESS (undici's connector does not take a local address). */
  const call = (method: string, path: string, opts: { body?: object; headers?: Record<string, string>; url?: string; token?: string | null } = {}) =>
    new Promise<{ status: number; type: string; code: string | undefined; body: Record<string, any> | null }>((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
      const req = request(
        `${opts.url ?? base}/vault/v1/${path}`,
        {
          method,
          localAddress: CLIENT_ADDRESS,
          headers: { 'content-type': 'application/json', ...(opts.token === null ? {} : { 'x-vault-token': opts.token ?? root }), ...(payload ? { 'content-length': String(Buffer.byteLength(payload)) } : {}), ...opts.headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () =>
            resolve({ status: res.statusCode!, type: res.headers['content-type'] ?? '', code: res.headers['x-zeno-ingress'] as string | undefined, body: text ? (JSON.parse(text) as Record<string, any>) : null }),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  /** One request written as raw bytes on a connection of its own; the status line and headers back. */
  const raw = (request: string) =>
    new Promise<{ head: string; body: string }>((resolve, reject) => {
      const port = Number(new URL(base).port);
      const socket = connect({ port, host: '127.0.0.1' });
      let got = '';
      socket.on('data', (d) => (got += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => {
        const at = got.indexOf('\r\n\r\n');
        resolve({ head: got.slice(0, at), body: got.slice(at + 4) });
      });
      socket.write(request);
    });

  before(async () => {
    tdb = await createTestDatabase({ max: 10 });
    const port = await freePort();
    // Only the ingress's own address is trusted to forward: a client on 127.0.0.2 is not a proxy.
    const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error', ZENO_TRUSTED_PROXIES: '127.0.0.1' });
    const declarations = (await discoverFunctions(functionsDir(projectRoot()))).filter((d) => d.product === 'vault');
    stack = await startStack({ platform: { config, log: silentLogger, metrics: createMetrics({ defaults: false }), database: tdb.database }, declarations, relays: false, env: {} });
    base = `http://127.0.0.1:${stack.port}`;
    const init = await call('PUT', 'sys/init', { body: { secret_shares: 1, secret_threshold: 1 }, token: null });
    assert.equal(init.status, 200, JSON.stringify(init.body));
    root = init.body!.root_token;
    unsealKey = init.body!.keys[0];
    assert.equal((await call('PUT', 'sys/unseal', { body: { key: unsealKey }, token: null })).body!.sealed, false);
  });
  after(async () => {
    await stack?.stop();
    await tdb?.drop();
  });

  // 100 rather than the 200 of vault-concurrency.test.ts: serialised, they must all end within the
  // route's 30 s request timeout on a loaded test machine too.
  it('serves 100 concurrent writes to one path, every one successful, and keeps the route up', async () => {
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => call('PUT', 'secret/data/burst', { body: { data: { i } } })));
    assert.deepEqual(answers.filter((a) => a.status !== 200).map((a) => [a.status, a.code, a.body]), []);
    assert.deepEqual(
      answers.map((a) => a.body!.data.version as number).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    // No circuit opened: the next requests reach the vault at once.
    for (let i = 0; i < 5; i++) {
      const read = await call('GET', 'secret/data/burst');
      assert.equal(read.status, 200, JSON.stringify([read.code, read.body]));
      assert.equal(read.body!.data.metadata.version, 100);
    }
  });

  it("keeps the route up through a run of the vault's own 503s (sealed): the next request after unseal is served", async () => {
    const key = unsealKey;
    assert.equal((await call('PUT', 'sys/seal')).status, 204);
    for (let i = 0; i < 8; i++) {
      const r = await call('GET', 'secret/data/burst');
      // The vault's answer, not the ingress's circuit_open.
      assert.deepEqual([i, r.status, r.code, Array.isArray(r.body?.errors)], [i, 503, undefined, true]);
    }
    // Nor do health checks of the sealed vault (503 by design) take the unsealer's route away
    // before sys/unseal.
    for (let i = 0; i < 8; i++) {
      const h = await call('GET', 'sys/health', { token: null });
      assert.deepEqual([i, h.status, h.code], [i, 503, undefined]);
    }
    assert.equal((await call('PUT', 'sys/unseal', { body: { key }, token: null })).body!.sealed, false);
    const read = await call('GET', 'secret/data/burst');
    assert.equal(read.status, 200, JSON.stringify([read.code, read.body]));
  });

  it("answers a URI too long on the vault's routes with Vault's error shape, and problem+json elsewhere", async () => {
    const long = 'a'.repeat(9000);
    const vault = await call('GET', `secret/data/${long}`);
    assert.equal(vault.status, 414);
    assert.equal(vault.code, 'uri_too_long');
    assert.match(vault.type, /^application\/json/);
    assert.deepEqual(vault.body, { errors: ['request URI too long'] });
    const other = await fetch(`${base}/elsewhere/${long}`);
    assert.equal(other.status, 414);
    assert.equal(other.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await other.json()) as { code: string }).code, 'uri_too_long');
  });

  it("answers header fields too large on the vault's routes with Vault's error shape, and problem+json elsewhere", async () => {
    const big = `x-big: ${'b'.repeat(20_000)}\r\n`;
    const vault = await raw(`GET /vault/v1/sys/health HTTP/1.1\r\nhost: 127.0.0.1\r\n${big}\r\n`);
    assert.match(vault.head, /^HTTP\/1\.1 431 /);
    assert.match(vault.head, /\r\ncontent-type: application\/json\r\n/);
    assert.deepEqual(JSON.parse(vault.body), { errors: ['request header fields too large'] });
    const other = await raw(`GET /elsewhere HTTP/1.1\r\nhost: 127.0.0.1\r\n${big}\r\n`);
    assert.match(other.head, /^HTTP\/1\.1 431 /);
    assert.match(other.head, /\r\ncontent-type: application\/problem\+json\r\n/);
    assert.equal(JSON.parse(other.body).code, 'headers_too_large');
  });

  const auditedAddresses = async (path: string) =>
    (await tdb.database.query<{ remote_address: string | null }>(sql`select remote_address from vault.audit_log where path = ${path} order by seq`)).map((r) => r.remote_address);

  it("audits the client's address as the ingress forwarded it, not the ingress's, whatever X-Forwarded-For the client sent", async () => {
    assert.equal((await call('PUT', 'secret/data/where', { body: { data: { a: 1 } }, headers: { 'x-forwarded-for': '6.6.6.6' } })).status, 200);
    assert.deepEqual(await auditedAddresses('secret/data/where'), [CLIENT_ADDRESS, CLIENT_ADDRESS]);
  });

  describe('the api reached directly, not through the ingress', () => {
    let direct: RunningServer;
    before(async () => {
      const api = stack.hosted.find((h) => h.declaration.name === 'vault-api')!;
      direct = await listen(api.app.fetch, { port: 0, host: '127.0.0.1' });
    });
    after(async () => {
      await direct?.close();
    });

    it('audits the socket peer when a client that is no trusted proxy forges X-Forwarded-For', async () => {
      const r = await call('PUT', 'secret/data/forged', { url: `http://127.0.0.1:${direct.port}`, body: { data: { a: 1 } }, headers: { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6' } });
      assert.equal(r.status, 200);
      assert.deepEqual(await auditedAddresses('secret/data/forged'), [CLIENT_ADDRESS, CLIENT_ADDRESS]);
    });
  });

  it('refuses a NUL in a path through the ingress with an audited 400', async () => {
    const r = await call('GET', 'secret/data/a%00b');
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { errors: ['invalid path: it contains a control character'] });
    const audited = await tdb.database.query<{ decision: string; remote_address: string }>(
      sql`select decision, remote_address from vault.audit_log where path = ${'secret/data/a\\u0000b'} and error = 'invalid path: it contains a control character'`,
    );
    assert.deepEqual(audited.map((a) => ({ ...a })), [{ decision: 'allow', remote_address: CLIENT_ADDRESS }]);
  });
});
