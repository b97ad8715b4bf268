// The local runner's router: each request goes to the function whose declared route prefix
// matches (longest first), as the generated HTTPRoutes route it in a cluster.
import type { FetchHandler } from '#shared/http/serve';
import type { HostedFunction } from '#shared/function/host';

interface Entry {
  prefix: string;
  kind: 'PathPrefix' | 'Exact' | 'RegularExpression';
  regex: RegExp | undefined;
  methods: Set<string> | undefined;
  fn: HostedFunction;
}

/** `PathPrefix` matches on segment boundaries: `/auth` matches `/auth` and `/auth/x`, not `/authx`. */
export function matchesPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(p + '/');
}

/** Internal path of a function on the local runner: `/_fn/<name>/...` (loopback callers only). */
export const INTERNAL_PREFIX = '/_fn/';

function isLoopback(address: string | undefined): boolean {
  return !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

const rank = (e: Entry) => (e.kind === 'Exact' ? 0 : e.kind === 'PathPrefix' ? 1 : 2);

function matches(e: Entry, path: string): boolean {
  if (e.kind === 'Exact') return path === e.prefix;
  if (e.kind === 'RegularExpression') return e.regex!.test(path);
  return matchesPrefix(path, e.prefix);
}

export function createDispatcher(functions: HostedFunction[], fallback: FetchHandler): FetchHandler {
  const entries: Entry[] = functions
    .flatMap((fn) =>
      fn.declaration.routes.map((r) => ({
        prefix: r.path,
        kind: r.match ?? 'PathPrefix',
        regex: r.match === 'RegularExpression' ? new RegExp(`^(?:${r.path})$`) : undefined,
        methods: r.methods ? new Set(r.methods.map((m) => m.toUpperCase())) : undefined,
        fn,
      })),
    )
    // Gateway API precedence, reduced to what declarations use: Exact, then the longest prefix,
    // then regular expressions (their order is implementation-specific).
    .sort((a, b) => rank(a) - rank(b) || b.prefix.length - a.prefix.length);
  const byName = new Map(functions.map((f) => [f.declaration.name, f]));

  return (req, env) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path.startsWith(INTERNAL_PREFIX)) {
      const rest = path.slice(INTERNAL_PREFIX.length);
      const slash = rest.indexOf('/');
      const fn = byName.get(slash < 0 ? rest : rest.slice(0, slash));
      const remote = env?.incoming?.socket?.remoteAddress as string | undefined;
      if (!fn || !isLoopback(remote)) return fallback(req, env);
      url.pathname = slash < 0 ? '/' : rest.slice(slash);
      const init: RequestInit & { duplex?: 'half' } = { method: req.method, headers: req.headers, signal: req.signal };
      if (req.body) {
        init.body = req.body;
        init.duplex = 'half';
      }
      return fn.app.fetch(new Request(url, init), env);
    }
    for (const e of entries) {
      if (!matches(e, path)) continue;
      if (e.methods && !e.methods.has(req.method)) continue;
      return e.fn.app.fetch(req, env);
    }
    return fallback(req, env);
  };
}
