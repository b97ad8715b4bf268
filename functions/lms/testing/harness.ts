// Hosts lms-api on a test database, as the platform hosts it (problem+json, body limit, events
// through the outbox with the catalog check), with a controlled clock and a stand-in ZenoAuth:
// a loopback JWKS per tenant and a signer of access tokens shaped as ZenoAuth issues them.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { catalog } from '#eventing/catalog';
import { loadConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import lmsApi from '../api/function.js';
import { createLmsApp, createRuntime, events } from '../api/app.js';
import { createAdminCheck } from '../api/admin-auth.js';
import type { LmsRuntime } from '../core/runtime.js';

export const BASE_URL = 'http://lms.test';

export interface LmsHarness {
  hosted: HostedFunction;
  runtime: LmsRuntime;
  /** The controlled clock: every rule reads it. */
  clock: { now: Date; advance(seconds: number): void };
  /** An access token of `tenant`'s issuer (scope lms:admin unless told). */
  token(tenant: string, opts?: { scope?: string; key?: CryptoKey; typ?: string; expiresIn?: string }): Promise<string>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export async function startLmsHarness(database: Database, opts: { bodyLimit?: number } = {}): Promise<LmsHarness> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  const server: Server = createServer((req, res) => {
    // Every tenant's issuer publishes the same key here; the issuer claim keeps tenants apart.
    if (req.url && /^\/auth\/[a-z0-9-]+\/jwks$/.test(req.url)) res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const authBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
  const clock = { now: new Date('2026-03-01T00:00:00Z'), advance(s: number) { this.now = new Date(this.now.getTime() + s * 1000); } };
  const config = loadConfig({ ZENO_BASE_URL: BASE_URL, ZENO_LOG_LEVEL: 'error', ZENO_BODY_LIMIT: String(opts.bodyLimit ?? 65_536), ZENO_DATA_DIR: `/nonexistent-${randomUUID()}` });
  const env = { LMS_MASTER_KEY: randomBytes(32).toString('base64'), LMS_AUTH_ISSUER_BASE: authBase };
  const publisher = createEventPublisher({ product: 'lms', source: '/lms/api', check: (e) => catalog.checkOutgoing(e) });
  let runtime: LmsRuntime | undefined;
  const decl = {
    ...lmsApi,
    load: async () => ({
      createApp: async (ctx: Parameters<typeof createRuntime>[0]) => {
        runtime = await createRuntime(ctx, () => clock.now);
        return createLmsApp(runtime, createAdminCheck({ issuer: (t) => `${authBase}/${t}`, jwksUrl: (t) => `${authBase}/${t}/jwks` }));
      },
      events: (ctx: Parameters<typeof events>[0]) => events(ctx, () => clock.now),
    }),
  };
  const hosted = await hostFunction(decl, { config, database, log: silentLogger, metrics: createMetrics({ defaults: false }), events: publisher, env, catalog });
  return {
    hosted,
    runtime: runtime!,
    clock,
    token: (tenant, o = {}) =>
      new SignJWT({ client_id: 'vendor-console', scope: o.scope ?? 'lms:admin', jti: randomUUID() })
        .setProtectedHeader({ alg: 'EdDSA', typ: o.typ ?? 'at+jwt', kid: 'k1' })
        .setIssuer(`${authBase}/${tenant}`)
        .setSubject(`admin-of-${tenant}`)
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '5m')
        .sign(o.key ?? privateKey),
    fetch: async (path, init) => hosted.app.fetch(new Request(BASE_URL + path, init), { incoming: { socket: { remoteAddress: '127.0.0.1' } } }),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
