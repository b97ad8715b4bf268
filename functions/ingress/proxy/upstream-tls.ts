// TLS to an upstream as its BackendTLSPolicy says: the policy's hostname as SNI, the chain checked
// against the policy's certificates (or the system's), and the certificate's name checked against
// the hostname, or against one of the policy's subjectAltNames when it lists them.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1alpha3.BackendTLSPolicyValidation
import { request as httpRequest } from 'node:http';
import type { ClientRequest, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { checkServerIdentity, rootCertificates } from 'node:tls';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { UpstreamTls } from '../engine/backend-tls.js';
import type { Endpoint } from '../engine/references.js';

/**
 * "If SubjectAltNames are specified, ... the certificate served by the backend MUST match at
 * least one of them"; the hostname is then only the SNI.
 */
function checkSubjectAltNames(tls: UpstreamTls, cert: PeerCertificate): Error | undefined {
  const uris = (cert.subjectaltname ?? '').split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice(4));
  for (const san of tls.subjectAltNames) {
    if (san.type === 'URI' ? uris.includes(san.value) : checkServerIdentity(san.value, cert) === undefined) return undefined;
  }
  return Object.assign(new Error(`the upstream certificate matches none of the subjectAltNames of the BackendTLSPolicy`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
}

/** node:tls connect options for an upstream under `tls`. */
export function upstreamTlsOptions(tls: UpstreamTls): ConnectionOptions {
  return {
    servername: tls.servername,
    // System: node's bundled root certificates, as `ca` left out would give.
    ca: tls.ca ?? [...rootCertificates],
    rejectUnauthorized: true,
    ALPNProtocols: ['http/1.1'],
    checkServerIdentity: tls.subjectAltNames.length > 0 ? (_host, cert) => checkSubjectAltNames(tls, cert) : (_host, cert) => checkServerIdentity(tls.servername, cert),
  };
}

/**
 * A node:http request to `ep` (mirrors, upgrades), over TLS when a policy says so; TLS requests go
 * without the shared cleartext agent.
 */
export function requestUpstream(ep: Endpoint, options: RequestOptions): ClientRequest {
  return ep.tls ? httpsRequest({ ...options, ...upstreamTlsOptions(ep.tls), agent: false }) : httpRequest(options);
}
