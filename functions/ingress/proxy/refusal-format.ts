// The error format of a request refused before it was routed (URI too long, header fields too
// large): the format of the route its target would have matched, so that a route's clients get
// their protocol's error shape even for what the proxy refuses. Header and query matches are not
// evaluated (a refused request is not trusted that far): the path and host decide.
import type { ErrorFormat } from '../engine/table.js';
import type { MatchRequest } from '../engine/match.js';
import { matchRequest } from '../engine/match.js';
import { normalizePath } from '../engine/path.js';
import { normalizeHost } from '../engine/hostname.js';
import type { Binding } from './context.js';

/** The format of the route `method target` on `host` matches on `binding`; problem+json when none. */
export function refusalFormat(binding: Binding, method: string, hostHeader: string | undefined, target: string): ErrorFormat {
  const q = target.indexOf('?');
  const path = normalizePath(q < 0 ? target : target.slice(0, q));
  const host = normalizeHost(hostHeader);
  if (path === undefined || !host) return 'problem';
  const req: MatchRequest = { host, path, query: '', method, header: () => undefined };
  for (const t of binding.tables) {
    const match = matchRequest(t.hosts, req);
    if (match) return match.rule.errorFormat;
  }
  return 'problem';
}

/** How much of a refused head is read for its request line and Host field. */
const HEAD_SCAN_BYTES = 64 * 1024;
const REQUEST_LINE = /^([A-Z]{1,16}) (\S+) HTTP\/1\.[01]\r\n/;
const HOST_FIELD = /\r\nhost:[ \t]*([^\r\n]*)/i;

/**
 * The format for a head node's parser refused (header fields too large), from the bytes it was
 * parsing (`rawPacket` of its clientError): problem+json unless they hold the request line and a
 * Host field that match a route.
 * @see https://nodejs.org/api/http.html#event-clienterror
 */
export function refusalFormatOfHead(binding: Binding, raw: unknown): ErrorFormat {
  if (!Buffer.isBuffer(raw)) return 'problem';
  const text = raw.subarray(0, HEAD_SCAN_BYTES).toString('latin1');
  const line = REQUEST_LINE.exec(text);
  if (!line) return 'problem';
  return refusalFormat(binding, line[1]!, HOST_FIELD.exec(text)?.[1]?.trim(), line[2]!);
}
