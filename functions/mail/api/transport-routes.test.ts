import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import mailApi from './function.js';

const T = 'acme';
const GUID = '11111111-2222-3333-4444-555555555555';

describe('mail-api transports and DKIM keys (scope mail:admin)', () => {
  let tdb: TestDatabase;
  let h: MailHarness;
  let admin: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    h = await startMailHarness(tdb.database, [mailApi]);
    admin = await h.issuer.token(T, 'mail:admin');
  });
  after(async () => {
    await h?.close();
    await tdb?.drop();
  });

  function api(method: string, path: string, body?: unknown, token = admin) {
    return h.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  }
  /** Every text of every row of the two tables, as the database holds them. */
  const rawRows = async () => JSON.stringify([...(await tdb.database.query(sql`select * from mail.transports`)), ...(await tdb.database.query(sql`select * from mail.dkim_keys`))]);
  const problem = async (r: Response) => {
    assert.match(r.headers.get('content-type') ?? '', /application\/problem\+json/);
    return (await r.json()) as { code: string; detail?: string };
  };

  it('shows the default transport until the tenant sets its own', async () => {
    const r = await api('GET', `/mail/${T}/v1/transport`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { type: 'default' });
  });

  it('stores an SMTP relay from a URL with the password sealed and never shown', async () => {
    const r = await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', url: 'smtps://relay%40acme:S3cret-p%40ss@Smtp.Acme.test' });
    assert.equal(r.status, 200, await r.clone().text());
    const view = (await r.json()) as Record<string, unknown>;
    assert.deepEqual(view, { type: 'smtp', host: 'smtp.acme.test', port: 465, security: 'tls', user: 'relay@acme', hasPassword: true });
    const got = (await (await api('GET', `/mail/${T}/v1/transport`)).json()) as Record<string, unknown>;
    assert.equal(got.hasPassword, true);
    assert.ok(!JSON.stringify(got).includes('S3cret'));
    assert.ok(!(await rawRows()).includes('S3cret'), 'the password is sealed at rest');
    const [row] = await tdb.database.query<{ secret: string }>(sql`select secret from mail.transports where tenant = ${T}`);
    assert.match(row!.secret, /^[A-Za-z0-9_-]{40,}$/);
  });

  it('stores a Microsoft Graph app with the client secret sealed', async () => {
    const r = await api('PUT', `/mail/${T}/v1/transport`, { type: 'graph', tenantId: GUID, clientId: GUID, clientSecret: 'graph~secret~value', sender: 'mailer@acme.test' });
    assert.equal(r.status, 200, await r.clone().text());
    const view = (await r.json()) as Record<string, unknown>;
    assert.equal(view.type, 'graph');
    assert.equal(view.tokenUrl, `https://login.microsoftonline.com/${GUID}/oauth2/v2.0/token`);
    assert.equal(view.graphUrl, 'https://graph.microsoft.com/v1.0');
    assert.equal(view.hasClientSecret, true);
    assert.ok(!JSON.stringify(await (await api('GET', `/mail/${T}/v1/transport`)).json()).includes('graph~secret'));
    assert.ok(!(await rawRows()).includes('graph~secret'));
    assert.ok(!(await rawRows()).includes('S3cret'), 'the replaced password is gone');
  });

  it('refuses invalid transport settings with a problem saying what is wrong, and keeps the old one', async () => {
    const cases: [unknown, number, string, RegExp?][] = [
      [{ type: 'smtp', url: 'http://relay.acme.test' }, 422, 'invalid_transport', /smtp:\/\//],
      [{ type: 'smtp', url: 'not a url' }, 422, 'invalid_transport', /not a URL/],
      [{ type: 'smtp', host: 'relay.acme.test', port: 70000 }, 422, 'invalid_transport', /port/],
      [{ type: 'smtp', host: 'relay acme' }, 422, 'invalid_transport', /host/],
      [{ type: 'smtp', host: 'relay.acme.test', password: 'x' }, 422, 'invalid_transport', /needs a user/],
      [{ type: 'smtp' }, 422, 'invalid_transport', /url or host/],
      [{ type: 'smtp', host: 'relay.acme.test\r\nX: y' }, 422, 'validation_failed'],
      [{ type: 'smtp', host: 'relay.acme.test', security: 'maybe' }, 422, 'validation_failed'],
      [{ type: 'pigeon' }, 422, 'validation_failed'],
      [{ type: 'graph', tenantId: GUID, clientId: 'not-a-guid', clientSecret: 's', sender: 'a@b.c' }, 422, 'invalid_transport', /clientId/],
      [{ type: 'graph', tenantId: GUID, clientId: GUID, clientSecret: 's', sender: 'a@b.c', graphUrl: 'http://graph.example.com/v1.0' }, 422, 'invalid_transport', /https/],
      [{ type: 'graph', tenantId: GUID, clientId: GUID, clientSecret: 's', sender: 'a@b.c', tokenUrl: 'https://u:p@login.example.com/t' }, 422, 'invalid_transport', /credentials/],
      [{ type: 'graph', tenantId: GUID, clientId: GUID, sender: 'a@b.c' }, 422, 'validation_failed'],
    ];
    for (const [body, status, code, detail] of cases) {
      const r = await api('PUT', `/mail/${T}/v1/transport`, body);
      assert.equal(r.status, status, JSON.stringify(body));
      const p = await problem(r);
      assert.equal(p.code, code, JSON.stringify(body));
      if (detail) assert.match(p.detail ?? '', detail);
    }
    const malformed = await h.request(`/mail/${T}/v1/transport`, { method: 'PUT', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"type":' });
    assert.equal(malformed.status, 400);
    assert.equal(((await (await api('GET', `/mail/${T}/v1/transport`)).json()) as { type: string }).type, 'graph');
  });

  it('takes http endpoints only on loopback, for a local peer', async () => {
    const r = await api('PUT', `/mail/${T}/v1/transport`, { type: 'graph', tenantId: GUID, clientId: GUID, clientSecret: 's', sender: 'a@b.c', tokenUrl: 'http://127.0.0.1:9/token', graphUrl: 'http://localhost:9/v1.0/' });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { graphUrl: string }).graphUrl, 'http://localhost:9/v1.0');
  });

  it('goes back to the default transport on DELETE, and a second DELETE is a 404', async () => {
    assert.equal((await api('DELETE', `/mail/${T}/v1/transport`)).status, 204);
    assert.deepEqual(await (await api('GET', `/mail/${T}/v1/transport`)).json(), { type: 'default' });
    assert.equal((await api('DELETE', `/mail/${T}/v1/transport`)).status, 404);
  });

  it('needs mail:admin and keeps tenants apart', async () => {
    const send = await h.issuer.token(T, 'mail:send');
    assert.equal((await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', host: 'x.acme.test' }, send)).status, 403);
    assert.equal((await api('GET', `/mail/${T}/v1/dkim`, undefined, send)).status, 403);
    assert.equal((await api('PUT', `/mail/${T}/v1/transport`, { type: 'smtp', host: 'relay.acme.test', user: 'u', password: 'p' })).status, 200);
    const other = await h.issuer.token('globex', 'mail:admin');
    assert.equal((await api('GET', `/mail/acme/v1/transport`, undefined, other)).status, 401, 'another issuer');
    assert.deepEqual(await (await api('GET', `/mail/globex/v1/transport`, undefined, other)).json(), { type: 'default' });
  });

  it('generates a DKIM key and shows the TXT record to publish, the private key sealed', async () => {
    const r = await api('PUT', `/mail/${T}/v1/dkim/Mail.Acme.test`, { selector: 'zk2026' });
    assert.equal(r.status, 201, await r.clone().text());
    const body = (await r.json()) as { domain: string; selector: string; dns: { name: string; type: string; value: string } };
    assert.equal(body.domain, 'mail.acme.test');
    assert.equal(body.dns.name, 'zk2026._domainkey.mail.acme.test');
    assert.equal(body.dns.type, 'TXT');
    const p = /^v=DKIM1; k=rsa; p=([A-Za-z0-9+/=]+)$/.exec(body.dns.value)![1]!;
    const pub = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
    assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(!(await rawRows()).includes('PRIVATE KEY'), 'no private key in clear');
    const list = (await (await api('GET', `/mail/${T}/v1/dkim`)).json()) as { keys: { domain: string; dns: { value: string } }[] };
    assert.deepEqual(list.keys.map((k) => k.domain), ['mail.acme.test']);
    assert.ok(!JSON.stringify(list).includes('PRIVATE'));
  });

  it('imports an RSA key and refuses one that is not RSA, too short or not PEM', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const r = await api('PUT', `/mail/${T}/v1/dkim/acme.test`, { selector: 'imported', privateKey: rsa });
    assert.equal(r.status, 201);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const short = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (const privateKey of [ed, short, 'not a key']) {
      const bad = await api('PUT', `/mail/${T}/v1/dkim/acme.test`, { selector: 'bad', privateKey });
      assert.equal(bad.status, 422);
      assert.equal((await problem(bad)).code, 'invalid_dkim_key');
    }
    assert.equal((await problem(await api('PUT', `/mail/${T}/v1/dkim/acme.test`, { selector: 'bad_selector!' }))).code, 'invalid_selector');
    assert.equal((await problem(await api('PUT', `/mail/${T}/v1/dkim/not_a_domain`, { selector: 's' }))).code, 'invalid_domain');
    assert.equal((await problem(await api('PUT', `/mail/${T}/v1/dkim/acme.test`, {}))).code, 'validation_failed');
    const keys = ((await (await api('GET', `/mail/${T}/v1/dkim`)).json()) as { keys: { domain: string; selector: string }[] }).keys;
    assert.deepEqual(keys.map((k) => [k.domain, k.selector]), [['acme.test', 'imported'], ['mail.acme.test', 'zk2026']]);
    assert.equal((await api('DELETE', `/mail/${T}/v1/dkim/acme.test`)).status, 204);
    assert.equal((await api('DELETE', `/mail/${T}/v1/dkim/acme.test`)).status, 404);
  });

  it('records every change in the audit table without a secret', async () => {
    const rows = await tdb.database.query<{ action: string; target: string }>(sql`select action, target from mail.audit where tenant = ${T} order by seq`);
    const actions = rows.map((r) => r.action);
    for (const a of ['transport.set', 'transport.remove', 'dkim.generate', 'dkim.import', 'dkim.remove']) assert.ok(actions.includes(a), a);
    assert.ok(!JSON.stringify(rows).match(/S3cret|graph~secret/));
  });
});
