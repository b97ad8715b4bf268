// The client's address on a tunnel stream: the edge writes a PROXY protocol v1 header as the
// stream's first bytes, the agent reads it before the HTTP bytes and serves the stream with that
// address as its remote address. Only the edge writes on a stream before the request, so the
// agent trusts it from the tunnel alone; a listener never parses it.
// @see https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt (2.1, the human-readable header)
import { isIPv4, isIPv6 } from 'node:net';
import type { Duplex } from 'node:stream';

/** "a 108-byte buffer is always enough to store all the line and a trailing zero" (2.1). */
const MAX_LINE = 107;

interface ClientAddress {
  address: string;
  port: number;
}

/** The header for a client at `remote`, received on `local`; `PROXY UNKNOWN` when either is not known. */
export function encodeProxyHeader(remote: Partial<ClientAddress>, local: Partial<ClientAddress>): Buffer {
  const src = plainIPv4(remote.address);
  const dst = plainIPv4(local.address);
  const family = isIPv4(src) && isIPv4(dst) ? 'TCP4' : isIPv6(src) && isIPv6(dst) ? 'TCP6' : undefined;
  if (!family || !validPort(remote.port) || !validPort(local.port)) return Buffer.from('PROXY UNKNOWN\r\n');
  return Buffer.from(`PROXY ${family} ${src} ${dst} ${remote.port} ${local.port}\r\n`);
}

/** Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`. */
function plainIPv4(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

const validPort = (p: number | undefined): p is number => p !== undefined && Number.isInteger(p) && p > 0 && p < 65536;

/**
 * Parses one header line (without its CRLF): the source address, or null for `PROXY UNKNOWN`, or
 * undefined when the line is not a valid v1 header.
 */
export function parseProxyHeader(line: string): ClientAddress | null | undefined {
  const parts = line.split(' ');
  if (parts[0] !== 'PROXY') return undefined;
  // "the receiver must ignore anything presented before the CRLF is found" after UNKNOWN.
  if (parts[1] === 'UNKNOWN') return null;
  if (parts.length !== 6) return undefined;
  const [, family, src, dst, srcPort, dstPort] = parts as [string, string, string, string, string, string];
  const ip = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (!ip || !ip(src) || !ip(dst)) return undefined;
  const port = portOf(srcPort);
  if (port === undefined || portOf(dstPort) === undefined) return undefined;
  return { address: src, port };
}

function portOf(s: string): number | undefined {
  if (!/^[1-9][0-9]{0,4}$/.test(s)) return undefined;
  const n = Number(s);
  return n < 65536 ? n : undefined;
}

/**
 * Reads the header off the front of `stream` and puts back what follows it. Resolves with the
 * address (null for UNKNOWN); rejects when the stream ends first or sends anything else.
 */
export function readProxyHeader(stream: Duplex): Promise<ClientAddress | null> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const done = (error: Error | undefined, value?: ClientAddress | null) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      if (error) reject(error);
      else resolve(value ?? null);
    };
    const onEnd = () => done(new Error('the stream ended before its PROXY header'));
    const onError = (err: Error) => done(err);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        seen = Buffer.concat([seen, chunk]);
        const lf = seen.indexOf('\r\n');
        if (lf < 0) {
          if (seen.length > MAX_LINE) return done(new Error('the PROXY header is too long'));
          continue;
        }
        if (lf + 2 > MAX_LINE) return done(new Error('the PROXY header is too long'));
        const parsed = parseProxyHeader(seen.subarray(0, lf).toString('latin1'));
        if (parsed === undefined) return done(new Error('malformed PROXY header'));
        const rest = seen.subarray(lf + 2);
        done(undefined, parsed);
        if (rest.length > 0) stream.unshift(rest);
        return;
      }
    };
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onError);
  });
}
