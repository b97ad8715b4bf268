// The routing engine's match cost with 10 and 10,000 routes, in process: ns per match and the
// ratio, on a mix of exact-host, wildcard-host, prefix, exact and header matches.
import type { HTTPRoute, MatchRequest, ResourceSet } from '#functions/ingress/index';
import { compile, emptyResourceSet, matchRequest } from '#functions/ingress/index';

function buildSet(routes: number): ResourceSet {
  const set = emptyResourceSet();
  set.gateways.push({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: { name: 'gw', namespace: 'b' }, spec: { gatewayClassName: 'z', listeners: [{ name: 'h', port: 80, protocol: 'HTTP' }] } });
  set.services.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'b' }, spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] } });
  for (let i = 0; i < routes; i++) {
    const route: HTTPRoute = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: `r${i}`, namespace: 'b' },
      spec: {
        parentRefs: [{ name: 'gw' }],
        hostnames: [i % 4 === 0 ? `*.w${i}.example.com` : `h${i}.example.com`],
        rules: [
          { matches: [{ path: { type: 'Exact', value: `/svc${i}/health` } }], backendRefs: [{ name: 's', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: `/svc${i}/api` }, headers: [{ name: 'x-tenant', value: 't1' }] }], backendRefs: [{ name: 's', port: 80 }] },
          { matches: [{ path: { type: 'PathPrefix', value: `/svc${i}` } }], backendRefs: [{ name: 's', port: 80 }] },
        ],
      },
    };
    set.routes.push(route);
  }
  return set;
}

/** `spread` routes are drawn from: all of them, or a small hot set (isolates cache misses). */
function requests(routes: number, n: number, spread = routes): MatchRequest[] {
  const headers: Record<string, string> = { 'x-tenant': 't1' };
  const out: MatchRequest[] = [];
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < n; k++) {
    const i = Math.floor(rnd() * Math.min(spread, routes)) * Math.floor(routes / Math.min(spread, routes));
    const host = i % 4 === 0 ? `a.w${i}.example.com` : `h${i}.example.com`;
    const kind = k % 3;
    const path = kind === 0 ? `/svc${i}/health` : kind === 1 ? `/svc${i}/api/items/42` : `/svc${i}/other/page`;
    out.push({ host, path, query: '', method: 'GET', header: (name) => headers[name] });
  }
  return out;
}

function nsPerMatch(routes: number, spread = routes): number {
  const { gateways } = compile(buildSet(routes));
  const hosts = gateways[0]!.ports.get(80)!.hosts;
  const reqs = requests(routes, 4096, spread);
  for (let i = 0; i < 50_000; i++) matchRequest(hosts, reqs[i & 4095]!); // warm-up
  const n = 400_000;
  let misses = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (!matchRequest(hosts, reqs[i & 4095]!)) misses++;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  if (misses > 0) throw new Error(`benchmark requests must all match (${misses} missed)`);
  return ns;
}

export function routingCost(): string[] {
  const small = nsPerMatch(10);
  const large = nsPerMatch(10_000);
  const again = nsPerMatch(10);
  const base = Math.min(small, again);
  // Requests spread over 8 of the routes only: the same work per match, without the cache
  // misses of touching 10,000 routes' tables at random.
  const hotSmall = nsPerMatch(10, 8);
  const hotLarge = nsPerMatch(10_000, 8);
  return [
    `routing match, 10 routes: ${base.toFixed(0)} ns/match (two runs: ${small.toFixed(0)}, ${again.toFixed(0)})`,
    `routing match, 10,000 routes, requests spread over all routes: ${large.toFixed(0)} ns/match`,
    `routing cost ratio 10,000 vs 10 routes, spread over all: ${(large / base).toFixed(2)} (includes CPU cache misses over a 10,000-route table)`,
    `routing cost ratio 10,000 vs 10 routes, 8 hot routes: ${(hotLarge / hotSmall).toFixed(2)} (${hotSmall.toFixed(0)} vs ${hotLarge.toFixed(0)} ns/match; flat is ~1)`,
  ];
}
