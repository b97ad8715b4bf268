import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import mailApi from './function.js';

const T = 'acme';

describe("built-in templates for ZenoAuth's account e-mails", () => {
  let tdb: TestDatabase;
  let h: MailHarness;
  let admin: string;
  let send: string;

  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    h = await startMailHarness(tdb.database, [mailApi]);
    admin = await h.issuer.token(T, 'mail:admin');
    send = await h.issuer.token(T, 'mail:send');
    await api('PUT', `/mail/${T}/v1/senders/acme.test`);
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
  const preview = async (name: string, body: unknown) => {
    const r = await api('POST', `/mail/${T}/v1/templates/${name}/preview`, body);
    return { status: r.status, body: (await r.json()) as { locale: string; version: number; subject: string; text: string; html: string; code?: string; missing?: string[] } };
  };

  it('renders the notice of a changed address to the former one, in English and German', async () => {
    const variables = { name: 'Ann', newEmail: 'a***@new.example' };
    const en = await preview('zenoauth.email-changed', { variables });
    assert.equal(en.status, 200);
    assert.equal(en.body.version, 0);
    assert.match(en.body.html, /changed to a\*\*\*@new\.example/);
    const de = await preview('zenoauth.email-changed', { locale: 'de', variables });
    assert.equal(de.body.locale, 'de');
    assert.match(de.body.html, /in a\*\*\*@new\.example geändert/);
    const missing = await preview('zenoauth.email-changed', { variables: { name: 'Ann' } });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.missing, ['newEmail']);
  });

  it('renders each of the three in English and German, variables escaped in HTML, a text part generated', async () => {
    const vars = {
      'zenoauth.verify-email': { name: 'Ann <b>', link: 'https://id.acme.test/verify?t=1&u=2', expiresInMinutes: '30' },
      'zenoauth.password-reset': { name: 'Ann', link: 'https://id.acme.test/reset?t=1', expiresInMinutes: '15' },
      'zenoauth.new-device': { name: 'Ann', device: 'Firefox on Linux', ip: '192.0.2.7', time: '2026-12-07 15:00 UTC', link: 'https://id.acme.test/sessions' },
    };
    for (const [name, variables] of Object.entries(vars)) {
      const en = await preview(name, { variables });
      assert.equal(en.status, 200, name);
      assert.equal(en.body.locale, 'en');
      assert.equal(en.body.version, 0);
      assert.ok(en.body.text.includes(variables.link), `${name}: the link is in the text part`);
      const de = await preview(name, { locale: 'de-CH', variables });
      assert.equal(de.body.locale, 'de', 'de-CH falls back to de');
      assert.notEqual(de.body.subject, en.body.subject);
    }
    const v = await preview('zenoauth.verify-email', { variables: vars['zenoauth.verify-email'] });
    assert.equal(v.body.subject, 'Confirm your e-mail address');
    assert.match(v.body.html, /Hello Ann &lt;b&gt;,/);
    assert.match(v.body.html, /href="https:\/\/id\.acme\.test\/verify\?t=1&amp;u=2"/);
    const fr = await preview('zenoauth.password-reset', { locale: 'fr', variables: vars['zenoauth.password-reset'] });
    assert.equal(fr.body.locale, 'en', 'an unknown locale falls back to en');
  });

  it('refuses a send that lacks a variable and queues nothing', async () => {
    const r = await api('POST', `/mail/${T}/v1/messages`, { from: 'id@acme.test', to: 'ann@example.org', template: { name: 'zenoauth.password-reset', variables: { name: 'Ann' } }, subjects: ['user-a'] }, send);
    assert.equal(r.status, 422);
    assert.equal(((await r.json()) as { code: string }).code, 'missing_variables');
    const ok = await api('POST', `/mail/${T}/v1/messages`, { from: 'id@acme.test', to: 'ann@example.org', template: { name: 'zenoauth.password-reset', locale: 'de', variables: { name: 'Ann', link: 'https://id.acme.test/r', expiresInMinutes: '15' } }, subjects: ['user-a'] }, send);
    assert.equal(ok.status, 202);
    const { id } = (await ok.json()) as { id: string };
    const got = (await (await api('GET', `/mail/${T}/v1/messages/${id}`, undefined, send)).json()) as { subject: string };
    assert.equal(got.subject, 'Passwort zurücksetzen');
  });

  it("gives way to the tenant's own template of the same name, and lists both", async () => {
    assert.equal((await api('PUT', `/mail/${T}/v1/templates/zenoauth.new-device/en`, { subject: 'Acme: new sign-in', text: 'Hi {{name}}, {{device}} signed in.' })).status, 201);
    const p = await preview('zenoauth.new-device', { variables: { name: 'Ann', device: 'Edge' } });
    assert.equal(p.status, 200);
    assert.equal(p.body.subject, 'Acme: new sign-in');
    assert.equal(p.body.version, 1);
    const de = await preview('zenoauth.new-device', { locale: 'de', variables: { name: 'Ann', device: 'Edge', ip: '192.0.2.1', time: 'jetzt', link: 'https://x.test' } });
    assert.equal(de.body.version, 0, 'no German of its own: the built-in German one');
    const list = (await (await api('GET', `/mail/${T}/v1/templates/zenoauth.new-device`)).json()) as { versions: { locale: string; version: number; builtIn?: boolean }[] };
    assert.deepEqual(list.versions.map((v) => [v.locale, v.version, v.builtIn ?? false]), [['en', 1, false], ['en', 0, true], ['de', 0, true]]);
  });

  it('still answers 422 unknown_template for a name that is neither stored nor built in', async () => {
    const r = await api('POST', `/mail/${T}/v1/messages`, { from: 'id@acme.test', to: 'ann@example.org', template: { name: 'zenoauth.nothing', variables: {} }, subjects: ['user-a'] }, send);
    assert.equal(r.status, 422);
    assert.equal(((await r.json()) as { code: string }).code, 'unknown_template');
  });
});
