// HTTPRoute retry (GEP-1731) over real sockets: a listed status is retried up to `attempts` times
// after at least `backoff`, and the client gets the backend's last answer, never a synthesised
// one; an unlisted status passes through at once; a request that is not idempotent is retried
// only when it never reached the upstream (its connection was refused); a body is resent only
// when the proxy holds it whole.
// @see https://gateway-api.sigs.k8s.io/geps/gep-1731/
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import type { Ingress } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { backendYaml, endpointSliceYaml, gatewayYaml, httpRouteYaml, prefixRule, serviceYaml, yamlStream } from '#tests/support/gateway-yaml';

const GUARD = { timeout: 120_000 };

/** A hit as the backend saw it. */
interface Hit {
  tag: string;
  method: string;
  body: string;
  at: number;
}

/**
 * Answers `/<route>/<tag>?seq=500,500,200` with the n-th status of `seq` on the tag's n-th hit
 * (the last one past the end), its body `hit <n> <status> <request body>`.
 */
async function sequenceBackend() {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const tag = url.pathname;
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      hits.push({ tag, method: req.method ?? '', body, at: performance.now() });
      const seq = (url.searchParams.get('seq') ?? '200').split(',').map(Number);
      const n = hits.filter((h) => h.tag === tag).length;
      const status = seq[Math.min(n, seq.length) - 1]!;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(`hit ${n} ${status} ${body}`);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('HTTPRoute retry (GEP-1731) over real sockets', GUARD, () => {
  let backend: Awaited<ReturnType<typeof sequenceBackend>>;
  let ingress: Ingress;
  let base = '';
  let downPort = 0;
  /** Failures charged to the endpoint nothing listens on. */
  let refused = 0;

  before(async () => {
    backend = await sequenceBackend();
    downPort = await closedPort();
    const yaml = yamlStream(
      gatewayYaml({ name: 'gw', namespace: 't' }),
      httpRouteYaml({
        name: 'r',
        namespace: 't',
        gateway: 'gw',
        rules: [
          { ...prefixRule('/retry', 'app'), retry: { codes: [500, 502], attempts: 2, backoff: '200ms' } },
          { ...prefixRule('/two', 'two'), retry: { codes: [500], attempts: 1 } },
          prefixRule('/plain', 'app'),
        ],
      }),
      backendYaml('app', 't', backend.port),
      // Two endpoints: one refuses connections, the other is the backend.
      serviceYaml('two', 't'),
      endpointSliceYaml({ service: 'two', namespace: 't', port: downPort, name: 'two-1' }),
      endpointSliceYaml({ service: 'two', namespace: 't', port: backend.port, name: 'two-2' }),
    );
    const { set, problems } = parseManifests(yaml, 'retry');
    assert.deepEqual(problems, []);
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, circuit: { failureThreshold: 1_000, openMs: 1_000 } });
    await ingress.apply(compile(set));
    base = `http://127.0.0.1:${ingress.address('t/gw', 80)!.port}`;
    const breakers = ingress.context.breakers;
    const failure = breakers.failure.bind(breakers);
    breakers.failure = (k) => {
      if (k === `127.0.0.1:${downPort}`) refused++;
      failure(k);
    };
  });
  after(async () => {
    await ingress.close();
    await backend.close();
  });

  const send = async (path: string, method = 'GET', body?: string) => {
    const r = await request(`${base}${path}`, { method: method as 'GET', body });
    return { status: r.statusCode, code: r.headers['x-zeno-ingress'], text: await r.body.text() };
  };
  const hitsOf = (tag: string) => backend.hits.filter((h) => h.tag === tag);

  it('retries a listed status `attempts` times after the backoff and answers with the backend\'s last status', async () => {
    const r = await send('/retry/exhausted?seq=500,502,500');
    assert.deepEqual([r.status, r.code, r.text], [500, undefined, 'hit 3 500 '], 'the third answer, as the backend gave it');
    const hits = hitsOf('/retry/exhausted');
    assert.equal(hits.length, 3);
    // "backoff specifies the minimum duration a Gateway should wait between retry attempts".
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i]!.at - hits[i - 1]!.at >= 180, `retry ${i} came ${(hits[i]!.at - hits[i - 1]!.at).toFixed(0)} ms after the one before`);
  });

  it('stops retrying at the first answer that is not listed', async () => {
    const r = await send('/retry/recovers?seq=500,200,500');
    assert.deepEqual([r.status, r.text], [200, 'hit 2 200 ']);
    assert.equal(hitsOf('/retry/recovers').length, 2);
  });

  it('passes an unlisted status through unretried, with the backend\'s own body', async () => {
    for (const status of [503, 404, 504]) {
      const r = await send(`/retry/unlisted-${status}?seq=${status},200`);
      assert.deepEqual([r.status, r.code, r.text], [status, undefined, `hit 1 ${status} `]);
      assert.equal(hitsOf(`/retry/unlisted-${status}`).length, 1);
    }
  });

  it('does not retry a route without a retry policy', async () => {
    const r = await send('/plain/once?seq=500,200');
    assert.equal(r.status, 500);
    assert.equal(hitsOf('/plain/once').length, 1);
  });

  it('resends an idempotent request\'s body held whole, intact, and never a POST that reached the backend', async () => {
    const put = await send('/retry/put?seq=502,200', 'PUT', 'the body');
    assert.deepEqual([put.status, put.text], [200, 'hit 2 200 the body']);
    assert.deepEqual(
      hitsOf('/retry/put').map((h) => [h.method, h.body]),
      [
        ['PUT', 'the body'],
        ['PUT', 'the body'],
      ],
    );
    const post = await send('/retry/post?seq=502,200', 'POST', 'once only');
    assert.deepEqual([post.status, post.text], [502, 'hit 1 502 once only']);
    assert.equal(hitsOf('/retry/post').length, 1);
  });

  it('retries a POST whose connection was refused on another endpoint: it never reached an upstream', async () => {
    const before = refused;
    for (let i = 0; i < 8; i++) {
      const r = await send(`/two/post-${i}`, 'POST', `body ${i}`);
      assert.deepEqual([r.status, r.text], [200, `hit 1 200 body ${i}`], `POST ${i}`);
      assert.deepEqual(
        hitsOf(`/two/post-${i}`).map((h) => h.body),
        [`body ${i}`],
      );
    }
    assert.ok(refused > before, 'no POST was sent to the endpoint that refuses connections first');
  });
});
