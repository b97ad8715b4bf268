// ZenoIngress's limits over real sockets, each with a legitimate client beside the hostile or
// refused requests that must keep >= 99.9% of its requests answered: the URI, field-count and
// version refusals (414, 431, 505), a route's body limit (413, with and without Expect:
// 100-continue, whole or streamed), a route's per-phase deadlines, a malformed first response
// chunk (502, never a cut), the proxy's fields sent before the client's, a backend whose every
// circuit is open still served (panic), an application's 503 counted only where the route says
// so, and a half-open circuit whose probe's client resets (the next request probes; the circuit
// never stays open for good).
// @see https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14 (413), #section-15.5.15 (414), #section-15.6.6 (505)
// @see https://www.rfc-editor.org/rfc/rfc6585#section-5 (431)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Ingress } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { backendYaml, endpointSliceYaml, gatewayYaml, httpRouteYaml, prefixRule, serviceYaml, yamlStream } from '#tests/support/gateway-yaml';
import { assertServed, ended, exchange, legitimate, open } from './ingress-traffic.js';

const GUARD = { timeout: 180_000 };
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms, at most `n` times (a bound that only catches hangs). */
async function until(cond: () => boolean, what: string, n = 1_000): Promise<void> {
  for (let i = 0; i < n && !cond(); i++) await pause(20);
  assert.ok(cond(), `never: ${what}`);
}

/** Status, problem code and whether a 100 Continue came first, from one raw response. */
function parse(text: string): { status: number; code: string | undefined; continued: boolean } {
  const continued = text.startsWith('HTTP/1.1 100 Continue\r\n\r\n');
  const rest = continued ? text.slice(25) : text;
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(rest);
  assert.ok(m, `a response: ${JSON.stringify(text.slice(0, 200))}`);
  const code = /\r\nx-zeno-ingress: ([a-z_]+)\r\n/i.exec(rest.slice(0, rest.indexOf('\r\n\r\n') + 2));
  return { status: Number(m[1]), code: code?.[1], continued };
}

/** A request as the test backend saw it. */
interface Seen {
  path: string;
  rawHeaders: string[];
  bytes: number;
  complete: boolean;
}

/**
 * The test backend. `/record…`: `ok <path>` once the body ended. `/toggle…`: 502, 503, held
 * unanswered, or 200 as `mode` says. `/big?bytes=N`: N bytes with backpressure; `bigClosed` counts
 * those whose response closed before it was all written.
 */
