import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from './compile.js';
import { matchRequest } from './match.js';
import type { ResourceSet } from './resources.js';
import { gateway, request, resources, route, service, to } from './fixtures.test-support.js';

function winner(set: ResourceSet, req: ReturnType<typeof request>, port = 80): string | undefined {
  const { gateways } = compile(set);
  const table = gateways[0]!.ports.get(port)!;
  const c = matchRequest(table.hosts, req);
  return c && `${c.routeKey}#${c.ruleIndex}`;
}

const services = ['a', 'b', 'c', 'd'].map((n) => service(n));

describe('HTTPRoute precedence (HTTPRouteRule docs)', () => {
  const gw = gateway('gw', [{ allowedRoutes: { namespaces: { from: 'All' } } }]);

  it('prefers an exact path over any prefix, and the longest prefix among prefixes', () => {
    const set = resources({
      gateways: [gw],
      services,
      routes: [
        route('r', [
          { matches: [{ path: { type: 'PathPrefix', value: '/' } }], ...to('a') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api' } }], ...to('b') },
          { matches: [{ path: { type: 'Exact', value: '/api/v1' } }], ...to('c') },
          { matches: [{ path: { type: 'PathPrefix', value: '/api/v1/' } }], ...to('d') },
        ]),
      ],
    });
    assert.equal(winner(set, request('/api/v1')), 'infra/r#2');
    assert.equal(winner(set, request('/api/v1/x')), 'infra/r#3');
    assert.equal(winner(set, request('/api/v2')), 'infra/r#1');
    assert.equal(winner(set, request('/apix')), 'infra/r#0');
  });

  it('matches PathPrefix on segment boundaries and ignores a trailing slash', () => {
    const set = resources({ gateways: [gw], services, routes: [route('r', [{ matches: [{ path: { type: 'PathPrefix', value: '/foo/' } }], ...to('a') }])] });
    assert.equal(winner(set, request('/foo')), 'infra/r#0');
    assert.equal(winner(set, request('/foo/bar')), 'infra/r#0');
    assert.equal(winner(set, request('/foobar')), undefined);
  });

  it('orders same-path rules by method, then header count, then query count', () => {
    const p = { type: 'PathPrefix' as const, value: '/x' };
    const set = resources({
      gateways: [gw],
      services,
      routes: [
        route('r', [
          { matches: [{ path: p, queryParams: [{ name: 'q', value: '1' }] }], ...to('a') },
          { matches: [{ path: p, headers: [{ name: 'h1', value: '1' }, { name: 'h2', value: '2' }] }], ...to('b') },
          { matches: [{ path: p, method: 'POST' }], ...to('c') },
          { matches: [{ path: p, headers: [{ name: 'h1', value: '1' }] }], ...to('d') },
        ]),
      ],
    });
    assert.equal(winner(set, request('/x', { method: 'POST', headers: { h1: '1', h2: '2' }, query: 'q=1' })), 'infra/r#2');
    assert.equal(winner(set, request('/x', { headers: { h1: '1', h2: '2' }, query: 'q=1' })), 'infra/r#1');
    assert.equal(winner(set, request('/x', { headers: { h1: '1' }, query: 'q=1' })), 'infra/r#3');
    assert.equal(winner(set, request('/x', { query: 'q=1' })), 'infra/r#0');
    assert.equal(winner(set, request('/x')), undefined);
  });

  it('breaks remaining ties by the oldest route, then namespace/name, then rule order', () => {
    const rule = { matches: [{ path: { type: 'PathPrefix' as const, value: '/t' } }], ...to('a') };
    const older = route('zzz', [rule], { created: '2024-01-01T00:00:00Z' });
    const newer = route('aaa', [rule], { created: '2025-01-01T00:00:00Z' });
    assert.equal(winner(resources({ gateways: [gw], services, routes: [newer, older] }), request('/t')), 'infra/zzz#0');
    const same = (n: string, ns: string) => route(n, [rule, rule], { created: '2024-01-01T00:00:00Z', namespace: ns });
    assert.equal(winner(resources({ gateways: [gw], services, routes: [same('b', 'infra'), same('a', 'other')] }), request('/t')), 'infra/b#0');
  });

  it('prefers an exact hostname over a wildcard, and a longer wildcard over a shorter one', () => {
    const r = (name: string, hostnames: string[]) => route(name, [to('a')], { hostnames });
    const set = resources({ gateways: [gw], services, routes: [r('any', ['*.com']), r('wild', ['*.example.com']), r('exact', ['foo.example.com'])] });
    assert.equal(winner(set, request('/', { host: 'foo.example.com' })), 'infra/exact#0');
    assert.equal(winner(set, request('/', { host: 'bar.example.com' })), 'infra/wild#0');
    assert.equal(winner(set, request('/', { host: 'a.b.example.com' })), 'infra/wild#0');
    assert.equal(winner(set, request('/', { host: 'example.com' })), 'infra/any#0');
    assert.equal(winner(set, request('/', { host: 'example.org' })), undefined);
  });

  it('falls back to a less specific hostname when the specific one has no matching rule', () => {
    const set = resources({
      gateways: [gw],
      services,
      routes: [
        route('exact', [{ matches: [{ path: { type: 'Exact', value: '/only' } }], ...to('a') }], { hostnames: ['foo.example.com'] }),
        route('all', [to('b')]),
      ],
    });
    assert.equal(winner(set, request('/other', { host: 'foo.example.com' })), 'infra/all#0');
  });

  it('matches regular expressions on the whole path, header values and query values', () => {
    const set = resources({
      gateways: [gw],
      services,
      routes: [
        route('r', [
          { matches: [{ path: { type: 'RegularExpression', value: '/t/[0-9]+' } }], ...to('a') },
          { matches: [{ path: { type: 'PathPrefix', value: '/h' }, headers: [{ type: 'RegularExpression', name: 'X-V', value: 'v[12]' }] }], ...to('b') },
          { matches: [{ path: { type: 'PathPrefix', value: '/q' }, queryParams: [{ type: 'RegularExpression', name: 'id', value: 'a.c' }] }], ...to('c') },
        ]),
      ],
    });
    assert.equal(winner(set, request('/t/123')), 'infra/r#0');
    assert.equal(winner(set, request('/t/123x')), undefined);
    assert.equal(winner(set, request('/h', { headers: { 'x-v': 'v2' } })), 'infra/r#1');
    assert.equal(winner(set, request('/h', { headers: { 'x-v': 'v3' } })), undefined);
    assert.equal(winner(set, request('/q', { query: 'id=a%20c&id=zzz' })), 'infra/r#2');
  });
});

describe('route attachment and status (RouteConditionReason)', () => {
  const parentOf = (set: ResourceSet, name: string) => compile(set).status.routes.get(`infra/${name}`)?.parents[0];
  const reasonOf = (set: ResourceSet, name: string, type: string) => parentOf(set, name)?.conditions.find((c) => c.type === type);

  it('rejects a route from another namespace on a From: Same listener with NotAllowedByListeners', () => {
    const set = resources({ gateways: [gateway('gw', [{}])], services, routes: [route('r', [to('a')], { namespace: 'infra' }), { ...route('x', [to('a')]), metadata: { name: 'x', namespace: 'web' } }] });
    const st = compile(set).status.routes;
    assert.equal(st.get('infra/r')!.parents[0]!.conditions[0]!.status, 'True');
    assert.equal(st.get('web/x')!.parents[0]!.conditions[0]!.reason, 'NotAllowedByListeners');
  });

  it('admits namespaces by label selector', () => {
    const gw = gateway('gw', [{ allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'web' } } } } }]);
    const ns = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace' as const, metadata: { name, labels } });
    const r = (n: string, namespace: string) => route(n, [to('a', { namespace: 'infra' })], { namespace });
    const st = compile(resources({ gateways: [gw], services, namespaces: [ns('web', { team: 'web' }), ns('api', { team: 'api' })], routes: [r('r1', 'web'), r('r2', 'api')] })).status.routes;
    assert.equal(st.get('web/r1')!.parents[0]!.conditions[0]!.status, 'True');
    assert.equal(st.get('api/r2')!.parents[0]!.conditions[0]!.reason, 'NotAllowedByListeners');
  });

  it('reports NoMatchingParent for a sectionName or port no listener has', () => {
    const set = resources({ gateways: [gateway('gw', [{ name: 'http' }])], services, routes: [route('s', [to('a')], { sectionName: 'nope' }), route('p', [to('a')], { port: 81 })] });
    assert.equal(reasonOf(set, 's', 'Accepted')?.reason, 'NoMatchingParent');
    assert.equal(reasonOf(set, 'p', 'Accepted')?.reason, 'NoMatchingParent');
  });

  it('reports NoMatchingListenerHostname when hostnames do not intersect', () => {
    const set = resources({ gateways: [gateway('gw', [{ hostname: 'a.example.com' }])], services, routes: [route('r', [to('a')], { hostnames: ['b.example.com'] })] });
    assert.equal(reasonOf(set, 'r', 'Accepted')?.reason, 'NoMatchingListenerHostname');
  });

  it('rejects HTTPRoutes on a listener that allows other kinds only', () => {
    const set = resources({ gateways: [gateway('gw', [{ protocol: 'TLS', port: 443, allowedRoutes: { kinds: [{ kind: 'TLSRoute' }] } }])], services, routes: [route('r', [to('a')])] });
    assert.equal(reasonOf(set, 'r', 'Accepted')?.reason, 'NotAllowedByListeners');
  });

  it('reports BackendNotFound, InvalidKind and RefNotPermitted, and accepts a ReferenceGrant', () => {
    const gw = gateway('gw', [{}]);
    const grant = {
      apiVersion: 'gateway.networking.k8s.io/v1beta1',
      kind: 'ReferenceGrant' as const,
      metadata: { name: 'g', namespace: 'web' },
      spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'infra' }], to: [{ group: '', kind: 'Service', name: 'ok' }] },
    };
    const set = resources({
      gateways: [gw],
      services: [...services, service('ok', 'web'), service('denied', 'web')],
      grants: [grant],
      routes: [
        route('missing', [to('nope')]),
        route('kind', [to('a', { kind: 'Pod' })]),
        route('cross', [to('denied', { namespace: 'web' })]),
        route('granted', [to('ok', { namespace: 'web' })]),
      ],
    });
    assert.equal(reasonOf(set, 'missing', 'ResolvedRefs')?.reason, 'BackendNotFound');
    assert.equal(reasonOf(set, 'kind', 'ResolvedRefs')?.reason, 'InvalidKind');
    assert.equal(reasonOf(set, 'cross', 'ResolvedRefs')?.reason, 'RefNotPermitted');
    assert.equal(reasonOf(set, 'granted', 'ResolvedRefs')?.status, 'True');
    assert.equal(reasonOf(set, 'cross', 'Accepted')?.status, 'True');
  });

  it('rejects an invalid regular expression or an unsupported filter with UnsupportedValue and never throws', () => {
    const set = resources({
      gateways: [gateway('gw', [{}])],
      services,
      routes: [
        route('re', [{ matches: [{ path: { type: 'RegularExpression', value: '/(' } }], ...to('a') }]),
        route('f', [{ filters: [{ type: 'CORS' }], ...to('a') }]),
      ],
    });
    assert.equal(reasonOf(set, 're', 'Accepted')?.reason, 'UnsupportedValue');
    assert.equal(reasonOf(set, 'f', 'Accepted')?.reason, 'UnsupportedValue');
    assert.equal(matchRequest(compile(set).gateways[0]!.ports.get(80)!.hosts, request('/')), undefined);
  });

  it('compiles the body-limit, deadlines and circuit-counts-503 annotations, and rejects invalid values with UnsupportedValue', () => {
    const annotated = (name: string, annotations: Record<string, string>) => {
      const r = route(name, [{ matches: [{ path: { type: 'PathPrefix', value: `/${name}` } }], ...to('a') }]);
      return { ...r, metadata: { ...r.metadata, annotations } };
    };
    const set = resources({
      gateways: [gateway('gw', [{}])],
      services,
      routes: [
        annotated('ok', {
          'ingress.zenokube.io/max-request-body-bytes': '1048576',
          'ingress.zenokube.io/deadlines': 'body=30s, first-byte=1500ms, idle=1m, send=2m',
          'ingress.zenokube.io/circuit-counts-503': 'true',
        }),
        annotated('size', { 'ingress.zenokube.io/max-request-body-bytes': '1MB' }),
        annotated('phase', { 'ingress.zenokube.io/deadlines': 'connect=1s' }),
        annotated('duration', { 'ingress.zenokube.io/deadlines': 'idle=soon' }),
      ],
    });
    const hosts = compile(set).gateways[0]!.ports.get(80)!.hosts;
    const rule = matchRequest(hosts, request('/ok'))!.rule;
    assert.equal(rule.maxBodyBytes, 1_048_576);
    assert.deepEqual(rule.deadlines, { body: 30_000, firstByte: 1_500, idle: 60_000, send: 120_000 });
    assert.equal(rule.circuitCounts503, true);
    for (const name of ['size', 'phase', 'duration']) assert.equal(reasonOf(set, name, 'Accepted')?.reason, 'UnsupportedValue', name);
    assert.equal(reasonOf(set, 'ok', 'Accepted')?.reason, 'Accepted');
  });

  it('marks conflicting listeners as not programmed and counts attached routes', () => {
    const set = resources({ gateways: [gateway('gw', [{ name: 'a' }, { name: 'b' }, { name: 'c', port: 81 }])], services, routes: [route('r', [to('a')])] });
    const gs = compile(set).status.gateways.get('infra/gw')!;
    const programmed = gs.listeners.map((l) => l.conditions.find((c) => c.type === 'Programmed')!.status);
    assert.deepEqual(programmed, ['False', 'False', 'True']);
    assert.deepEqual(gs.listeners.map((l) => l.attachedRoutes), [1, 1, 1]);
  });
});
