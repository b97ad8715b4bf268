// ZenoIngress resilience features over real sockets: ExtAuthFilter (http, introspection, jwt;
// L1 decision cache, failing closed), GEP-1619 session persistence, WebSocket upgrade passthrough.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { Client, request } from 'undici';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { Ingress } from '#functions/ingress/index';
import { compile, createExtAuth, createIngress, parseManifests } from '#functions/ingress/index';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { SERVICE_PORT, endpointSliceYaml, gatewayYaml, httpRouteYaml, serviceYaml, yamlStream } from '#tests/support/gateway-yaml';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port, url: `http://127.0.0.1:${port}` };
}

describe('ingress resilience', () => {
  let ingress: Ingress;
  let base = '';
  let a: EchoBackend;
  let b: EchoBackend;
  let auth: Awaited<ReturnType<typeof serve>>;
  let introspect: Awaited<ReturnType<typeof serve>>;
  let jwks: Awaited<ReturnType<typeof serve>>;
  let ws: Awaited<ReturnType<typeof serve>>;
  const calls = { auth: 0, introspect: 0 };
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  let forged: Awaited<ReturnType<typeof generateKeyPair>>;

  before(async () => {
    keys = await generateKeyPair('EdDSA', { extractable: true });
    forged = await generateKeyPair('EdDSA');
    a = await startEcho('a', 't');
    b = await startEcho('b', 't');
    auth = await serve((req, res) => {
      calls.auth++;
      if (req.headers.authorization === 'Bearer good' && String(req.headers['x-forwarded-uri']).startsWith('/forward/admin')) res.writeHead(403).end();
      else if (req.headers.authorization === 'Bearer good') res.writeHead(200, { 'x-user': 'alice' }).end();
      else res.writeHead(401, { 'www-authenticate': 'Bearer realm="t"' }).end();
    });
    introspect = await serve((req, res) => {
      calls.introspect++;
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const okClient = req.headers.authorization === `Basic ${Buffer.from('ingress:s3cret').toString('base64')}`;
        if (!okClient) return void res.writeHead(401).end();
        const token = new URLSearchParams(body).get('token');
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(token === 'live' ? { active: true, sub: 'bob', scope: 'read' } : { active: false }));
      });
    });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'EdDSA' };
    jwks = await serve((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    ws = await serve((_, res) => res.writeHead(426).end());
    ws.server.on('upgrade', (req, socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Path: ${req.url}\r\n\r\n`);
      socket.on('data', (d: Buffer) => socket.write(d));
      socket.on('end', () => socket.end());
    });
    const extAuth = (name: string) => ({ type: 'ExtensionRef', extensionRef: { group: 'ingress.zenokube.io', kind: 'ExtAuthFilter', name } });
    const to = (backend: string) => [{ name: backend, port: SERVICE_PORT }];
    const yaml = yamlStream(
      gatewayYaml({ name: 'gw', namespace: 't' }),
      `apiVersion: ingress.zenokube.io/v1alpha1
kind: ExtAuthFilter
metadata: { name: forward, namespace: t }
spec: { url: "${auth.url}/check", forwardResponseHeaders: [x-user], cacheTTL: 30s }
---
apiVersion: ingress.zenokube.io/v1alpha1
kind: ExtAuthFilter
metadata: { name: introspect, namespace: t }
spec: { url: "${introspect.url}/introspect", mode: introspection, clientId: ingress, clientSecretRef: { name: auth, key: secret } }
---
apiVersion: ingress.zenokube.io/v1alpha1
kind: ExtAuthFilter
metadata: { name: jwt, namespace: t }
spec: { url: "${jwks.url}/jwks", mode: jwt, issuer: https://id.example, audience: api }
---
apiVersion: ingress.zenokube.io/v1alpha1
kind: ExtAuthFilter
metadata: { name: dead, namespace: t }
spec: { url: "http://127.0.0.1:1/nothing", timeout: 500ms }
---
apiVersion: v1
kind: Secret
metadata: { name: auth, namespace: t }
stringData: { secret: s3cret }
`,
      httpRouteYaml({
        name: 'r',
        namespace: 't',
        gateway: 'gw',
        rules: [
          { matches: [{ path: { value: '/forward' } }], filters: [extAuth('forward')], backendRefs: to('a') },
          { matches: [{ path: { value: '/introspect' } }], filters: [extAuth('introspect')], backendRefs: to('a') },
          { matches: [{ path: { value: '/jwt' } }], filters: [extAuth('jwt')], backendRefs: to('a') },
          { matches: [{ path: { value: '/dead' } }], filters: [extAuth('dead')], backendRefs: to('a') },
          { matches: [{ path: { value: '/missing' } }], filters: [extAuth('nope')], backendRefs: to('a') },
          { matches: [{ path: { value: '/sticky' } }], sessionPersistence: { sessionName: 'pod', type: 'Cookie' }, backendRefs: to('pair') },
          { matches: [{ path: { value: '/header-sticky' } }], sessionPersistence: { sessionName: 'X-Session', type: 'Header' }, backendRefs: to('pair') },
          { matches: [{ path: { value: '/ws' } }], backendRefs: to('ws') },
        ],
      }),
      serviceYaml('a', 't'),
      serviceYaml('pair', 't'),
      serviceYaml('ws', 't'),
      endpointSliceYaml({ service: 'a', namespace: 't', port: a.port }),
      endpointSliceYaml({ service: 'pair', namespace: 't', port: a.port }),
      endpointSliceYaml({ service: 'pair', namespace: 't', port: b.port, name: 'pair-2' }),
      endpointSliceYaml({ service: 'ws', namespace: 't', port: ws.port }),
    );
    const { set, problems } = parseManifests(yaml, 'resilience');
    assert.deepEqual(problems, []);
    const config = compile(set);
    const refs = config.status.routes.get('t/r')!.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!;
    assert.deepEqual([refs.status, refs.reason], ['False', 'BackendNotFound']);
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, extAuth: createExtAuth() });
    await ingress.apply(config);
    base = `http://127.0.0.1:${ingress.address('t/gw', 80)!.port}`;
  });
  after(async () => {
    await ingress.close();
    await Promise.all([a.close(), b.close()]);
    for (const s of [auth, introspect, jwks, ws]) {
      s.server.closeAllConnections();
      await new Promise<void>((r) => s.server.close(() => r()));
    }
  });

  const call = async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(`${base}${path}`, { headers });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, json: r.headers['content-type'] === 'application/json' ? (JSON.parse(text) as { service: string; headers: Record<string, string[]> }) : undefined };
  };

  describe('ExtAuthFilter (crds/ext-auth-filter.yaml)', () => {
    it('denies without calling the backend and relays the challenge', async () => {
      const before = a.received.length;
      const r = await call('/forward');
      assert.equal(r.status, 401);
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="t"');
      assert.equal(a.received.length, before);
    });

    it('forwards an allowed request with the auth service headers, and caches the decision by credential', async () => {
      const first = await call('/forward', { authorization: 'Bearer good' });
      assert.equal(first.status, 200);
      assert.deepEqual(first.json!.headers['x-user'], ['alice']);
      const n = calls.auth;
      assert.equal((await call('/forward', { authorization: 'Bearer good' })).status, 200);
      assert.equal(calls.auth, n, 'answered from the L1 cache');
      assert.equal((await call('/forward', { authorization: 'Bearer other' })).status, 401);
      assert.equal(calls.auth, n + 1);
      // An allowed credential is not an allowed path: the decision is cached per request target.
      assert.equal((await call('/forward/admin', { authorization: 'Bearer good' })).status, 403);
    });

    it('does not let a client forge the headers the auth service sets', async () => {
      const r = await call('/forward', { authorization: 'Bearer good', 'x-user': 'mallory' });
      assert.deepEqual(r.json!.headers['x-user'], ['alice']);
      const i = await call('/introspect', { authorization: 'Bearer live', 'x-auth-subject': 'root', 'x-auth-client-id': 'admin' });
      assert.deepEqual(i.json!.headers['x-auth-subject'], ['bob']);
      assert.equal(i.json!.headers['x-auth-client-id'], undefined);
    });

    it('introspects bearer tokens with client credentials (RFC 7662) and passes the subject on', async () => {
      const ok = await call('/introspect', { authorization: 'Bearer live' });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.json!.headers['x-auth-subject'], ['bob']);
      assert.equal((await call('/introspect', { authorization: 'Bearer dead' })).status, 401);
      assert.equal((await call('/introspect')).status, 401);
    });

    it('verifies JWTs against the JWKS and rejects forged and expired ones', async () => {
      const sign = (key: Parameters<SignJWT['sign']>[0], exp: string | number) =>
        new SignJWT({ scope: 'read' }).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).setIssuer('https://id.example').setAudience('api').setSubject('carol').setExpirationTime(exp).sign(key);
      const good = await call('/jwt', { authorization: `Bearer ${await sign(keys.privateKey, '5m')}` });
      assert.equal(good.status, 200);
      assert.deepEqual(good.json!.headers['x-auth-subject'], ['carol']);
      assert.equal((await call('/jwt', { authorization: `Bearer ${await sign(forged.privateKey, '5m')}` })).status, 401);
      assert.equal((await call('/jwt', { authorization: `Bearer ${await sign(keys.privateKey, Math.floor(Date.now() / 1000) - 60)}` })).status, 401);
    });

    it('fails closed with 503 when the auth service cannot be reached', async () => {
      assert.equal((await call('/dead', { authorization: 'Bearer good' })).status, 503);
    });

    it('answers 500 when the referenced filter does not exist', async () => {
      assert.equal((await call('/missing')).status, 500);
    });
  });

  describe('session persistence (GEP-1619)', () => {
    it('spreads requests without a session and keeps a cookie session on one endpoint', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await call('/sticky')).json!.service);
      assert.equal(seen.size, 2);
      const first = await call('/sticky');
      const cookie = String(first.headers['set-cookie']).split(';')[0]!;
      assert.match(cookie, /^pod=/);
      for (let i = 0; i < 6; i++) assert.equal((await call('/sticky', { cookie })).json!.service, first.json!.service);
    });

    it('keeps a header session on one endpoint and ignores an unknown token', async () => {
      const first = await call('/header-sticky');
      const token = first.headers['x-session'] as string;
      assert.ok(token);
      for (let i = 0; i < 6; i++) assert.equal((await call('/header-sticky', { 'x-session': token })).json!.service, first.json!.service);
      assert.equal((await call('/header-sticky', { 'x-session': 'forged' })).status, 200);
    });
  });

  describe('forwarding headers', () => {
    it('gives each request on a keep-alive connection the Forwarded host of its own Host header', async () => {
      const client = new Client(base, { pipelining: 1 });
      try {
        const forwarded: string[] = [];
        for (const host of ['one.example', 'one.example', 'two.example:8080', 'one.example']) {
          const r = await client.request({ path: '/sticky', method: 'GET', headers: { host, forwarded: 'for=192.0.2.1' } });
          const echo = (await r.body.json()) as { headers: Record<string, string[]> };
          assert.deepEqual(echo.headers['x-forwarded-host'], [host]);
          forwarded.push(echo.headers.forwarded![0]!);
        }
        assert.deepEqual(forwarded, [
          'for=192.0.2.1, for=127.0.0.1;host="one.example";proto=http',
          'for=192.0.2.1, for=127.0.0.1;host="one.example";proto=http',
          'for=192.0.2.1, for=127.0.0.1;host="two.example:8080";proto=http',
          'for=192.0.2.1, for=127.0.0.1;host="one.example";proto=http',
        ]);
      } finally {
        await client.close();
      }
    });
  });

  describe('WebSocket upgrade', () => {
    it('passes the upgrade through and relays frames both ways', async () => {
      const port = Number(new URL(base).port);
      const s = connect(port, '127.0.0.1');
      let data = '';
      s.on('data', (d: Buffer) => (data += d.toString()));
      s.write('GET /ws/chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      for (let i = 0; i < 100 && !data.includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.match(data, /^HTTP\/1\.1 101/);
      assert.match(data, /X-Path: \/ws\/chat/);
      data = '';
      s.write('ping-frame');
      for (let i = 0; i < 100 && !data.includes('ping-frame'); i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(data, 'ping-frame');
      s.destroy();
    });
  });
});
