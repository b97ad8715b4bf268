// The local cluster's internal paths, for callers on this machine only: `/_fn/<name>/...` serves a
// function's own endpoints (`/_events`, `/healthz`, ...) with the prefix stripped.
import type { HostedFunction } from '#shared/function/host';

/** Internal path of a function on the local runner: `/_fn/<name>/...` (loopback callers only). */
export const INTERNAL_PREFIX = '/_fn/';

export function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** The caller's socket address, as @hono/node-server passes the incoming request in `env`. */
function remoteAddressOf(env: unknown): string | undefined {
  return (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
}

/**
 * The caller as the ingress saw it. Behind ZenoIngress every connection comes from loopback and
 * the ingress appends the client's address as the last X-Forwarded-For hop; a server that listens
 * on loopback only cannot be reached by a remote client without that hop.
 */
export function callerAddress(req: Request, env: unknown): string | undefined {
  const peer = remoteAddressOf(env);
  const xff = req.headers.get('x-forwarded-for');
  if (!xff || !isLoopback(peer)) return peer;
  return xff.slice(xff.lastIndexOf(',') + 1).trim();
}

/**
 * Serves `/_fn/<name>/...` from `byName` to a loopback caller; undefined when the path is not one
 * of this runner's functions or the caller is remote (the caller answers 404 then).
 */
export function serveInternal(byName: ReadonlyMap<string, HostedFunction>, req: Request, env: unknown): Response | Promise<Response> | undefined {
  const url = new URL(req.url);
  const rest = url.pathname.slice(INTERNAL_PREFIX.length);
  const slash = rest.indexOf('/');
  const fn = byName.get(slash < 0 ? rest : rest.slice(0, slash));
  if (!fn || !isLoopback(remoteAddressOf(env))) return undefined;
  url.pathname = slash < 0 ? '/' : rest.slice(slash);
  const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers: req.headers, signal: req.signal };
  if (req.body) {
    init.body = req.body;
    init.duplex = 'half';
  }
  return fn.app.fetch(new Request(url, init), env);
}
