// The local gateway built from the project's own declarations: every declared route reaches its
// function's Service, and the Service's EndpointSlice resolves to where this process serves it.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Endpoint, HostTable } from '#functions/ingress/index';
import { matchRequest } from '#functions/ingress/index';
import { HTTP_LISTENER_PORT } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import type { FunctionDeclaration, RouteDeclaration } from '#shared/function/define';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import { compileLocal, localResources, LOCAL_OPTIONS, SERVICE_PORT, STACK_BACKEND } from './local-gateway.js';

/**
 * A path the route matches: its own path, or for a regular expression the path with `[^/]+` as
 * `acme`, optional groups left out and each group's first alternative (checked against the route).
 */
function samplePath(route: RouteDeclaration): string {
  if (route.match !== 'RegularExpression') return route.path;
  let path = route.path.replace(/\([^()]*\)\?/g, '').replace(/\[\^\/\]\+/g, 'acme');
  while (/\([^()]*\)/.test(path)) path = path.replace(/\(([^()|]*)(\|[^()]*)?\)/g, '$1');
  path = path.replace(/\\(.)/g, '$1');
  assert.ok(new RegExp(`^${route.path}$`).test(path), `no sample path for ${route.path} (tried ${path})`);
  return path;
}

describe('the local gateway (Gateway, generated HTTPRoutes, Services and EndpointSlices)', () => {
  let declarations: FunctionDeclaration[];
  let hosts: HostTable;
  const endpoints = new Map<string, Endpoint>();
  const backend = (path: string, method = 'GET') =>
    matchRequest(hosts, { host: 'localhost', path, query: '', method, header: () => undefined })?.rule.backends[0];

  before(async () => {
    declarations = await discoverFunctions(functionsDir(projectRoot()));
    declarations.forEach((d, i) => endpoints.set(d.name, { host: '127.0.0.1', port: 20_000 + i }));
    endpoints.set(STACK_BACKEND, { host: '127.0.0.1', port: 19_999 });
    // compileLocal throws on any False condition of the compiled Gateway or routes.
    const config = compileLocal(localResources(declarations, endpoints));
    hosts = config.gateways[0]!.ports.get(HTTP_LISTENER_PORT)!.hosts;
  });

  it('routes every declared route to its function, resolved to the port the function listens on', () => {
    const routed = declarations.filter((d) => d.routes.length > 0);
    assert.ok(routed.length >= 6, 'the project declares its functions');
    for (const decl of routed) {
      for (const route of decl.routes) {
        const path = samplePath(route);
        const target = backend(path, route.methods?.[0]);
        assert.equal(target?.key, `${LOCAL_OPTIONS.namespace}/${decl.name}:${SERVICE_PORT}`, `${route.methods?.[0] ?? 'GET'} ${path} (${decl.name})`);
        assert.deepEqual(target?.endpoints, [endpoints.get(decl.name)]);
      }
    }
  });

  it("routes the stack's own paths (health, broker, /_fn/) to the stack's backend", () => {
    for (const path of ['/healthz', '/readyz', '/_broker/default/default', '/_fn/auth-admin/_events']) {
      const target = backend(path, 'POST');
      assert.equal(target?.key, `${LOCAL_OPTIONS.namespace}/${STACK_BACKEND}:${SERVICE_PORT}`, path);
      assert.deepEqual(target?.endpoints, [endpoints.get(STACK_BACKEND)]);
    }
  });

  it('matches nothing for a path no function declares', () => {
    assert.equal(backend('/nowhere'), undefined);
    assert.equal(backend('/healthz/more'), undefined, 'the health paths match exactly');
  });

  it('refuses a configuration whose backendRef resolves to no Service', () => {
    const partial = new Map([...endpoints].filter(([name]) => name !== declarations.find((d) => d.routes.length > 0)!.name));
    assert.throws(() => compileLocal(localResources(declarations, partial)), /the local routing configuration is invalid/);
  });
});
