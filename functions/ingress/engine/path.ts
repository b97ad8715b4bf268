// Request path handling: dot-segment removal (RFC 3986 §5.2.4) and the segment trie of PathPrefix matches.

/**
 * Normalises a request path for routing and forwarding. Dot segments (also `%2e` spelled) are
 * removed so `/a/../admin` cannot reach around a route; `%2F` stays encoded (it is not a
 * separator); returns `undefined` for a path that is not origin-form.
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-5.2.4
 */
export function normalizePath(path: string): string | undefined {
  if (path.charCodeAt(0) !== 47 /* / */) return undefined;
  // Fast path: nothing to normalise.
  if (path.indexOf('/.') < 0 && path.indexOf('%2') < 0 && path.indexOf('//') < 0) return path;
  const parts = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const raw = parts[i]!;
    const seg = raw.length <= 6 && raw.indexOf('%') >= 0 ? raw.replace(/%2e/gi, '.') : raw;
    if (seg === '.') {
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (seg === '..') {
      out.pop();
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (seg === '' && i < parts.length - 1) continue; // collapse `//`
    out.push(raw);
  }
  return '/' + out.join('/');
}

/** Segments of a PathPrefix value: `/foo/bar/` → [foo, bar] (a trailing slash is ignored). */
export function prefixSegments(prefix: string): string[] {
  return prefix.split('/').filter((s) => s !== '');
}

/** Whether `path` has `prefix` as a path-element prefix. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 47);
}

export interface TrieNode<T> {
  children: Map<string, TrieNode<T>>;
  items: T[];
}

export const newTrieNode = <T>(): TrieNode<T> => ({ children: new Map(), items: [] });

export function trieInsert<T>(root: TrieNode<T>, segments: string[], item: T): void {
  let node = root;
  for (const s of segments) {
    let next = node.children.get(s);
    if (!next) node.children.set(s, (next = newTrieNode<T>()));
    node = next;
  }
  node.items.push(item);
}

/**
 * The nodes on the way down `path` (deepest last), without allocating a segment array.
 * Cost is the number of segments of the request path, whatever the number of routes.
 */
export function trieWalk<T>(root: TrieNode<T>, path: string, out: TrieNode<T>[]): number {
  let n = 0;
  if (root.items.length > 0) out[n++] = root;
  let node: TrieNode<T> | undefined = root;
  let start = 1;
  const len = path.length;
  while (start < len && node && node.children.size > 0) {
    let end = path.indexOf('/', start);
    if (end < 0) end = len;
    if (end > start) {
      node = node.children.get(path.slice(start, end));
      if (node && node.items.length > 0) out[n++] = node;
    }
    start = end + 1;
  }
  return n;
}
