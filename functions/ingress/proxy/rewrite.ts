// RequestRedirect and URLRewrite: the new path and the Location header.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRequestRedirectFilter
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPURLRewriteFilter
import type { Candidate, PathRewrite, RedirectAction } from '../engine/table.js';

/** Applies a path modifier; ReplacePrefixMatch replaces the matched PathPrefix on element boundaries. */
export function rewritePath(path: string, mod: PathRewrite | undefined, match: Candidate): string {
  if (!mod) return path;
  if (mod.type === 'ReplaceFullPath') return mod.value || '/';
  let prefix = match.pathValue;
  if (prefix.length > 1 && prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  const rest = prefix === '/' ? path : path.slice(prefix.length);
  let out = mod.value;
  if (out.endsWith('/') && rest.startsWith('/')) out = out + rest.slice(1);
  else if (rest === '' || rest.startsWith('/')) out = out + rest;
  else out = out + '/' + rest;
  return out || '/';
}

const WELL_KNOWN: Record<string, number> = { http: 80, https: 443 };

/**
 * The Location of a redirect. "If no port is specified, the redirect port MUST be derived":
 * the scheme's well-known port when a scheme is set, else the listener's port; a scheme's
 * well-known port is left out of the Location.
 */
export function redirectLocation(
  r: RedirectAction,
  req: { host: string; path: string; query: string },
  listener: { scheme: 'http' | 'https'; port: number },
  match: Candidate,
): string {
  const scheme = r.scheme ?? listener.scheme;
  const host = r.hostname ?? req.host;
  const port = r.port ?? (r.scheme ? (WELL_KNOWN[r.scheme] ?? listener.port) : listener.port);
  const showPort = WELL_KNOWN[scheme] !== port;
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const path = rewritePath(req.path, r.path, match);
  return `${scheme}://${hostPart}${showPort ? `:${port}` : ''}${path}${req.query ? `?${req.query}` : ''}`;
}
