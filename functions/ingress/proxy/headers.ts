// Header handling on the hot path, on node's flat rawHeaders arrays ([name, value, name, value, ...]).
// @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1 (hop-by-hop fields, Connection-listed ones too)
import type { HeaderOps } from '../engine/table.js';

/** Hop-by-hop fields never forwarded (lower-case). `te` is dropped too: we do not forward trailers. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Bit n is set when some name in `names` is n characters long (n < 32; longer names set bit 0,
 * which means "check every name"). Most header names have a length no dropped name has, and are
 * then copied without lower-casing them first (a new string for every capitalised name).
 */
function lengthMask(names: Iterable<string>): number {
  let mask = 0;
  for (const n of names) mask |= n.length < 32 ? 1 << n.length : 1;
  return mask;
}

/** Whether a name of this length may be one of the names of `mask`. */
const mayBeIn = (mask: number, length: number): boolean => (mask & 1) !== 0 || (length < 32 && (mask & (1 << length)) !== 0);

const HOP_BY_HOP_LENGTHS = lengthMask(HOP_BY_HOP);
const dropLengths = new WeakMap<Set<string>, number>();

function lengthsWith(drop: Set<string>): number {
  let mask = dropLengths.get(drop);
  if (mask === undefined) dropLengths.set(drop, (mask = HOP_BY_HOP_LENGTHS | lengthMask(drop)));
  return mask;
}

/** Names listed in Connection, which are hop-by-hop for this message. */
function connectionListed(raw: string[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 10 || raw[i]!.toLowerCase() !== 'connection') continue;
    out = addListed(out, raw[i + 1]!);
  }
  return out;
}

function addListed(out: Set<string> | undefined, value: string): Set<string> | undefined {
  // What nearly every Connection header says, and lists no other name.
  if (value === 'keep-alive' || value === 'close') return out;
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t && t !== 'close' && t !== 'keep-alive') (out ??= new Set()).add(t);
  }
  return out;
}

/**
 * Copies end-to-end headers, dropping hop-by-hop ones, `host` (sent separately) and names the
 * caller drops (`drop`, lower-case), after the fields already in `out` (the proxy's own, put first
 * so that a client's many fields never push Host past an upstream's count limit). Returns `out`.
 */
export function endToEnd(raw: string[], drop?: Set<string>, out: string[] = []): string[] {
  const listed = connectionListed(raw);
  // Connection may list a name of any length: then every name is checked.
  const mask = listed ? 1 : drop ? lengthsWith(drop) : HOP_BY_HOP_LENGTHS;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (mayBeIn(mask, name.length)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || (listed && listed.has(lower)) || (drop && drop.has(lower))) continue;
    }
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** A field's bytes as a string (latin1: one character per byte, as node's own parser hands them on). */
const text = (field: string | Buffer): string => (typeof field === 'string' ? field : field.toString('latin1'));

/**
 * Response headers from the parser's flat list (strings, or undici's raw buffers, turned into
 * strings as they are kept), hop-by-hop ones (and Connection-listed ones) dropped, in one pass;
 * only a Connection header that lists other names (rare) costs a second pass.
 */
export function responseHeaders(raw: readonly (string | Buffer)[]): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = text(raw[i]!);
    if (mayBeIn(HOP_BY_HOP_LENGTHS, name.length)) {
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower)) {
        if (lower === 'connection') listed = addListed(listed, text(raw[i + 1]!));
        continue;
      }
    }
    out.push(name, text(raw[i + 1]!));
  }
  if (!listed) return out;
  const names = listed;
  return out.filter((_, i, a) => !names.has((i % 2 === 0 ? a[i]! : a[i - 1]!).toLowerCase()));
}

/** Applies a RequestHeaderModifier / ResponseHeaderModifier in the spec's order: set, add, remove. */
export function applyHeaderOps(headers: string[], ops: HeaderOps | undefined): string[] {
  if (!ops) return headers;
  let out = headers;
  if (ops.set.length > 0) {
    const names = new Set(ops.set.map(([n]) => n));
    out = out.filter((_, i, a) => (i % 2 === 0 ? !names.has(a[i]!.toLowerCase()) : !names.has(a[i - 1]!.toLowerCase())));
    for (const [n, v] of ops.set) out.push(n, v);
  }
  // "add" appends to an existing value (comma-joined), as the conformance tests expect.
  for (const [n, v] of ops.add) {
    let found = false;
    for (let i = 0; i < out.length; i += 2) {
      if (out[i]!.toLowerCase() === n) {
        out[i + 1] = `${out[i + 1]},${v}`;
        found = true;
        break;
      }
    }
    if (!found) out.push(n, v);
  }
  if (ops.remove.length > 0) {
    const names = new Set(ops.remove);
    out = out.filter((_, i, a) => (i % 2 === 0 ? !names.has(a[i]!.toLowerCase()) : !names.has(a[i - 1]!.toLowerCase())));
  }
  return out;
}

/**
 * The request fields the proxy reads itself, found in one pass over node's raw list, so that
 * node's header map is built only when a route's match or filter asks for it. Repeated fields
 * join with ", " as in that map; Host keeps its first value and counts its lines.
 */
export interface RequestFields {
  host: string | undefined;
  /** Host field lines (RFC 9112 §3.2: exactly one). */
  hosts: number;
  transferEncoding: string | undefined;
  contentLength: string | undefined;
  requestId: string | undefined;
  forwardedFor: string | undefined;
  forwarded: string | undefined;
}

const join = (prior: string | undefined, value: string): string => (prior === undefined ? value : `${prior}, ${value}`);

export function requestFields(raw: string[]): RequestFields {
  const f: RequestFields = { host: undefined, hosts: 0, transferEncoding: undefined, contentLength: undefined, requestId: undefined, forwardedFor: undefined, forwarded: undefined };
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          if (f.hosts++ === 0) f.host = raw[i + 1];
        }
        break;
      case 9:
        if (name.toLowerCase() === 'forwarded') f.forwarded = join(f.forwarded, raw[i + 1]!);
        break;
      case 12:
        if (name.toLowerCase() === 'x-request-id') f.requestId = join(f.requestId, raw[i + 1]!);
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') f.contentLength = raw[i + 1];
        break;
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') f.forwardedFor = join(f.forwardedFor, raw[i + 1]!);
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') f.transferEncoding = join(f.transferEncoding, raw[i + 1]!);
        break;
    }
  }
  return f;
}

/** `for=` value of RFC 7239: IPv6 literals are quoted and bracketed. */
export function forwardedNode(ip: string): string {
  const v = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return v.includes(':') ? `"[${v}]"` : v;
}
