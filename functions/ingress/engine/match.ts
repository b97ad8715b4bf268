// Request-time matching: host bucket, then path (exact map, prefix trie, regex list), then the
// few candidates on that path in precedence order. Cost follows the request, not the route count.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteRule (precedence)
import type { Candidate, HostTable, PathTable, ValueMatch } from './table.js';
import type { TrieNode } from './path.js';
import { trieWalk } from './path.js';

/** What a matcher needs to know about a request. Header names are looked up lower-case. */
export interface MatchRequest {
  host: string;
  path: string;
  query: string;
  method: string;
  header(name: string): string | undefined;
}

// Reused scratch array: the matcher is synchronous, so one per process is enough.
const nodes: TrieNode<Candidate>[] = [];

/** The winning candidate, or undefined (404). */
export function matchRequest(hosts: HostTable, req: MatchRequest): Candidate | undefined {
  const host = req.host;
  const exact = hosts.exact.get(host);
  if (exact) {
    const c = matchPath(exact, req);
    if (c) return c;
  }
  if (hosts.wildcard.size > 0) {
    // Longest suffix first: "largest number of characters in a matching hostname".
    let dot = host.indexOf('.');
    while (dot >= 0) {
      const table = hosts.wildcard.get(host.slice(dot));
      if (table && dot > 0) {
        const c = matchPath(table, req);
        if (c) return c;
      }
      dot = host.indexOf('.', dot + 1);
    }
  }
  return hosts.any ? matchPath(hosts.any, req) : undefined;
}

function matchPath(table: PathTable, req: MatchRequest): Candidate | undefined {
  const exact = table.exact.get(req.path);
  if (exact) {
    const c = firstPassing(exact, req);
    if (c) return c;
  }
  const n = trieWalk(table.prefix, req.path, nodes);
  for (let i = n - 1; i >= 0; i--) {
    const c = firstPassing(nodes[i]!.items, req);
    if (c) return c;
  }
  for (const c of table.regex) {
    if (c.pathRegex!.test(req.path) && passes(c, req)) return c;
  }
  return undefined;
}

/** PathPrefix candidates sit on whole segments of the trie ("a trailing `/` is ignored"), so only the rest is checked. */
function firstPassing(list: Candidate[], req: MatchRequest): Candidate | undefined {
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (passes(c, req)) return c;
  }
  return undefined;
}

function passes(c: Candidate, req: MatchRequest): boolean {
  if (c.method !== undefined && c.method !== req.method) return false;
  for (let i = 0; i < c.headers.length; i++) {
    const h = c.headers[i]!;
    if (!valueOk(h, req.header(h.name))) return false;
  }
  if (c.query.length > 0) {
    const q = parseQuery(req.query);
    for (let i = 0; i < c.query.length; i++) {
      const m = c.query[i]!;
      if (!valueOk(m, q.get(m.name))) return false;
    }
  }
  return true;
}

function valueOk(m: ValueMatch, value: string | undefined): boolean {
  if (value === undefined) return false;
  return m.regex ? m.regex.test(value) : value === m.exact;
}

/** First value of each query parameter, percent-decoded (`+` is a space, as forms send it). */
function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!query) return out;
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = safeDecode(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(name)) out.set(name, eq < 0 ? '' : safeDecode(part.slice(eq + 1)));
  }
  return out;
}

function safeDecode(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}
