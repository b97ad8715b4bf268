// The proxy process's garbage-collector sizing, set by the process itself when it starts.
// A proxy's heap is a small live set (tables, pools, one set of objects per open connection)
// plus a high rate of short-lived per-request garbage. V8's defaults suit the opposite: the
// young generation grows to 2 × 16 MB semi-spaces under load, and the old generation may grow to
// four times its live size between full collections, so RSS under load was several times the
// live heap. Node 20 cannot change heap limits after start (`--max-semi-space-size` is read
// once), but the flags set here are read at every collection, so they take effect without
// launcher flags and hold wherever the ingress runs (`zenokube ingress`, the image). A launcher
// that bounds the young generation itself (the Deployment does) keeps its bound: the 1 MB pin is
// then left off. When a V8 version ignores these flags, only memory use and speed change, never
// behaviour.
import { setFlagsFromString } from 'node:v8';

/**
 * The start-up flags the Deployment gives the proxy (NODE_OPTIONS, which allows this V8 flag): the
 * young generation may grow to 2 MB semi-spaces under load. Half as many scavenges per request as
 * at 1 MB, for a few MB more RSS; see the README for the figures behind the choice.
 */
export const PROXY_NODE_OPTIONS = '--max-semi-space-size=2';

/** Old-generation growth between full collections, in percent of the live size. */
const OLD_GENERATION_GROWTH_PERCENT = 50;

// V8 accepts `_` for `-` in flag names.
const SEMI_SPACE_FLAG = /^--(?:max|min)[-_]semi[-_]space[-_]size(?:=|$)/;

/**
 * Whether the launcher sized the young generation with a start-up flag (`node --max-semi-space-size=N`,
 * or NODE_OPTIONS, where Node allows `--max-semi-space-size`): then its size is the launcher's choice.
 */
export function youngGenerationSizedAtStart(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return execArgv.some((f) => SEMI_SPACE_FLAG.test(f)) || nodeOptions.split(/\s+/).some((f) => SEMI_SPACE_FLAG.test(f));
}

/**
 * Bounds old-generation growth and, unless the launcher sized the young generation, keeps it at
 * its initial size (1 MB semi-spaces: a scavenge then copies only the requests in flight). With a
 * start-up bound such as the Deployment's (`PROXY_NODE_OPTIONS`), the young generation grows
 * under load up to that bound: fewer scavenges per request for a few MB more. Call once, before serving.
 */
export function limitProxyHeap(): void {
  if (!youngGenerationSizedAtStart()) setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
  // Allocation-site pretenuring allocates straight in the old generation the objects of a site
  // whose objects mostly survive a scavenge. Under load the requests in flight always survive
  // the next scavenge, so V8 pretenured the proxy's per-request objects (header lists, records,
  // exchanges): every request then left ~1.5 KB of garbage in the old generation, a full
  // collection followed every ~6,000 requests, and each scavenge took 2-3 times longer. Without
  // it they die young: about a quarter less CPU per request (see the README).
  setFlagsFromString('--no-allocation-site-pretenuring');
}
