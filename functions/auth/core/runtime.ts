// What every ZenoAuth function builds once at start: the master key, the key store, the tenant
// resolver, the audit buffer, and a lazy bootstrap that runs on the first request.
import type { Database, Db } from '#shared/db/index';
import type { EventPublisher } from '#shared/events/publisher';
import type { FunctionContext } from '#shared/function/define';
import type { Logger } from '#shared/log/index';
import { createAuditBuffer, type AuditBuffer } from './audit.js';
import { ensureBootstrap } from './bootstrap.js';
import { createKeyStore, type KeyStore } from './keys.js';
import { createDpopNonces, type DpopNonces } from './dpop-nonces.js';
import { createMfaSecrets, type MfaSecrets } from './mfa-secrets.js';
import { createPushSealer, type PushSealer } from './scim-push-secrets.js';
import { resolveKey } from '#shared/crypto/key-file';
import { createTenantResolver, issuerFor, type TenantResolver } from './tenants.js';

export interface AuthRuntime {
  /** The pool: single statements, never from inside a transaction (use its `tx`). */
  readonly db: Db;
  /** Opens a transaction; its callback gets `tx` and must send every statement on it. */
  readonly transaction: Database['transaction'];
  readonly keys: KeyStore;
  /** Seals TOTP secrets and MACs recovery codes (keys derived from the master key). */
  readonly mfa: MfaSecrets;
  /** Seals the bearer credentials of outbound SCIM targets. */
  readonly pushSealer: PushSealer;
  /** Issues and checks DPoP-Nonce values (RFC 9449 §8), keyed from the master key. */
  readonly dpopNonces: DpopNonces;
  readonly tenants: TenantResolver;
  readonly auditBuffer: AuditBuffer;
  readonly events: EventPublisher;
  readonly log: Logger;
  readonly baseUrl: string;
  /** True when the public base URL is https (cookies get `Secure`). */
  readonly secureCookies: boolean;
  issuer(slug: string): string;
  /** HMAC key of the ingress's client certificate proofs (ZENO_CLIENT_CERT_KEY); no certificate is believed without it. */
  readonly clientCertKey: Buffer | undefined;
  /** Public base URL of the mTLS listener when it differs from baseUrl (ZENO_AUTH_MTLS_BASE_URL). */
  readonly mtlsBaseUrl: string | undefined;
  /** The URLs a client may present a certificate at for the endpoint `url`: itself, and its mTLS alias. */
  mtlsUrls(url: string): string[];
  /** Peers whose X-Forwarded-For hops are believed (ZENO_TRUSTED_PROXIES). */
  readonly trustedProxies: readonly string[];
  /** Resolves once the system tenant and admin client exist (retried after a failure). */
  ready(): Promise<void>;
  /** True once ready() has resolved: the hot path then skips awaiting it. */
  readonly isReady: boolean;
}

export async function createAuthRuntime(ctx: FunctionContext): Promise<AuthRuntime> {
  const inCluster = ctx.config.serviceName !== undefined;
  const masterKey = await resolveKey({
    configured: ctx.env.ZENO_AUTH_MASTER_KEY,
    variable: 'ZENO_AUTH_MASTER_KEY',
    file: ['auth', 'master.key'],
    dataDir: ctx.config.dataDir,
    allowGenerate: !inCluster,
  });
  const clientCertKey = ctx.env.ZENO_CLIENT_CERT_KEY ? Buffer.from(ctx.env.ZENO_CLIENT_CERT_KEY, 'base64') : undefined;
  if (clientCertKey && clientCertKey.length < 32) throw new Error('ZENO_CLIENT_CERT_KEY must be base64 of at least 32 bytes');
  const mtlsBaseUrl = ctx.env.ZENO_AUTH_MTLS_BASE_URL?.replace(/\/+$/, '');
  if (mtlsBaseUrl !== undefined && !/^https:\/\/[^/?#]+(\/[^?#]*)?$/.test(mtlsBaseUrl)) throw new Error('ZENO_AUTH_MTLS_BASE_URL must be an https URL without query or fragment');
  const baseUrl = ctx.config.baseUrl.replace(/\/+$/, '');
  const db = ctx.database.db;
  let booted: Promise<void> | undefined;
  let isReady = false;
  return {
    db,
    transaction: ctx.database.transaction,
    keys: createKeyStore(db, masterKey),
    mfa: createMfaSecrets(masterKey),
    pushSealer: createPushSealer(masterKey),
    dpopNonces: createDpopNonces(masterKey),
    tenants: createTenantResolver(db),
    auditBuffer: createAuditBuffer(db, ctx.log),
    events: ctx.events,
    log: ctx.log,
    baseUrl: ctx.config.baseUrl,
    secureCookies: ctx.config.baseUrl.startsWith('https:'),
    issuer: (slug) => issuerFor(ctx.config.baseUrl, slug),
    trustedProxies: ctx.config.trustedProxies,
    clientCertKey,
    mtlsBaseUrl,
    mtlsUrls: (url) => (mtlsBaseUrl && url.startsWith(`${baseUrl}/`) ? [url, mtlsBaseUrl + url.slice(baseUrl.length)] : [url]),
    ready() {
      booted ??= ensureBootstrap(db, {
        configuredSecret: ctx.env.ZENO_BOOTSTRAP_CLIENT_SECRET,
        dataDir: ctx.config.dataDir,
        allowGenerate: !inCluster,
        announce: (m) => process.stdout.write(m),
      }).then(
        () => {
          isReady = true;
        },
        (err: unknown) => {
          booted = undefined;
          throw err;
        },
      );
      return booted;
    },
    get isReady() {
      return isReady;
    },
  };
}
