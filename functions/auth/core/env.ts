// The environment variables every ZenoAuth function declares (validated by the platform at boot).
import type { EnvDeclaration } from '#shared/function/define';

export const AUTH_ENV: Record<string, EnvDeclaration> = {
  ZENO_AUTH_MASTER_KEY: {
    description: 'base64 of 32 random bytes sealing signing keys at rest (on one machine: generated under the data dir when unset)',
    secret: { name: 'zeno-auth', key: 'master-key' },
  },
  ZENO_BOOTSTRAP_CLIENT_SECRET: {
    description: 'secret of the system tenant admin client zeno-admin (on one machine: generated and printed once when unset)',
    secret: { name: 'zeno-auth', key: 'bootstrap-client-secret' },
  },
  ZENO_CLIENT_CERT_KEY: {
    description: 'base64 of at least 32 bytes shared with the ingress: forwarded TLS client certificates (RFC 8705 mutual TLS) are believed only with its proof (unset: no client certificate is accepted)',
    secret: { name: 'zeno-client-cert', key: 'key' },
  },
  ZENO_AUTH_MTLS_BASE_URL: {
    description: 'public base URL of the listener that asks for client certificates, when it is not ZENO_BASE_URL: discovery names the endpoints there as mtls_endpoint_aliases (RFC 8705 §5)',
  },
};

/** The password rule's settings, declared by every function that sets passwords (auth-authorize, auth-admin, auth-scim). */
export const PASSWORD_POLICY_ENV: Record<string, EnvDeclaration> = {
  ZENO_AUTH_PASSWORD_MIN_LENGTH: {
    description: 'fewest characters a new password may have (8 to 64; default 10)',
  },
  ZENO_AUTH_BREACHED_PASSWORDS_FILE: {
    description: 'path of a local Pwned Passwords list (sorted lines `<SHA-1 hex>:<count>`); a new password found in it is refused (unset: no breach check)',
  },
};
