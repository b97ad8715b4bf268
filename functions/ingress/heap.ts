// The proxy process's garbage-collector sizing, given to node when it starts: V8 flags are never
// set at run time. A proxy's heap is a small live set (tables, pools, one set of objects per open
// connection) plus a high rate of short-lived per-request garbage, the opposite of what V8's
// defaults suit: the young generation grows to 2 × 16 MB semi-spaces under load, and the old
// generation may grow to four times its live size between full collections. Node accepts some of
// these flags in NODE_OPTIONS and refuses the others there: those go on node's command line (the
// generated Deployment's `command`; `zenokube ingress` run by hand logs the ones it lacks). When
// a V8 version ignores them, only memory use and speed change, never behaviour.

/**
 * NODE_OPTIONS for the proxy (the Deployment's env): the young generation may grow to 2 MB
 * semi-spaces under load. Half as many scavenges per request as at 1 MB, for a few MB more RSS;
 * see the README for the figures behind the choice.
 */
export const PROXY_NODE_OPTIONS = '--max-semi-space-size=2';

/**
 * V8 flags node refuses in NODE_OPTIONS, for node's own command line (`node <flags> zenokube.mjs
 * ingress ...`):
 * - the old generation grows by 50% of its live size between full collections, not up to 4×;
 * - no allocation-site pretenuring. It allocates straight in the old generation the objects of a
 *   site whose objects mostly survive a scavenge; under load the requests in flight always
 *   survive the next scavenge, so V8 pretenured the proxy's per-request objects (header lists,
 *   records, exchanges): every request then left ~1.5 KB of garbage in the old generation, a
 *   full collection followed every ~6,000 requests, and each scavenge took 2-3 times longer.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--heap-growing-percent=50', '--no-allocation-site-pretenuring'];

/** A flag's name as V8 reads it: `_` and `-` are the same, a value does not count. */
function flagName(flag: string): string {
  const eq = flag.indexOf('=');
  return (eq < 0 ? flag : flag.slice(0, eq)).replaceAll('_', '-');
}

/**
 * The proxy's flags (PROXY_NODE_FLAGS, and PROXY_NODE_OPTIONS's) that this process did not start
 * with, on its command line or in NODE_OPTIONS; a flag given with another value counts as given.
 */
export function missingProxyFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/).filter(Boolean)].map(flagName));
  return [...PROXY_NODE_OPTIONS.split(' '), ...PROXY_NODE_FLAGS].filter((f) => !given.has(flagName(f)));
}
