// Logout across clients, end to end on the `npm start` stack (relay, Broker, dead letters) over real
// sockets and PostgreSQL: openid-client relying parties sign in through one browser session, the
// session ends (RP-initiated, by an admin, by SAML single logout), and real HTTP receivers verify
// each logout token with jose against the tenant's JWKS. Receivers that fail, recover, refuse,
// hang or were never in the session show the retries, the dead letters and the deadline.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { startStack, type RunningStack } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import { loadDeclaration } from '#shared/function/discover';
import { createMetrics } from '#shared/metrics/index';
import { silentLogger } from '#shared/log/index';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import adminFn from '#functions/auth/admin/function';
import authorizeFn from '#functions/auth/authorize/function';
import backchannelFn from '#functions/auth/backchannel-logout/function';
import oidcFn from '#functions/auth/oidc/function';
import samlFn from '#functions/auth/saml/function';
import tokenFn from '#functions/auth/token/function';
import { Browser } from '#functions/auth/testing/browser';
import { basicAuth, makeClient, makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { spKeyPair } from '#functions/auth/testing/saml';
import { decodeRedirectMessage, rawQuery, redirectUrl } from '#functions/auth/core/saml/bindings';
import { NAMEID_FORMAT } from '#functions/auth/core/saml/constants';
import { buildLogoutRequest } from '#functions/auth/core/saml/logout';
import { recordParticipant } from '#functions/auth/core/saml/participants';
import { BACKCHANNEL_LOGOUT_EVENT } from '#functions/auth/core/logout-token';
import { samlServiceProviders, type User } from '#functions/auth/core/schema';

const CALLBACK = 'http://localhost:9/callback';
const BYE = 'http://localhost:9/bye';
const REQUESTED = 'io.zenokube.auth.backchannel-logout.requested';
const PASSWORD = 'wonderland-42';

interface Hit {
  path: string;
  status: number;
  claims?: JWTPayload & Record<string, unknown>;
  header?: Record<string, unknown>;
}

/** Logout receivers of several clients on one loopback server, each with its own behaviour. */
class Receivers {
  readonly hits: Hit[] = [];
  readonly attempts = new Map<string, number>();
  readonly hanging: ServerResponse[] = [];
  server!: Server;
  base = '';
  jwks!: ReturnType<typeof createRemoteJWKSet>;
  issuer = '';
  /** path → client_id the token must be for. */
  readonly audience = new Map<string, string>();

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  of(path: string): Hit[] {
    return this.hits.filter((h) => h.path === path && h.status === 200);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '';
    const n = (this.attempts.get(path) ?? 0) + 1;
    this.attempts.set(path, n);
    // Never answers: the sender's deadline has to end the attempt.
    if (path === '/hang') return void this.hanging.push(res);
    let body = '';
    for await (const chunk of req) body += chunk;
    const answer = (status: number, hit: Omit<Hit, 'path' | 'status'> = {}) => {
      this.hits.push({ path, status, ...hit });
      res.writeHead(status, { 'cache-control': 'no-store' }).end();
    };
    if (path === '/flaky' && n <= 2) return answer(503);
    if (path === '/down') return answer(500);
    // §2.6 Logout Token Validation, as an RP does it.
    try {
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') throw new Error('not a form');
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      const { payload, protectedHeader } = await jwtVerify(token, this.jwks, {
        issuer: this.issuer,
        audience: this.audience.get(path)!,
        typ: 'logout+jwt',
        algorithms: ['RS256'],
        requiredClaims: ['iat', 'jti', 'exp', 'events'],
      });
      const events = payload.events as Record<string, unknown> | undefined;
      if (!events || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object') throw new Error('no back-channel logout event');
      if ('nonce' in payload) throw new Error('a nonce');
      if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
      answer(200, { claims: payload as JWTPayload & Record<string, unknown>, header: protectedHeader as Record<string, unknown> });
    } catch {
      answer(400);
    }
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const slow = (what: string) => <T>(probe: () => Promise<T | undefined> | T | undefined) => waitFor(what, probe, 3000, 20);

describe('ZenoAuth logout across clients (OIDC Back-Channel and Front-Channel Logout 1.0, SAML SLO)', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;
  let dataDir: string;
  let issuer: string;
  let base: string;
  let adminSecret: string;
  let alice: User;
  const rx = new Receivers();
  const secrets = new Map<string, string>();

  before(async () => {
    tdb = await createTestDatabase();
    await rx.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    issuer = `${base}/auth/acme`;
    rx.issuer = issuer;
    rx.jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    dataDir = await mkdtemp(join(tmpdir(), 'zk-logout-'));
    adminSecret = randomBytes(32).toString('base64url');
    const config = loadConfig({ PORT: String(port), HOST: '127.0.0.1', ZENO_BASE_URL: base, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'error' });
    // Short retries for the test: three after the first attempt, 20 ms × 2^n apart.
    const backchannel = {
      ...backchannelFn,
      subscribes: [
        { type: 'io.zenokube.auth.session.revoked', retry: 3, backoffDelay: 'PT0.02S' },
        { type: REQUESTED, retry: 3, backoffDelay: 'PT0.02S' },
      ],
    };
    stack = await startStack({
      platform: { config, log: silentLogger, metrics: createMetrics({ defaults: false }), database: tdb.database },
      declarations: [authorizeFn, tokenFn, oidcFn, adminFn, samlFn, backchannel, await loadDeclaration('events-dead-letters')],
      relay: { idleMs: 500, backoffMs: 50, leaseMs: 2_000 },
      dispatcher: { idleMs: 500, leaseMs: 5_000 },
      env: {
        ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'),
        ZENO_BOOTSTRAP_CLIENT_SECRET: adminSecret,
        ZENO_AUTH_BACKCHANNEL_LOGOUT_TIMEOUT_MS: '300',
      },
    });
    const db = tdb.database.db;
    const acme = await makeTenant(db, 'acme');
    alice = await makeUser(db, acme, { username: 'alice', email: 'alice@example.com', emailVerified: true, password: PASSWORD });
    const clients: [string, string][] = [['app-a', '/a'], ['app-flaky', '/flaky'], ['app-down', '/down'], ['app-hang', '/hang'], ['app-idle', '/idle']];
    for (const [id, path] of clients) {
      const { secret } = await makeClient(db, acme, {
        client_id: id,
        redirect_uris: [CALLBACK],
        post_logout_redirect_uris: [BYE],
        grant_types: ['authorization_code'],
        scope: 'openid profile',
        first_party: true,
        backchannel_logout_uri: `${rx.base}${path}`,
        backchannel_logout_session_required: true,
        ...(id === 'app-a' ? { frontchannel_logout_uri: 'http://localhost:9/fc?app=a', frontchannel_logout_session_required: true } : {}),
      });
      secrets.set(id, secret!);
      rx.audience.set(path, id);
    }
  });
  after(async () => {
    await stack?.stop();
    await rx.close();
    await tdb?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  async function rp(clientId: string): Promise<oidc.Configuration> {
    return oidc.discovery(new URL(issuer), clientId, secrets.get(clientId)!, undefined, { execute: [oidc.allowInsecureRequests] });
  }

  /** A code flow of `clientId` in `browser` (signing in when it has no session); the token response. */
  async function codeFlow(browser: Browser, clientId: string) {
    const config = await rp(clientId);
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
    let res = await browser.fetch(url);
    if (res.status === 200) {
      const html = await res.text();
      assert.match(html, /name="password"/);
      res = await browser.submit(html, { username: 'alice', password: PASSWORD }, /\/login$/);
    }
    assert.equal(res.status, 303, `no redirect to the client: ${res.status}`);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(res.headers.get('location')!), { pkceCodeVerifier: verifier, expectedState: state });
    return { config, tokens, sid: tokens.claims()!.sid as string };
  }

  const deadLetters = async () =>
    tdb.database.query<{ client: string; attempts: number; last_error: string | null }>(sql`
      select convert_from(e.data, 'UTF8')::jsonb ->> 'clientId' as client, d.attempts, d.last_error
      from eventing.dead_letters d join eventing.events e on e.seq = d.event_seq
      where e.attributes ->> 'type' = ${REQUESTED}`);
  const settled = async () => ((await tdb.database.query<{ n: string }>(sql`select count(*) as n from eventing.deliveries`))[0]!.n === '0' ? true : undefined);

  it('Discovery §2.1 / Front-Channel §3: announces back- and front-channel logout with session support; DCR takes the metadata (§2.2)', async () => {
    const meta = (await rp('app-a')).serverMetadata() as Record<string, unknown>;
    assert.equal(meta.backchannel_logout_supported, true);
    assert.equal(meta.backchannel_logout_session_supported, true);
    assert.equal(meta.frontchannel_logout_supported, true);
    assert.equal(meta.frontchannel_logout_session_supported, true);
    const adminToken = await systemAdminToken();
    const registered = await oidc.dynamicClientRegistration(
      new URL(issuer),
      { redirect_uris: [CALLBACK], backchannel_logout_uri: `${rx.base}/dcr`, backchannel_logout_session_required: true, frontchannel_logout_uri: 'http://localhost:9/fc' },
      undefined,
      { execute: [oidc.allowInsecureRequests], initialAccessToken: adminToken },
    );
    const m = registered.clientMetadata();
    assert.equal(m.backchannel_logout_uri, `${rx.base}/dcr`);
    assert.equal(m.backchannel_logout_session_required, true);
    assert.equal(m.frontchannel_logout_uri, 'http://localhost:9/fc');
    // Hostile metadata: a fragment, a foreign scheme, a front-channel origin that is no redirect URI's.
    for (const bad of [{ backchannel_logout_uri: 'https://rp.example/logout#x' }, { backchannel_logout_uri: 'ftp://rp.example/logout' }, { backchannel_logout_uri: 'http://rp.example/logout' }, { frontchannel_logout_uri: 'https://elsewhere.example/fc' }]) {
      const res = await fetch(`${issuer}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` }, body: JSON.stringify({ redirect_uris: [CALLBACK], ...bad }) });
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_client_metadata', JSON.stringify(bad));
    }
  });

  it('Back-Channel §2.4-§2.7, Front-Channel §3, Core §2 sid: one sid across clients; logout tokens verified with jose; a failing client retried until it recovers; a dead one and a hanging one dead-lettered; no token to a client not in the session', async () => {
    const browser = new Browser('Logout/1.0');
    const a = await codeFlow(browser, 'app-a');
    const others = [await codeFlow(browser, 'app-flaky'), await codeFlow(browser, 'app-down'), await codeFlow(browser, 'app-hang')];
    // Core §2 `sid`: the same browser session is the same sid at every client.
    assert.match(a.sid, /^[0-9a-f-]{36}$/);
    for (const o of others) assert.equal(o.sid, a.sid);
    // app-idle signs in too, but from another browser: another session.
    const elsewhere = await codeFlow(new Browser('Other/1.0'), 'app-idle');
    assert.notEqual(elsewhere.sid, a.sid);

    // RP-Initiated Logout with openid-client's end-session URL; the user's logout does not wait for any client.
    const endSession = oidc.buildEndSessionUrl(a.config, { id_token_hint: a.tokens.id_token!, post_logout_redirect_uri: BYE, state: 'st-1' });
    const page = await browser.fetch(endSession);
    assert.equal(page.status, 200);
    const html = await page.text();
    // Front-Channel §3: the participating client's URI in an iframe, with iss and sid (§2: session required).
    const frames = [...html.matchAll(/<iframe[^>]*src="([^"]+)"/g)].map((m) => new URL(m[1]!.replace(/&amp;/g, '&')));
    assert.equal(frames.length, 1, 'one front-channel client in the session');
    assert.equal(frames[0]!.origin + frames[0]!.pathname, 'http://localhost:9/fc');
    assert.equal(frames[0]!.searchParams.get('app'), 'a');
    assert.equal(frames[0]!.searchParams.get('iss'), issuer);
    assert.equal(frames[0]!.searchParams.get('sid'), a.sid);
    assert.match(html.replace(/&amp;/g, '&'), /http:\/\/localhost:9\/bye\?state=st-1/);

    // §2.4: a logout token signed with the tenant key, verified by the receiver with jose against the JWKS.
    const [hitA] = await slow('the logout token of app-a')(() => rx.of('/a')[0] && rx.of('/a'));
    assert.equal(hitA!.header!.typ, 'logout+jwt');
    assert.equal(hitA!.claims!.iss, issuer);
    assert.equal(hitA!.claims!.aud, 'app-a');
    assert.equal(hitA!.claims!.sub, alice.id);
    assert.equal(hitA!.claims!.sid, a.sid);
    assert.equal(typeof hitA!.claims!.jti, 'string');
    assert.equal(typeof hitA!.claims!.iat, 'number');
    assert.deepEqual(hitA!.claims!.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} });
    assert.equal(hitA!.claims!.nonce, undefined);

    // Retries: two 503s, then the client recovers and gets its token on the third attempt.
    const [flaky] = await slow('the logout token of app-flaky')(() => rx.of('/flaky')[0] && rx.of('/flaky'));
    assert.equal(flaky!.claims!.sid, a.sid);
    assert.equal(rx.attempts.get('/flaky'), 3);

    // Dead letters after the last attempt: one attempt and three retries, for the failing and the hanging client.
    const dead = await slow('both dead letters')(async () => {
      const rows = await deadLetters();
      return rows.length >= 2 ? rows : undefined;
    });
    assert.deepEqual(dead.map((d) => d.client).sort(), ['app-down', 'app-hang']);
    for (const d of dead) assert.equal(d.attempts, 4, d.client);
    assert.equal(rx.attempts.get('/down'), 4);
    assert.equal(rx.attempts.get('/hang'), 4, 'each hanging attempt ended by the deadline and was retried');
    assert.equal(rx.of('/down').length + rx.of('/hang').length, 0);

    // The dead-letter function holds them too, for an admin to see and replay.
    const listed = (await (await fetch(`${base}/events/dead-letters?type=${REQUESTED}`, { headers: { authorization: `Bearer ${await systemAdminToken()}` } })).json()) as { items: unknown[] };
    assert.equal(listed.items.length, 2);

    // §2.7: nothing for the client that was not in the ended session.
    await slow('the deliveries to settle')(settled);
    assert.equal(rx.attempts.get('/idle'), undefined);
    // The session is over: the ID token hint's session no longer signs the browser in.
    const again = await browser.fetch(oidc.buildAuthorizationUrl(a.config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()), code_challenge_method: 'S256' }));
    assert.equal(again.status, 200, 'the sign-in page again');
  });

  it('Back-Channel §2.7 on admin revocation: revoking all sessions of a user sends each client its session\'s sid', async () => {
    const browser = new Browser('Admin/1.0');
    const a = await codeFlow(browser, 'app-a');
    const before = rx.of('/a').length;
    const beforeIdle = rx.of('/idle').length;
    const res = await fetch(`${base}/auth/admin/tenants/acme/users/${alice.id}/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${await systemAdminToken()}` } });
    assert.equal(res.status, 200);
    const hits = await slow('the logout token of app-a')(() => (rx.of('/a').length > before ? rx.of('/a') : undefined));
    assert.equal(hits.at(-1)!.claims!.sid, a.sid);
    // app-idle's session (the other browser of the previous test) ended too: now it is told.
    const idle = await slow('the logout token of app-idle')(() => (rx.of('/idle').length > beforeIdle ? rx.of('/idle') : undefined));
    assert.notEqual(idle.at(-1)!.claims!.sid, a.sid);
  });

  it('Back-Channel §2.7 on the user\'s own sign-out of a session at {issuer}/account/sessions', async () => {
    const device = new Browser('Device/1.0');
    const a = await codeFlow(device, 'app-a');
    const me = new Browser('Me/1.0');
    await codeFlow(me, 'app-idle');
    const before = rx.of('/a').length;
    const page = await me.fetch(`${issuer}/account/sessions`);
    const html = await page.text();
    assert.equal(page.status, 200);
    const res = await me.submit(html, { session: a.sid }, /\/account\/sessions$/);
    assert.equal(res.status, 200);
    const hits = await slow('the logout token of app-a')(() => (rx.of('/a').length > before ? rx.of('/a') : undefined));
    assert.equal(hits.at(-1)!.claims!.sid, a.sid);
  });

  it('SAML Profiles §4.4 joined with OIDC: OIDC logout frames a LogoutRequest to the session\'s SP; an SP\'s signed LogoutRequest ends the session and brings back-channel logout tokens', async () => {
    const db = tdb.database.db;
    const tenantId = alice.tenantId;
    const sp = spKeyPair('sp.example');
    const [row] = await db
      .insert(samlServiceProviders)
      .values({ tenantId, entityId: 'https://sp.example/metadata', acs: [{ url: 'https://sp.example/acs', index: 0, binding: 'post', isDefault: true }], sloUrl: 'https://sp.example/slo', sloBinding: 'redirect', certificates: [sp.certDer], nameIdFormat: NAMEID_FORMAT.email })
      .returning();
    const spId = row!.id;

    // OIDC logout → SAML: the SP of the session gets a signed LogoutRequest in a frame.
    const browser = new Browser('Saml/1.0');
    const a = await codeFlow(browser, 'app-a');
    await recordParticipant(db, { tenantId, sessionId: a.sid, spId, nameId: 'alice@example.com', nameIdFormat: NAMEID_FORMAT.email, sessionIndex: 'idx-1' });
    const page = await browser.fetch(oidc.buildEndSessionUrl(a.config, { id_token_hint: a.tokens.id_token! }));
    const html = (await page.text()).replace(/&amp;/g, '&');
    const samlFrame = [...html.matchAll(/<iframe[^>]*src="([^"]+)"/g)].map((m) => new URL(m[1]!)).find((u) => u.origin === 'https://sp.example');
    assert.ok(samlFrame, 'a frame to the SP');
    assert.equal(samlFrame.pathname, '/slo');
    assert.ok(samlFrame.searchParams.get('Signature'));
    const request = decodeRedirectMessage(rawQuery(samlFrame.toString()).get('SAMLRequest')!);
    assert.match(request, /<samlp:LogoutRequest[^>]*Destination="https:\/\/sp\.example\/slo"/);
    assert.match(request, />alice@example\.com<\/saml:NameID>/);
    assert.match(request, /<samlp:SessionIndex>idx-1<\/samlp:SessionIndex>/);

    // SAML SLO from the SP → the OIDC session ends and app-a gets its logout token.
    const other = new Browser('Saml/2.0');
    const b = await codeFlow(other, 'app-a');
    await recordParticipant(db, { tenantId, sessionId: b.sid, spId, nameId: 'alice@example.com', nameIdFormat: NAMEID_FORMAT.email, sessionIndex: 'idx-2' });
    const before = rx.of('/a').length;
    const { xml } = buildLogoutRequest({ idpEntityId: 'https://sp.example/metadata', destination: `${issuer}/saml/slo`, nameId: 'alice@example.com', nameIdFormat: NAMEID_FORMAT.email, spEntityId: 'https://sp.example/metadata', sessionIndex: 'idx-2' });
    const slo = await other.fetch(redirectUrl(`${issuer}/saml/slo`, 'SAMLRequest', xml, undefined, sp.privateKey));
    assert.ok(slo.status === 303 || slo.status === 200, `SLO answered ${slo.status}`);
    const hits = await slow('the logout token after SAML SLO')(() => (rx.of('/a').length > before ? rx.of('/a') : undefined));
    assert.equal(hits.at(-1)!.claims!.sid, b.sid);
    assert.notEqual(b.sid, a.sid);
  });

  async function systemAdminToken(): Promise<string> {
    const res = await fetch(`${base}/auth/system/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth('zeno-admin', adminSecret) },
      body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
    });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { access_token: string }).access_token;
  }
});

