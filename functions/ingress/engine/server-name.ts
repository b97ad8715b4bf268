// Picks the TLSRoute a passthrough connection goes to by the server name of its ClientHello: an
// exact name first, then the longest wildcard, then a route that took any name.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1alpha2.TLSRouteSpec (hostnames)
import type { CompiledRule, ServerNameTable } from './table.js';

/**
 * The rule for `serverName` (lower-case), or undefined. A ClientHello without a server name is
 * served only by a route that took any name (no hostnames on it nor on its listener).
 */
export function matchServerName(table: ServerNameTable, serverName: string | undefined): CompiledRule | undefined {
  if (serverName === undefined) return table.any;
  const exact = table.exact.get(serverName);
  if (exact) return exact;
  if (table.wildcard.size > 0) {
    // "*.example.com" takes one or more labels before ".example.com"; the longest suffix wins.
    for (let dot = serverName.indexOf('.'); dot > 0; dot = serverName.indexOf('.', dot + 1)) {
      const rule = table.wildcard.get(serverName.slice(dot));
      if (rule) return rule;
    }
  }
  return table.any;
}
