// The client's address behind the platform's proxies. A request's socket peer is the client
// unless the peer is a trusted proxy (ZENO_TRUSTED_PROXIES; loopback by default: the local
// runner's ingress, a pod's own sidecar); then the X-Forwarded-For hops are read from the right,
// each hop a trusted proxy appended, and the first address that is not a trusted proxy is the
// client. Hops to its left were written by the client and are never believed, so a client that
// sends its own X-Forwarded-For, directly or through the ingress, cannot choose its address.
// @see https://www.rfc-editor.org/rfc/rfc7239#section-7.4
import { BlockList, isIP } from 'node:net';

/** `::ffff:a.b.c.d` as `a.b.c.d`, without brackets or spaces: how addresses are compared and stored. */
function plain(address: string): string {
  const a = address.trim().replace(/^\[(.*)\]$/, '$1');
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** How many addresses a resolver remembers the trust of. */
const TRUST_MEMORY = 4096;

/** Resolves the client of a request from its socket peer and its X-Forwarded-For header. */
type ClientAddressOf = (peer: string | undefined, forwardedFor: string | null | undefined) => string | undefined;

/**
 * A resolver trusting `proxies` (addresses or CIDR ranges, as shared/config validated them).
 * @see https://developer.hashicorp.com/vault/docs/configuration/listener/tcp#x_forwarded_for_authorized_addrs
 */
export function createClientAddressOf(proxies: readonly string[]): ClientAddressOf {
  const list = new BlockList();
  for (const entry of proxies) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  // BlockList.check builds a SocketAddress per call; the answer for an address never changes (the
  // list is fixed here), and the peers a function sees are few (its proxies, its callers): the
  // answers are kept, up to a bound past which the memory starts over.
  const known = new Map<string, boolean>();
  const trusted = (address: string) => {
    let answer = known.get(address);
    if (answer !== undefined) return answer;
    const family = isIP(address);
    answer = family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
    if (known.size >= TRUST_MEMORY) known.clear();
    known.set(address, answer);
    return answer;
  };
  return (peer, forwardedFor) => {
    if (peer === undefined) return undefined;
    let client = plain(peer);
    if (!forwardedFor || !trusted(client)) return client;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]!);
      // Not an address: no proxy of ours wrote it, so the last proxy's peer is what we know.
      if (isIP(hop) === 0) return client;
      client = hop;
      if (!trusted(hop)) return hop;
    }
    return client;
  };
}
