// Mutual-TLS client authentication and certificate-bound tokens (RFC 8705): which client a
// presented certificate authenticates, and the thumbprint tokens are bound to. The certificate
// reaches us from the ingress that terminated TLS (web/client-certificate.ts); here it is a
// parsed X509Certificate and whether its chain verified against the listener's CA.
import { createHash, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Client } from './schema.js';

/** A client certificate the ingress vouched for. */
export interface PresentedCertificate {
  readonly cert: X509Certificate;
  /** The chain verified against the listener's trust anchors (the PKI method needs it). */
  readonly verified: boolean;
  /** RFC 8705 §3.1 `x5t#S256`: base64url SHA-256 of the DER certificate. */
  readonly thumbprint: string;
}

/** RFC 8705 §3.1: the `x5t#S256` confirmation of a DER certificate. */
function certificateThumbprint(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** Wraps a DER certificate, or undefined when it does not parse. */
export function presentedCertificate(der: Buffer, verified: boolean): PresentedCertificate | undefined {
  try {
    return { cert: new X509Certificate(der), verified, thumbprint: certificateThumbprint(der) };
  } catch {
    return undefined;
  }
}

type Rdn = [type: string, value: string];

/** RFC 4514 §3 unescaping of one attribute value: `\,` and friends, and `\XX` hex pairs (UTF-8). */
function unescapeValue(raw: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = raw.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(next)) {
      bytes.push(parseInt(next, 16));
      i += 2;
    } else if (raw[i + 1] !== undefined) {
      bytes.push(...Buffer.from(raw[i + 1]!, 'utf8'));
      i += 1;
    } else return undefined;
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Splits on `sep` where it is not escaped by a backslash. */
function splitUnescaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === sep) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function parseRdn(part: string): Rdn | undefined {
  const eq = part.indexOf('=');
  if (eq <= 0) return undefined;
  const value = unescapeValue(part.slice(eq + 1).trim());
  // Multi-valued RDNs (`+`) are not matched: no client registers one in practice.
  if (value === undefined || /(^|[^\\])\+/.test(part.slice(eq + 1))) return undefined;
  return [part.slice(0, eq).trim().toUpperCase(), value];
}

/**
 * An RFC 4514 string (`CN=client,O=Example,C=SE`: the last RDN of the sequence first) as the RDN
 * sequence in certificate order; undefined when it is not one we can compare.
 */
export function parseDistinguishedName(dn: string): Rdn[] | undefined {
  const rdns = splitUnescaped(dn, ',').map(parseRdn);
  if (rdns.length === 0 || rdns.some((r) => r === undefined)) return undefined;
  return (rdns as Rdn[]).reverse();
}

/** The subject of a certificate as node prints it (one RFC 2253-escaped RDN a line, certificate order). */
function subjectRdns(cert: X509Certificate): Rdn[] | undefined {
  const rdns = cert.subject.split('\n').filter(Boolean).map(parseRdn);
  return rdns.some((r) => r === undefined) ? undefined : (rdns as Rdn[]);
}

/** RFC 4517 caseIgnoreMatch with insignificant spaces (§4.2.1 string preparation, in short). */
const foldValue = (v: string) => v.normalize('NFKC').replace(/\s+/g, ' ').trim().toLowerCase();

function sameDistinguishedName(a: Rdn[], b: Rdn[]): boolean {
  return a.length === b.length && a.every(([t, v], i) => t === b[i]![0] && foldValue(v) === foldValue(b[i]![1]));
}

/** The subjectAltName entries node prints (`DNS:a, IP Address:1.2.3.4`; odd values JSON-quoted). */
function subjectAltNames(cert: X509Certificate): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  const text = cert.subjectAltName ?? '';
  const re = /(DNS|URI|IP Address|email|othername|DirName|Registered ID):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < text.length && (m = re.exec(text))) {
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    out.push({ type: m[1]!, value });
  }
  return out;
}

/** An IP address in one spelling (IPv6 compressed, lower-case), or undefined. */
function canonicalIp(ip: string): string | undefined {
  const kind = isIP(ip);
  if (kind === 4) return ip;
  if (kind === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return undefined;
}

/**
 * RFC 8705 §2.1.2: a tls_client_auth client is authenticated when its certificate chains to a
 * trusted anchor (the ingress verified it) and carries the one registered subject DN or SAN.
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.1.2
 */
export function matchesTlsClientAuth(client: Client, presented: PresentedCertificate): boolean {
  if (client.tokenEndpointAuthMethod !== 'tls_client_auth' || !presented.verified) return false;
  const { cert } = presented;
  if (client.tlsClientAuthSubjectDn !== null) {
    const want = parseDistinguishedName(client.tlsClientAuthSubjectDn);
    const have = subjectRdns(cert);
    return want !== undefined && have !== undefined && sameDistinguishedName(want, have);
  }
  const sans = subjectAltNames(cert);
  if (client.tlsClientAuthSanDns !== null) return sans.some((s) => s.type === 'DNS' && s.value.toLowerCase() === client.tlsClientAuthSanDns!.toLowerCase());
  if (client.tlsClientAuthSanUri !== null) return sans.some((s) => s.type === 'URI' && s.value === client.tlsClientAuthSanUri);
  if (client.tlsClientAuthSanIp !== null) {
    const want = canonicalIp(client.tlsClientAuthSanIp);
    return want !== undefined && sans.some((s) => s.type === 'IP Address' && canonicalIp(s.value) === want);
  }
  if (client.tlsClientAuthSanEmail !== null) return sans.some((s) => s.type === 'email' && s.value === client.tlsClientAuthSanEmail);
  return false;
}

/**
 * RFC 8705 §2.2: a self_signed_tls_client_auth client is authenticated when the certificate is
 * one it registered in `jwks`: the certificate's key has the RFC 7638 thumbprint of a registered
 * key, and where that key carries `x5c`, the certificate is its first entry, byte for byte.
 * No chain is checked (§2.2: the certificate is self-signed).
 * @see https://www.rfc-editor.org/rfc/rfc8705#section-2.2
 */
export async function matchesSelfSigned(client: Client, presented: PresentedCertificate): Promise<boolean> {
  if (client.tokenEndpointAuthMethod !== 'self_signed_tls_client_auth' || !client.jwks) return false;
  let thumbprint: string;
  try {
    thumbprint = await calculateJwkThumbprint(presented.cert.publicKey.export({ format: 'jwk' }) as JWK);
  } catch {
    return false;
  }
  for (const key of client.jwks.keys) {
    let registered: string;
    try {
      registered = await calculateJwkThumbprint(key as JWK);
    } catch {
      continue;
    }
    if (registered !== thumbprint) continue;
    const x5c = (key as { x5c?: unknown }).x5c;
    if (!Array.isArray(x5c)) return true;
    if (typeof x5c[0] === 'string' && Buffer.from(x5c[0], 'base64').equals(presented.cert.raw)) return true;
  }
  return false;
}
