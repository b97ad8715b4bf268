// Hostname rules of the Gateway API: wildcard matching and listener/route intersection.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.HTTPRouteSpec (hostnames)

/** Whether `host` (lower-case, no port) matches `pattern`; `*.example.com` matches one or more labels before `.example.com`. */
export function hostnameMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.length > suffix.length && host.endsWith(suffix);
}

/**
 * The hostnames a route serves on a listener: "the intersection of the hostnames of the
 * listener and the route". `undefined` means any hostname; an empty array means no
 * intersection (the route does not attach: NoMatchingListenerHostname).
 */
export function intersectHostnames(listener: string | undefined, route: string[] | undefined): string[] | undefined {
  const routeHosts = route && route.length > 0 ? route.map((h) => h.toLowerCase()) : undefined;
  const l = listener?.toLowerCase();
  if (!l) return routeHosts;
  if (!routeHosts) return [l];
  const out = new Set<string>();
  for (const h of routeHosts) {
    if (h === l) out.add(h);
    else if (!h.startsWith('*.')) {
      if (hostnameMatches(l, h)) out.add(h);
    } else if (!l.startsWith('*.')) {
      // A wildcard route hostname and a precise listener hostname: the listener's wins.
      if (hostnameMatches(h, l)) out.add(l);
    } else if (h.length > l.length && h.endsWith(l.slice(1))) out.add(h);
    else if (l.length > h.length && l.endsWith(h.slice(1))) out.add(l);
  }
  return [...out];
}

/** Lower-cases the Host header value and strips its port (and the brackets of an IPv6 literal). */
export function normalizeHost(value: string | undefined): string {
  if (!value) return '';
  let v = value;
  if (v.charCodeAt(0) === 91 /* [ */) {
    const end = v.indexOf(']');
    return (end > 0 ? v.slice(1, end) : v).toLowerCase();
  }
  const colon = v.indexOf(':');
  if (colon >= 0) v = v.slice(0, colon);
  if (v.endsWith('.')) v = v.slice(0, -1);
  return v.toLowerCase();
}

/** RFC 1123 hostname with an optional leading `*.` label, as the Gateway API `Hostname` type allows. */
export function isValidHostname(h: string): boolean {
  return /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(h) && h.length <= 253;
}