async function testBackend() {
  const seen: Seen[] = [];
  const state = { mode: 'ok' as 'ok' | 'fail' | 'hold' | 'busy', held: [] as ServerResponse[], bigClosed: 0 };
  const server: Server = createServer((req: IncomingMessage, res) => {
    const rec: Seen = { path: req.url ?? '', rawHeaders: req.rawHeaders, bytes: 0, complete: false };
    seen.push(rec);
    req.on('data', (d: Buffer) => (rec.bytes += d.length));
    req.on('error', () => {});
    req.on('end', () => {
      rec.complete = true;
      if (rec.path.startsWith('/toggle')) {
        if (state.mode === 'fail') return void res.writeHead(502).end('down');
        if (state.mode === 'busy') return void res.writeHead(503).end('busy');
        if (state.mode === 'hold') return void state.held.push(res);
      }
      const big = /\/big\?bytes=(\d+)/.exec(rec.path);
      if (!big) return void res.end(`ok ${rec.path}`);
      let left = Number(big[1]);
      res.writeHead(200, { 'content-length': left });
      res.once('close', () => {
        if (left > 0 || !res.writableFinished) state.bigClosed++;
      });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = () => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** An upstream whose response head is followed by a malformed chunk size. */
async function badChunkUpstream(): Promise<{ port: number; server: NetServer; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.once('data', () => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, server, sockets };
}

describe('ingress limits: URI, fields, version, body size, per-route deadlines, upstream framing, probes', GUARD, () => {
  let backend: Awaited<ReturnType<typeof testBackend>>;
  /** The healthy second endpoint of the pair. */
  let other: Awaited<ReturnType<typeof testBackend>>;
  let bad: Awaited<ReturnType<typeof badChunkUpstream>>;
  let ingress: Ingress;
  let port = 0;
  let key = '';
  /** Failures charged to the test backend's circuit. */
  let charged = 0;

  before(async () => {
    backend = await testBackend();
    other = await testBackend();
    bad = await badChunkUpstream();
    const yaml = yamlStream(
      gatewayYaml({ name: 'gw', namespace: 't' }),
      httpRouteYaml({ name: 'r', namespace: 't', gateway: 'gw', rules: [prefixRule('/record', 'app'), prefixRule('/toggle', 'app'), prefixRule('/big', 'app'), prefixRule('/badchunk', 'bad')] }),
      httpRouteYaml({
        name: 'small',
        namespace: 't',
        gateway: 'gw',
        annotations: { 'ingress.zenokube.io/max-request-body-bytes': '1000' },
        rules: [{ ...prefixRule('/small', 'app'), filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/record/small' } } }] }],
      }),
      httpRouteYaml({
        name: 'large',
        namespace: 't',
        gateway: 'gw',
        annotations: { 'ingress.zenokube.io/max-request-body-bytes': '100000' },
        rules: [{ ...prefixRule('/large', 'app'), filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/record/large' } } }] }],
      }),
      httpRouteYaml({
        name: 'quick',
        namespace: 't',
        gateway: 'gw',
        annotations: { 'ingress.zenokube.io/deadlines': 'body=300ms, first-byte=300ms, send=300ms' },
        rules: [{ ...prefixRule('/quick', 'app'), filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }] }],
      }),
      httpRouteYaml({
        name: 'strict',
        namespace: 't',
        gateway: 'gw',
        annotations: { 'ingress.zenokube.io/circuit-counts-503': 'true' },
        rules: [{ ...prefixRule('/strict', 'app'), filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }] }],
      }),
      httpRouteYaml({
        name: 'pair',
        namespace: 't',
        gateway: 'gw',
        rules: [{ ...prefixRule('/pair', 'pair'), filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }] }],
      }),
      backendYaml('app', 't', backend.port),
      backendYaml('bad', 't', bad.port),
      serviceYaml('pair', 't'),
      endpointSliceYaml({ service: 'pair', namespace: 't', port: backend.port, name: 'pair-1' }),
      endpointSliceYaml({ service: 'pair', namespace: 't', port: other.port, name: 'pair-2' }),
    );
    const { set, problems } = parseManifests(yaml, 'limits');
    assert.deepEqual(problems, []);
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, circuit: { failureThreshold: 3, openMs: 200 } });
    const config = compile(set);
    await ingress.apply(config);
    port = ingress.address('t/gw', 80)!.port;
    key = `127.0.0.1:${backend.port}`;
    const breakers = ingress.context.breakers;
    const failure = breakers.failure.bind(breakers);
    breakers.failure = (k) => {
      if (k === key) charged++;
      failure(k);
    };
  });
  after(async () => {
    await ingress.close();
    await backend.close();
    await other.close();
    for (const s of bad.sockets) s.destroy();
    await new Promise<void>((r) => bad.server.close(() => r()));
  });

  const traffic = () => legitimate(`http://127.0.0.1:${port}/record/legit`, { min: 200, max: 5_000, expect: 'ok /record/legit' });
  const reached = (prefix: string) => backend.seen.filter((s) => s.path.startsWith(prefix));

  it('answers a URI too long with 414 whether it overflows the head or only the URI limit', async () => {
    const legit = traffic();
    for (const length of [12 * 1024, 64 * 1024, 200 * 1024]) {
      const got = parse(await exchange(port, `GET /record/long-${length}/${'a'.repeat(length)} HTTP/1.1\r\nHost: x\r\n\r\n`));
      assert.deepEqual([got.status, got.code], [414, 'uri_too_long'], `a ${length}-byte URI`);
    }
    assert.equal(reached('/record/long-').length, 0);
    assertServed(await legit.stop(), 200);
  });

  it('refuses more header fields than the limit with 431, never forwarding a request whose Content-Length was dropped', async () => {
    const legit = traffic();
    const many = 'a:1\r\n'.repeat(2_500);
    const got = parse(await exchange(port, `POST /record/many HTTP/1.1\r\nHost: x\r\n${many}Content-Length: 5\r\n\r\nhello`));
    assert.deepEqual([got.status, got.code], [431, 'headers_too_large']);
    const over = parse(await exchange(port, `GET /record/over HTTP/1.1\r\nHost: x\r\n${'b:2\r\n'.repeat(200)}\r\n`));
    assert.deepEqual([over.status, over.code], [431, 'headers_too_large'], '201 fields');
    assert.equal(reached('/record/many').length + reached('/record/over').length, 0);
    assertServed(await legit.stop(), 200);
  });

  it("sends Host and the proxy's fields before the client's many fields", async () => {
    const fields = Array.from({ length: 150 }, (_, i) => `x-client-${i}: ${i}\r\n`).join('');
    const got = parse(await exchange(port, `GET /record/order HTTP/1.1\r\nHost: x\r\n${fields}Connection: close\r\n\r\n`));
    assert.equal(got.status, 200);
    const [seen] = reached('/record/order');
    const names = seen!.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.equal(names[0], 'host');
    for (const n of ['x-forwarded-for', 'forwarded', 'x-forwarded-proto', 'x-request-id']) assert.ok(names.indexOf(n) < names.indexOf('x-client-0'), `${n} after the client's fields`);
    assert.equal(names.filter((n) => n.startsWith('x-client-')).length, 150);
  });

  it('answers 505 to a request line of another major HTTP version, and 400 to a malformed one', async () => {
    const legit = traffic();
    for (const v of ['HTTP/2.0', 'HTTP/3.0', 'HTTP/0.9']) {
      const got = parse(await exchange(port, `GET /record/version HTTP/${v.slice(5)}\r\nHost: x\r\n\r\n`));
      assert.deepEqual([got.status, got.code], [505, 'http_version_not_supported'], v);
    }
    const malformed = parse(await exchange(port, 'GET /record/version HTTP/1.1\nHost: x\n\n'));
    assert.deepEqual([malformed.status, malformed.code], [400, 'bad_request']);
    assert.equal(reached('/record/version').length, 0);
    assertServed(await legit.stop(), 200);
  });

  it('answers 502 when the first chunk of a response is malformed, rather than cutting the client off', async () => {
    const legit = traffic();
    for (let i = 0; i < 5; i++) {
      const got = parse(await exchange(port, `GET /badchunk/${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      assert.deepEqual([got.status, got.code], [502, 'upstream_error']);
    }
    assertServed(await legit.stop(), 200);
  });

  it("refuses a body over the route's limit with 413: from its Content-Length, before 100 Continue, or as it grows", async () => {
    const legit = traffic();
    const before = charged;
    // Declared too large: refused from the head, nothing read or sent upstream.
    const declared = parse(await exchange(port, `POST /small/declared HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n${'d'.repeat(2000)}`));
    assert.deepEqual([declared.status, declared.code], [413, 'body_too_large']);
    // Expect: 100-continue and too large: the final answer, never a 100, and the body is never sent.
    const expecting = parse(await exchange(port, 'POST /small/expect-big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n'));
    assert.deepEqual([expecting.status, expecting.code, expecting.continued], [413, 'body_too_large', false]);
    // Expect: 100-continue within the limit: 100 Continue, then the body, then the answer.
    const s = await open(port);
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const closed = ended(s);
    s.write('POST /small/expect-ok HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 500\r\nConnection: close\r\n\r\n');
    await until(() => out.length >= 25, '100 Continue');
    assert.equal(out, 'HTTP/1.1 100 Continue\r\n\r\n');
    s.write('e'.repeat(500));
    await closed;
    s.destroy();
    assert.deepEqual([parse(out).status, parse(out).continued], [200, true]);
    // Chunked, over the limit within the buffer: refused before any upstream connection.
    const chunk = `${(1000).toString(16)}\r\n${'c'.repeat(1000)}\r\n`;
    const chunked = parse(await exchange(port, `POST /small/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(5)}0\r\n\r\n`));
    assert.deepEqual([chunked.status, chunked.code], [413, 'body_too_large']);
    // Chunked past the buffer: streamed upstream, then cut at the limit; the upstream never sees it end.
    const big = `${(8192).toString(16)}\r\n${'b'.repeat(8192)}\r\n`;
    const streamed = parse(await exchange(port, `POST /large/streamed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${big.repeat(40)}0\r\n\r\n`));
    assert.deepEqual([streamed.status, streamed.code], [413, 'body_too_large']);
    // At the limit exactly: taken whole.
    const exact = parse(await exchange(port, `POST /large/exact HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n${'x'.repeat(100_000)}`));
    assert.equal(exact.status, 200);
    assert.deepEqual(
      reached('/record/small').map((r) => [r.path, r.complete, r.bytes]),
      [['/record/small/expect-ok', true, 500]],
      'only the body within the limit reached the upstream',
    );
    const large = reached('/record/large');
    assert.ok(large.filter((r) => r.path === '/record/large/streamed').every((r) => !r.complete && r.bytes <= 100_000), 'the streamed body was seen to end upstream');
    assert.deepEqual(
      large.filter((r) => r.path === '/record/large/exact').map((r) => [r.complete, r.bytes]),
      [[true, 100_000]],
    );
    assert.equal(charged - before, 0, "a client's oversized body counted against the backend");
    assertServed(await legit.stop(), 200);
  });

  it("applies a route's per-phase deadlines: body (408), first byte (504), send (the response is cut)", async () => {
    const legit = traffic();
    // Body: half a body, then nothing; the listener's own request deadline is a minute away.
    const s = await open(port);
    let out = '';
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    const closed = ended(s);
    s.write('POST /quick/record/slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhalf');
    await closed;
    s.destroy();
    assert.deepEqual([parse(out).status, parse(out).code], [408, 'request_timeout']);
    // First byte: an upstream that holds its answer.
    backend.state.mode = 'hold';
    const held = parse(await exchange(port, 'GET /quick/toggle/first-byte HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    assert.deepEqual([held.status, held.code], [504, 'upstream_timeout']);
    backend.state.mode = 'ok';
    for (const r of backend.state.held.splice(0)) r.destroy();
    // Send: a client that never reads a large response is cut, and the upstream work stopped.
    const closedBefore = backend.state.bigClosed;
    const reader = await open(port);
    reader.pause();
    reader.write(`GET /quick/big?bytes=${256 * 1024 * 1024} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(() => backend.state.bigClosed > closedBefore, 'the unread response was cut');
    reader.destroy();
    assertServed(await legit.stop(), 200);
    // The circuit is reset for the next test: a held answer's 504 counts against the endpoint.
    ingress.context.breakers.success(key);
  });

  it("serves a backend whose every endpoint's circuit is open (panic), and counts a 503 only where the route says so", async () => {
    const breakers = ingress.context.breakers;
    breakers.success(key);
    backend.state.mode = 'fail';
    for (let i = 0; i < 3; i++) assert.equal(parse(await exchange(port, `GET /toggle/panic-${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).status, 502);
    assert.notEqual(breakers.state(key), 'closed');
    backend.state.mode = 'ok';
    // No cool-down awaited: the only endpoint is tried, and its success closes the circuit.
    assert.equal(parse(await exchange(port, 'GET /toggle/panic-served HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
    assert.equal(breakers.state(key), 'closed');
    // An application's 503 (no Retry-After) counts only on a route annotated for it.
    backend.state.mode = 'busy';
    const before = charged;
    for (let i = 0; i < 5; i++) assert.equal(parse(await exchange(port, `GET /toggle/busy-${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).status, 503);
    assert.equal(charged - before, 0, "a 503 counted on a route that did not ask for it");
    assert.equal(parse(await exchange(port, 'GET /strict/toggle/busy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 503);
    assert.equal(charged - before, 1, 'the annotated route counts it');
    backend.state.mode = 'ok';
    breakers.success(key);
  });

  it('lets the next request probe when the half-open probe is dropped by its client: the circuit never stays open', async () => {
    const breakers = ingress.context.breakers;
    /** Sends requests to the pair (the test backend and a healthy one) until the test backend's circuit is open. */
    const openIt = async () => {
      backend.state.mode = 'fail';
      for (let i = 0; i < 50 && breakers.state(key) === 'closed'; i++) await exchange(port, `GET /pair/toggle/fail-${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.notEqual(breakers.state(key), 'closed');
      backend.state.mode = 'hold';
      await until(() => breakers.state(key) === 'half-open', 'the cool-down ended');
    };
    /** Requests to the pair until the test backend's circuit has closed again (it was probed and answered). */
    const recovered = async (what: string) => {
      backend.state.mode = 'ok';
      for (let i = 0; i < 300 && breakers.state(key) !== 'closed'; i++) {
        assert.equal(parse(await exchange(port, `GET /pair/toggle/after-${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).status, 200);
        await pause(10);
      }
      assert.equal(breakers.state(key), 'closed', `${what}: the circuit stayed open, the other endpoint took every request`);
    };
    // The probe is taken upstream and held there, then its client resets.
    await openIt();
    let probe: Socket | undefined;
    for (let i = 0; i < 50 && probe === undefined; i++) {
      const s = await open(port);
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString('latin1')));
      s.write(`GET /pair/toggle/probe-${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
      await until(() => out.length > 0 || backend.state.held.length > 0, 'an answer, or the probe held');
      if (backend.state.held.length > 0) probe = s;
      else s.destroy();
    }
    assert.ok(probe, 'no request probed the half-open circuit');
    probe.resetAndDestroy();
    await until(() => backend.state.held.every((r) => r.destroyed), 'the held probe was aborted');
    backend.state.held.length = 0;
    await recovered('a probe reset while upstream');
    // Probes whose clients go away before their bodies are read: they never go upstream.
    await openIt();
    for (let i = 0; i < 4; i++) {
      const s = await open(port);
      s.write(`POST /pair/toggle/unsent-${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nsome`);
      await pause(30);
      s.resetAndDestroy();
    }
    await recovered('a probe dropped before its body was read');
    for (const r of backend.state.held.splice(0)) r.destroy();
  });
});

describe('ingress upstream queue deadline', GUARD, () => {
  let backend: Awaited<ReturnType<typeof testBackend>>;
  let other: Awaited<ReturnType<typeof testBackend>>;
  let ingress: Ingress;
  let port = 0;

  before(async () => {
    backend = await testBackend();
    other = await testBackend();
    const yaml = yamlStream(
      gatewayYaml({ name: 'gw', namespace: 't' }),
      httpRouteYaml({ name: 'r', namespace: 't', gateway: 'gw', rules: [prefixRule('/toggle', 'app'), prefixRule('/record', 'other')] }),
      backendYaml('app', 't', backend.port),
      backendYaml('other', 't', other.port),
    );
    const { set, problems } = parseManifests(yaml, 'queue');
    assert.deepEqual(problems, []);
    ingress = createIngress({
      bind: () => [{ host: '127.0.0.1', port: 0 }],
      drainMs: 100,
      maxSocketsPerEndpoint: 2,
      circuit: { failureThreshold: 1, openMs: 60_000 },
      limits: { queueTimeoutMs: 300 },
    });
    await ingress.apply(compile(set));
    port = ingress.address('t/gw', 80)!.port;
  });
  after(async () => {
    await ingress.close();
    await backend.close();
    await other.close();
  });

  it("answers 503 backend_busy to a request that waited past the queue deadline for the endpoint's connections, without blaming the endpoint", async () => {
    const legit = legitimate(`http://127.0.0.1:${port}/record/legit`, { min: 100, max: 5_000, expect: 'ok /record/legit' });
    backend.state.mode = 'hold';
    // Both connections held upstream.
    const holders = await Promise.all([0, 1].map(() => open(port)));
    for (const [i, s] of holders.entries()) s.write(`GET /toggle/hold-${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(() => backend.state.held.length === 2, 'both connections taken');
    for (let i = 0; i < 3; i++) {
      const got = parse(await exchange(port, `GET /toggle/queued-${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
      assert.deepEqual([got.status, got.code], [503, 'backend_busy']);
    }
    assert.equal(backend.seen.filter((s) => s.path.startsWith('/toggle/queued-')).length, 0, 'a request that gave up waiting was sent');
    // The failure threshold is 1: any blame would have opened the circuit.
    const key = `127.0.0.1:${backend.port}`;
    assert.equal(ingress.context.breakers.state(key), 'closed');
    backend.state.mode = 'ok';
    for (const r of backend.state.held.splice(0)) r.end('released');
    for (const s of holders) s.destroy();
    assert.equal(parse(await exchange(port, 'GET /toggle/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status, 200);
    assertServed(await legit.stop(), 100);
  });
});
