// The client certificate of a TLS connection, forwarded upstream as RFC 9440's `Client-Cert`
// with the ingress's proof beside it (shared/http/client-cert-proof.ts), for the services that
// authenticate clients by certificate (ZenoAuth's RFC 8705 mutual TLS).
// @see https://www.rfc-editor.org/rfc/rfc9440#section-2
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { TLSSocket } from 'node:tls';
import { certificateDigest, signClientCertProof } from '#shared/http/client-cert-proof';

interface PeerCertificate {
  /** RFC 9440 §2.1: the DER bytes as a structured-field byte sequence, `:base64:`. */
  field: string;
  digest: string;
  /** The chain verified against the listener's CA (node's `authorized`). */
  verified: boolean;
}

/** Per connection: the certificate is read and hashed once; null when none was presented. */
const peers = new WeakMap<TLSSocket, PeerCertificate | null>();

function tlsSocketOf(req: IncomingMessage | Http2ServerRequest): TLSSocket | undefined {
  const socket = 'stream' in req ? req.stream.session?.socket : req.socket;
  return socket instanceof TLSSocket ? socket : undefined;
}

function peerOf(socket: TLSSocket): PeerCertificate | null {
  let peer = peers.get(socket);
  if (peer === undefined) {
    const cert = socket.getPeerX509Certificate();
    peer = cert ? { field: `:${cert.raw.toString('base64')}:`, digest: certificateDigest(cert.raw), verified: socket.authorized } : null;
    peers.set(socket, peer);
  }
  return peer;
}

/**
 * Appends `Client-Cert` and its proof to `out` for a request on a TLS connection whose client
 * presented a certificate; nothing otherwise (a plain connection, a tunnel stream, no certificate).
 */
export function pushClientCert(out: string[], key: Buffer, req: IncomingMessage | Http2ServerRequest, method: string, host: string, path: string): void {
  const socket = tlsSocketOf(req);
  const peer = socket && peerOf(socket);
  if (!peer) return;
  out.push('client-cert', peer.field, 'zeno-client-cert-proof', signClientCertProof(key, peer.digest, peer.verified, method, host, path));
}
