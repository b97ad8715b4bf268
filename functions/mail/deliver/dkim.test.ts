import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'drizzle-orm';
// The verifier module alone: mailauth's main entry also loads its BIMI fetcher, which needs Node 22.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import mailApi from '../api/function.js';
import { startMailHarness, type MailHarness } from '../testing/harness.js';
import { startSmtpReceiver, type SmtpReceiver } from '../testing/smtp-receiver.js';
import { configuredDkim } from './dkim.js';
import mailDeliver from './function.js';

const T = 'system';

describe('DKIM signing (RFC 6376), verified by mailauth', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  // The selector's TXT record, as DNS would publish it.
  const resolver = async (name: string, type: string) => {
    if (type === 'TXT' && name === 'mail2026._domainkey.acme.test') return [[record]];
    throw Object.assign(new Error(`no ${type} for ${name}`), { code: 'ENOTFOUND' });
  };
  let tdb: TestDatabase;
  let h: MailHarness;
  let smtp: SmtpReceiver;

  before(async () => {
    tdb = await createTestDatabase({ max: 6 });
    smtp = await startSmtpReceiver();
    h = await startMailHarness(tdb.database, [mailApi, mailDeliver], {
      ZENO_MAIL_SMTP_URL: smtp.url,
      ZENO_MAIL_SENDER_DOMAINS: 'acme.test,other.test',
      ZENO_MAIL_DKIM_DOMAIN: 'acme.test',
      ZENO_MAIL_DKIM_SELECTOR: 'mail2026',
      ZENO_MAIL_DKIM_PRIVATE_KEY: pem,
    });
  });
  after(async () => {
    await h?.close();
    await smtp?.close();
    await tdb?.drop();
  });

  async function deliver(from: string): Promise<Buffer> {
    const token = await h.issuer.token(T, 'mail:send');
    const r = await h.request(`/mail/${T}/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from, to: 'alice@example.org', subject: 'Signed ünïcode', html: '<p>Signed body</p>', text: 'Signed body', headers: { 'List-Unsubscribe': '<https://acme.test/u>' }, subjects: ['user-a'] }),
    });
    const { id } = (await r.json()) as { id: string };
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `queued-${id}`, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, messageId: id }),
    }, 'mail-deliver');
    await waitFor('delivery', async () => ((await tdb.database.query<{ status: string }>(sql`select status from mail.messages where id = ${id}`))[0]!.status === 'sent' ? true : undefined), 1500);
    return smtp.received.find((x) => x.parsed.messageId?.startsWith(`<${id}@`))!.raw;
  }

  it('signs mail from its domain with a signature that verifies against the published key', async () => {
    const raw = await deliver('Acme <billing@acme.test>');
    const result = await dkimVerify(raw, { resolver });
    assert.equal(result.results.length, 1);
    const [sig] = result.results;
    assert.equal(sig!.status?.result, 'pass', JSON.stringify(sig!.status));
    assert.equal(sig!.signingDomain, 'acme.test');
    assert.equal(sig!.selector, 'mail2026');
    assert.equal(sig!.algo, 'rsa-sha256');
  });

  it('fails verification once the signed body or a signed header is changed', async () => {
    const raw = (await deliver('billing@acme.test')).toString('latin1');
    const body = await dkimVerify(Buffer.from(raw.replace('Signed body', 'Forged body'), 'latin1'), { resolver });
    assert.notEqual(body.results[0]!.status?.result, 'pass');
    const header = await dkimVerify(Buffer.from(raw.replace(/^Subject: .*$/m, 'Subject: Forged'), 'latin1'), { resolver });
    assert.notEqual(header.results[0]!.status?.result, 'pass');
  });

  it('leaves mail from another domain unsigned', async () => {
    const raw = await deliver('billing@other.test');
    assert.ok(!/^DKIM-Signature:/im.test(raw.toString('latin1')));
  });

  it('refuses a key that is not RSA or too short at start', () => {
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(() => configuredDkim('acme.test', 's', ed), TypeError);
    assert.throws(() => configuredDkim('acme.test', undefined, pem), TypeError);
    assert.equal(configuredDkim('acme.test', 's', pem)('sub.acme.test')?.domainName, 'acme.test');
    assert.equal(configuredDkim('acme.test', 's', pem)('notacme.test'), undefined);
  });
});
