// CIDR lists of the auth methods (`secret_id_bound_cidrs`, `token_bound_cidrs`, `cidr_list`):
// parsed and normalised once, matched against a request's remote address with node:net's
// BlockList. An IPv4 address seen as IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is matched as IPv4.
// @see https://developer.hashicorp.com/vault/api-docs/auth/approle#secret_id_bound_cidrs
import { BlockList, isIP } from 'node:net';
import { invalidRequest } from './errors.js';

interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

const MAX_CIDRS = 256;

function parseOne(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || !address) return undefined;
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

const render = (c: Cidr) => `${c.address}/${c.prefix}`;

/**
 * A CIDR list as Vault's field parser takes it (a JSON list or a comma-separated string), each
 * entry normalised to `address/prefix`; undefined when absent, a 400 when malformed.
 */
export function parseCidrList(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length > MAX_CIDRS) throw invalidRequest(`${field} must be a list of at most ${MAX_CIDRS} CIDR blocks`);
  return list.map((entry) => {
    const parsed = typeof entry === 'string' ? parseOne(entry) : undefined;
    if (!parsed) throw invalidRequest(`${field}: invalid CIDR block ${JSON.stringify(String(entry)).slice(0, 64)}`);
    return render(parsed);
  });
}

/** The address as BlockList checks it: IPv4-mapped IPv6 addresses as their IPv4 form. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped ? mapped[1]! : address;
  const v = isIP(a);
  return v === 0 ? undefined : { address: a, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** True when `cidrs` is empty (no binding) or the address lies in one of them; an unknown address never does. */
export function addressAllowed(address: string | undefined, cidrs: readonly string[]): boolean {
  if (cidrs.length === 0) return true;
  const a = address ? normalise(address) : undefined;
  if (!a) return false;
  const list = new BlockList();
  for (const c of cidrs) {
    const p = parseOne(c);
    if (p) list.addSubnet(p.address, p.prefix, p.family);
  }
  return list.check(a.address, a.family);
}

/** True when every block of `inner` lies inside some block of `outer` (an empty `outer` holds everything). */
export function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  if (outer.length === 0) return true;
  return inner.every((i) => {
    const c = parseOne(i);
    if (!c) return false;
    return outer.some((o) => {
      const p = parseOne(o);
      if (!p || p.family !== c.family || c.prefix < p.prefix) return false;
      const list = new BlockList();
      list.addSubnet(p.address, p.prefix, p.family);
      return list.check(c.address, c.family);
    });
  });
}
