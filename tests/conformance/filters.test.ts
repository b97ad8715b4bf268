// Gateway API conformance, filters: header modifiers, redirects, rewrites, mirrors, weights and
// timeouts. Each describe mirrors the upstream test of the same name (v1.2.1, plus v1.6.1 additions).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Conformance } from './harness.js';
import { got, setup } from './harness.js';

function suite(name: string, files: string[], body: (c: () => Conformance) => void, opts: Parameters<typeof setup>[1] = {}): void {
  describe(name, () => {
    let c: Conformance;
    before(async () => (c = await setup(files, opts)));
    after(() => c.close());
    body(() => c);
  });
}

/** Deterministic PRNG (mulberry32) so weighted choices are reproducible. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

suite('HTTPRouteRequestHeaderModifier', ['v1.2.1/tests/httproute-request-header-modifier.yaml'], (c) => {
  const gw = 'same-namespace';
  it('sets, overwriting any value the client sent', async () => {
    assert.equal(got(await c().send(gw, { path: '/set', headers: { 'Some-Other-Header': 'val' } }), 'x-header-set'), 'set-overwrites-values');
    assert.equal(got(await c().send(gw, { path: '/set', headers: { 'X-Header-Set': 'some-other-value' } }), 'x-header-set'), 'set-overwrites-values');
  });
  it('adds, appending to an existing value', async () => {
    assert.equal(got(await c().send(gw, { path: '/add', headers: { 'Some-Other-Header': 'val' } }), 'x-header-add'), 'add-appends-values');
    assert.equal(got(await c().send(gw, { path: '/add', headers: { 'X-Header-Add': 'some-other-value' } }), 'x-header-add'), 'some-other-value,add-appends-values');
  });
  it('removes, and combines set, add and remove case-insensitively', async () => {
    const r = await c().send(gw, { path: '/remove', headers: { 'X-Header-Remove': 'val' } });
    assert.equal(r.status, 200);
    assert.equal(got(r, 'x-header-remove'), undefined);
    const m = await c().send(gw, { path: '/multiple', headers: { 'X-Header-Set-2': 'set-val-2', 'X-Header-Add-2': 'add-val-2', 'X-Header-Remove-2': 'remove-val-2', Another: 'x' } });
    assert.equal(got(m, 'x-header-set-1'), 'header-set-1');
    assert.equal(got(m, 'x-header-set-2'), 'header-set-2');
    assert.equal(got(m, 'x-header-add-1'), 'header-add-1');
    assert.equal(got(m, 'x-header-add-2'), 'add-val-2,header-add-2');
    assert.equal(got(m, 'x-header-add-3'), 'header-add-3');
    assert.equal(got(m, 'x-header-remove-2'), undefined);
    assert.equal(got(m, 'another'), 'x');
    const ci = await c().send(gw, { path: '/case-insensitivity', headers: { 'x-header-set': 'original-val-set', 'x-header-add': 'original-val-add', 'x-header-remove': 'x' } });
    assert.equal(got(ci, 'x-header-set'), 'header-set');
    assert.equal(got(ci, 'x-header-add'), 'original-val-add,header-add');
    assert.equal(got(ci, 'x-header-remove'), undefined);
  });
});

suite('HTTPRouteResponseHeaderModifier', ['v1.2.1/tests/httproute-response-header-modifier.yaml'], (c) => {
  const gw = 'same-namespace';
  it('sets, adds and removes response headers', async () => {
    const set = await c().send(gw, { path: '/set', headers: { 'X-Echo-Set-Header': 'X-Header-Set:some-other-value' } });
    assert.equal(set.headers['x-header-set'], 'set-overwrites-values');
    const add = await c().send(gw, { path: '/add', headers: { 'X-Echo-Set-Header': 'X-Header-Add:add-value' } });
    assert.equal(add.headers['x-header-add'], 'add-value,add-appends-values');
    const rm = await c().send(gw, { path: '/remove', headers: { 'X-Echo-Set-Header': 'X-Header-Remove:val' } });
    assert.equal(rm.headers['x-header-remove'], undefined);
    const ci = await c().send(gw, { path: '/case-insensitivity', headers: { 'X-Echo-Set-Header': 'x-header-set:original,x-header-add:original' } });
    assert.equal(ci.headers['x-header-set'], 'header-set');
    assert.equal(ci.headers['x-header-add'], 'original,header-add');
    assert.equal(ci.headers['x-uppercase-add'], 'uppercase-add');
    assert.equal(ci.headers['x-mixedcase-add-1'], 'mixedcase-add-1');
  });
  it('applies request and response modifiers of one rule together', async () => {
    const r = await c().send(gw, { path: '/response-and-request-header-modifiers', headers: { 'X-Header-Remove': 'x', 'X-Header-Add-Append': 'a', 'X-Echo-Set-Header': 'X-Header-Remove-1:x' } });
    assert.equal(got(r, 'x-header-set'), 'set-overwrites-values');
    assert.equal(got(r, 'x-header-add'), 'header-val-1');
    assert.equal(got(r, 'x-header-add-append'), 'a,header-val-2');
    assert.equal(got(r, 'x-header-remove'), undefined);
    assert.equal(r.headers['x-header-set-1'], 'header-set-1');
    assert.equal(r.headers['x-header-remove-1'], undefined);
  });
});

const redirects: [string, string[], [string, number, string][]][] = [
  ['HTTPRouteRedirectHostAndStatus', ['v1.2.1/tests/httproute-redirect-host-and-status.yaml'], [
    ['/hostname-redirect', 302, 'http://example.org/hostname-redirect'],
    ['/host-and-status', 301, 'http://example.org/host-and-status'],
  ]],
  ['HTTPRouteRedirectPath', ['v1.2.1/tests/httproute-redirect-path.yaml'], [
    ['/original-prefix/lemon', 302, 'http://example.com/replacement-prefix/lemon'],
    ['/full/path/original', 302, 'http://example.com/full-path-replacement'],
    ['/path-and-host', 302, 'http://example.org/replacement-prefix'],
    ['/path-and-status', 301, 'http://example.com/replacement-prefix'],
    ['/full-path-and-host', 302, 'http://example.org/replacement-full'],
    ['/full-path-and-status', 301, 'http://example.com/replacement-full'],
    ['/original-prefix/lemon?fruit=yes', 302, 'http://example.com/replacement-prefix/lemon?fruit=yes'],
  ]],
  ['HTTPRouteRedirectPort', ['v1.2.1/tests/httproute-redirect-port.yaml'], [
    ['/port', 302, 'http://example.com:8083/port'],
    ['/port-and-host', 302, 'http://example.org:8083/port-and-host'],
    ['/port-and-status', 301, 'http://example.com:8083/port-and-status'],
    ['/port-and-host-and-status', 302, 'http://example.org:8083/port-and-host-and-status'],
  ]],
  ['HTTPRouteRedirectScheme', ['v1.2.1/tests/httproute-redirect-scheme.yaml'], [
    ['/scheme', 302, 'https://example.com/scheme'],
    ['/scheme-and-host', 302, 'https://example.org/scheme-and-host'],
    ['/scheme-and-status', 301, 'https://example.com/scheme-and-status'],
    ['/scheme-and-host-and-status', 302, 'https://example.org/scheme-and-host-and-status'],
  ]],
  ['HTTPRoute303Redirect (v1.6.1)', ['v1.6.1/httproute-303-redirect.yaml'], [['/see-other', 303, 'http://example.com/see-other']]],
  ['HTTPRoute307Redirect (v1.6.1)', ['v1.6.1/httproute-307-redirect.yaml'], [['/temporary', 307, 'http://example.com/temporary']]],
  ['HTTPRoute308Redirect (v1.6.1)', ['v1.6.1/httproute-308-redirect.yaml'], [['/permanent', 308, 'http://example.com/permanent']]],
];

for (const [name, files, cases] of redirects) {
  suite(name, files, (c) => {
    it('answers with the status and Location upstream expects, without calling a backend', async () => {
      for (const [path, status, location] of cases) {
        const r = await c().send('same-namespace', { path });
        assert.equal(r.status, status, path);
        assert.equal(r.headers.location, location, path);
      }
      const hits = [...c().backends.values()].reduce((n, b) => n + b.received.length, 0);
      assert.equal(hits, 0);
    });
  });
}

suite('HTTPRouteRewriteHost', ['v1.2.1/tests/httproute-rewrite-host.yaml'], (c) => {
  it('rewrites the Host header sent upstream', async () => {
    const one = await c().send('same-namespace', { host: 'rewrite.example', path: '/one' });
    assert.equal(one.echo?.service, 'infra-backend-v1');
    assert.equal(one.echo?.host, 'one.example.org');
    const other = await c().send('same-namespace', { host: 'rewrite.example', path: '/' });
    assert.equal(other.echo?.service, 'infra-backend-v2');
    assert.equal(other.echo?.host, 'example.org');
    const mod = await c().send('same-namespace', { host: 'rewrite.example', path: '/rewrite-host-and-modify-headers', headers: { 'X-Header-Remove': 'x' } });
    assert.equal(mod.echo?.host, 'test.example.org');
    assert.equal(got(mod, 'x-header-set'), 'set-overwrites-values');
    assert.equal(got(mod, 'x-header-remove'), undefined);
  });
});

suite('HTTPRouteRewritePath', ['v1.2.1/tests/httproute-rewrite-path.yaml'], (c) => {
  it('replaces the matched prefix or the full path', async () => {
    const cases: [string, string][] = [
      ['/prefix/one/two', '/one/two'],
      ['/prefix/one', '/one'],
      ['/strip-prefix/three', '/three'],
      ['/strip-prefix', '/'],
      ['/full/one/two', '/one'],
      ['/full/rewrite-path-and-modify-headers/test', '/test'],
      ['/prefix/rewrite-path-and-modify-headers/one', '/prefix/one'],
      ['/prefix/one/two?q=1', '/one/two?q=1'],
    ];
    for (const [from, to] of cases) assert.equal((await c().send('same-namespace', { path: from })).echo?.path, to, from);
  });
});

suite('HTTPRouteRequestMirror', ['v1.2.1/tests/httproute-request-mirror.yaml'], (c) => {
  it('serves from the backend and sends a copy to the mirror, ignoring its response', async () => {
    const r = await c().send('same-namespace', { path: '/mirror', headers: { 'X-Probe': 'm1' } });
    assert.equal(r.echo?.service, 'infra-backend-v1');
    const mirror = c().backends.get('gateway-conformance-infra/infra-backend-v2')!;
    for (let i = 0; i < 100 && !mirror.received.some((x) => x.headers['x-probe']?.[0] === 'm1'); i++) await new Promise((res) => setTimeout(res, 10));
    const copy = mirror.received.find((x) => x.headers['x-probe']?.[0] === 'm1');
    assert.ok(copy, 'the mirror received the request');
    assert.equal(copy.path, '/mirror');
  });
});

suite('HTTPRouteRequestPercentageMirror (v1.6.1)', ['v1.6.1/httproute-request-percentage-mirror.yaml'], (c) => {
  it('mirrors about the configured share of requests', async () => {
    const mirror = c().backends.get('gateway-conformance-infra/infra-backend-v2')!;
    const before = mirror.received.length;
    for (let i = 0; i < 100; i++) await c().send('same-namespace', { path: '/percent-mirror' });
    await new Promise((res) => setTimeout(res, 100));
    const mirrored = mirror.received.length - before;
    // 20% with a seeded PRNG over 100 requests: a wide band, yet far from 0 and from 100.
    assert.ok(mirrored > 5 && mirrored < 40, `mirrored ${mirrored}`);
  });
}, { random: seeded(7) });

suite('HTTPRouteWeight', ['v1.2.1/tests/httproute-weight.yaml'], (c) => {
  it('splits traffic by weight and never sends to a weight-0 backend', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const r = await c().send('same-namespace', { path: '/' });
      counts[r.echo!.service] = (counts[r.echo!.service] ?? 0) + 1;
    }
    assert.equal(counts['infra-backend-v3'], undefined);
    const share = (counts['infra-backend-v1'] ?? 0) / 300;
    assert.ok(share > 0.6 && share < 0.8, `v1 share ${share}`);
  });
}, { random: seeded(42) });

suite('HTTPRouteTimeoutRequest', ['v1.2.1/tests/httproute-timeout-request.yaml'], (c) => {
  it('answers 504 when the whole request takes longer than timeouts.request', async () => {
    const r = await c().send('same-namespace', { path: '/request-timeout?delay=1000' });
    assert.equal(r.status, 504);
    assert.equal(r.headers['x-zeno-ingress'], 'request_timeout');
  });
  it('waits when the timeout is 0s (disabled)', async () => {
    assert.equal((await c().send('same-namespace', { path: '/disable-request-timeout?delay=700' })).status, 200);
  });
});

suite('HTTPRouteTimeoutBackendRequest', ['v1.2.1/tests/httproute-timeout-backend-request.yaml'], (c) => {
  it('answers 504 when the backend takes longer than timeouts.backendRequest', async () => {
    const r = await c().send('same-namespace', { path: '/backend-timeout?delay=1000' });
    assert.equal(r.status, 504);
    assert.equal(r.headers['x-zeno-ingress'], 'upstream_timeout');
  });
  it('waits when the timeout is 0s (disabled)', async () => {
    assert.equal((await c().send('same-namespace', { path: '/disable-backend-timeout?delay=700' })).status, 200);
  });
});

suite('HTTPRouteRequestHeaderModifierBackend', ['v1.2.1/tests/httproute-request-header-modifier-backend.yaml'], (c) => {
  const gw = 'same-namespace';
  it('applies a backendRef-level RequestHeaderModifier', async () => {
    assert.equal(got(await c().send(gw, { path: '/set', headers: { 'X-Header-Set': 'some-other-value' } }), 'x-header-set'), 'set-overwrites-values');
    assert.equal(got(await c().send(gw, { path: '/add', headers: { 'X-Header-Add': 'some-other-value' } }), 'x-header-add'), 'some-other-value,add-appends-values');
    assert.equal(got(await c().send(gw, { path: '/remove', headers: { 'X-Header-Remove': 'val' } }), 'x-header-remove'), undefined);
    const m = await c().send(gw, { path: '/multiple', headers: { 'X-Header-Remove-1': 'x', 'X-Header-Add-3': 'a' } });
    assert.equal(got(m, 'x-header-set-1'), 'header-set-1');
    assert.equal(got(m, 'x-header-add-3'), 'a,header-add-3');
    assert.equal(got(m, 'x-header-remove-1'), undefined);
  });
});

suite('HTTPRouteMultipleGateways (v1.6.1)', ['v1.6.1/httproute-multiple-gateways.yaml'], (c) => {
  it('serves a route shared by two gateways on both, next to each gateway dedicated route', async () => {
    assert.equal((await c().send('same-namespace', { path: '/shared' })).echo?.service, 'infra-backend-v1');
    assert.equal((await c().send('all-namespaces', { path: '/shared' })).echo?.service, 'infra-backend-v1');
    assert.equal((await c().send('same-namespace', { path: '/other' })).echo?.service, 'infra-backend-v2');
    assert.equal((await c().send('all-namespaces', { path: '/other' })).echo?.service, 'infra-backend-v3');
  });
});
