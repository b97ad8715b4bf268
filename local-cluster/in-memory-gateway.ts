// The local gateway in memory, for tests and benchmarks that host functions without sockets of
// their own: ZenoIngress's engine matches the request against the local cluster's configuration
// (the same Gateway and generated HTTPRoutes as `npm start`, ./local-gateway.ts) and the winning rule's
// backend names the function whose app gets the request. Only matching happens here: the proxy's
// filters do not run (the generated routes' one filter rewrites Host, which functions do not read).
import type { HostTable } from '#functions/ingress/index';
import { matchRequest, normalizePath } from '#functions/ingress/index';
import { HTTP_LISTENER_PORT } from '#manifests/index';
import type { HostedFunction } from '#shared/function/host';
import type { FetchHandler } from '#shared/http/serve';
import { INTERNAL_PREFIX, serveInternal } from './internal.js';
import { compileLocal, localResources, LOCAL_OPTIONS, SERVICE_PORT, STACK_BACKEND } from './local-gateway.js';

/** Endpoints are never dialled in memory: the matched backend's name is all that is used. */
const IN_MEMORY = { host: '127.0.0.1', port: 1 };

/**
 * A fetch handler that routes as the local gateway does, straight to the matched function's app;
 * `/_fn/<name>/...` reaches a function's own endpoints (loopback callers only); anything no route
 * matches goes to `fallback`.
 */
export function createInMemoryGateway(functions: HostedFunction[], fallback: FetchHandler): FetchHandler {
  const byName = new Map(functions.map((f) => [f.declaration.name, f]));
  const names = [...byName.keys(), STACK_BACKEND];
  const config = compileLocal(localResources([...byName.values()].map((f) => f.declaration), new Map(names.map((n) => [n, IN_MEMORY]))));
  const hosts: HostTable | undefined = config.gateways[0]?.ports.get(HTTP_LISTENER_PORT)?.hosts;
  // Backend keys are `namespace/name:port`.
  const byBackend = new Map(functions.map((f) => [`${LOCAL_OPTIONS.namespace}/${f.declaration.name}:${SERVICE_PORT}`, f]));

  return (req, env) => {
    const url = new URL(req.url);
    if (url.pathname.startsWith(INTERNAL_PREFIX)) return serveInternal(byName, req, env) ?? fallback(req, env);
    const path = normalizePath(url.pathname);
    const match =
      hosts && path !== undefined
        ? matchRequest(hosts, { host: url.hostname, path, query: url.search.slice(1), method: req.method, header: (name) => req.headers.get(name) ?? undefined })
        : undefined;
    const fn = match?.rule.backends[0] && byBackend.get(match.rule.backends[0].key);
    return fn ? fn.app.fetch(req, env) : fallback(req, env);
  };
}
