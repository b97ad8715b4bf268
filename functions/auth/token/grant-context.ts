// What every grant handler receives once the tenant is known and the client authenticated.
import type { RequestMeta } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { VerifiedProof } from '../core/dpop.js';
import type { PresentedCertificate } from '../core/mtls.js';
import type { Client, Tenant } from '../core/schema.js';

export interface GrantContext {
  rt: AuthRuntime;
  tenant: Tenant;
  issuer: string;
  client: Client;
  params: URLSearchParams;
  meta: RequestMeta;
  /** The request's DPoP proof (RFC 9449 §5), checked and remembered, when it carried one. */
  dpop?: VerifiedProof | undefined;
  /** The TLS client certificate the ingress vouched for (RFC 8705), when one was presented. */
  certificate?: PresentedCertificate | undefined;
  /** The certificate thumbprint the issued access tokens are bound to (RFC 8705 §3), when bound. */
  x5t?: string | undefined;
}
