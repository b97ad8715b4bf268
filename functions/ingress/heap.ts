// The proxy process's garbage-collector sizing, set by the process itself when it starts.
// A proxy's heap is a small live set (tables, pools, one set of objects per open connection)
// plus a high rate of short-lived per-request garbage. V8's defaults suit the opposite: the
// young generation grows to 2 × 16 MB semi-spaces under load, and the old generation may grow to
// four times its live size between full collections, so RSS under load was several times the
// live heap. Node 20 cannot change heap limits after start (`--max-semi-space-size` is read
// once), but these two flags are read at every collection, so setting them here takes effect
// without launcher flags and holds wherever the ingress runs (`zenokube ingress`, the image).
// When a V8 version ignores them, only memory use changes, never behaviour.
import { setFlagsFromString } from 'node:v8';

/** Old-generation growth between full collections, in percent of the live size. */
const OLD_GENERATION_GROWTH_PERCENT = 50;

/**
 * Keeps the young generation at its initial size (1 MB semi-spaces: a scavenge then copies only
 * the requests in flight) and bounds old-generation growth. Call once, before serving.
 */
export function limitProxyHeap(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
  setFlagsFromString(`--heap-growing-percent=${OLD_GENERATION_GROWTH_PERCENT}`);
}
