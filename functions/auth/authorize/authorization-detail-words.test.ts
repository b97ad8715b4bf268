// The consent page's words for RFC 9396 authorization details: the rules without a database, and
// the page itself through a real sign-in.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { describeAuthorizationDetail } from './authorization-detail-words.js';
import { Browser } from '../testing/browser.js';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { makeClient, makeTenant, makeUser } from '../testing/fixtures.js';

/** The RFC 9396 §2 example: a payment initiation. */
const PAYMENT = {
  type: 'payment_initiation',
  actions: ['initiate', 'status', 'cancel'],
  locations: ['https://example.com/payments'],
  instructedAmount: { currency: 'EUR', amount: '123.50' },
  creditorName: 'Merchant A',
  creditorAccount: { iban: 'DE02100100109307118603' },
  remittanceInformationUnstructured: 'Ref Number Merchant',
};

describe('authorization details in words (RFC 9396 §2, §2.2)', () => {
  it('names the actions, locations, amount and other fields of the RFC example', () => {
    const d = describeAuthorizationDetail(PAYMENT);
    assert.equal(d.type, 'payment_initiation');
    assert.deepEqual(d.lines, [
      { label: 'Actions', value: 'initiate, status and cancel' },
      { label: 'At', value: 'https://example.com/payments' },
      { label: 'Instructed amount', value: '€123.50' },
      { label: 'Creditor name', value: 'Merchant A' },
      { label: 'Creditor account, iban', value: 'DE02100100109307118603' },
      { label: 'Remittance information unstructured', value: 'Ref Number Merchant' },
    ]);
  });

  it('shows the common fields first and keeps the amount exact', () => {
    const d = describeAuthorizationDetail({ type: 'account_information', maxAmount: { amount: '1000', currency: 'USD' }, identifier: 'acct-42', datatypes: ['balances'], privileges: ['read'] });
    assert.deepEqual(d.lines, [
      { label: 'Data', value: 'balances' },
      { label: 'Item', value: 'acct-42' },
      { label: 'Privileges', value: 'read' },
      { label: 'Max amount', value: '$1,000' },
    ]);
    assert.equal(describeAuthorizationDetail({ type: 'x', fee: { amount: '0.125', currency: 'EUR' } }).lines[0]!.value, '€0.125');
  });

  it('does not take a malformed amount for money', () => {
    const d = describeAuthorizationDetail({ type: 'x', a: { amount: '1e400', currency: 'EUR' }, b: { amount: '5', currency: 'euro' } });
    assert.deepEqual(d.lines, [
      { label: 'A, amount', value: '1e400' },
      { label: 'A, currency', value: 'EUR' },
      { label: 'B, amount', value: '5' },
      { label: 'B, currency', value: 'euro' },
    ]);
  });

  it('bounds what a hostile client can put on the page', () => {
    const deep = { type: 'x'.repeat(500), nested: { deeper: { deepest: 'hidden' } }, long: 'y'.repeat(5000), many: Array.from({ length: 100 }, (_, i) => `a${i}`), n: Number.NaN, nothing: null };
    const d = describeAuthorizationDetail(deep);
    assert.equal(d.type.length, 200);
    assert.equal(d.lines.find((l) => l.label === 'Long')!.value.length, 200);
    assert.match(d.lines.find((l) => l.label === 'Many')!.value, /a8 and 91 more$/);
    assert.ok(!JSON.stringify(d).includes('hidden'), 'two levels down is not shown');
    const wide = describeAuthorizationDetail({ type: 'x', ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`f${i}`, 'v'])) });
    assert.equal(wide.lines.length, 20);
    assert.deepEqual(wide.lines.at(-1), { label: 'And', value: '31 more fields' });
  });
});

describe('consent page with authorization_details', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    const t = await makeTenant(tdb.database.db, 'bank');
    await makeUser(tdb.database.db, t, { username: 'payer', password: 'payer-password-1' });
    await makeClient(tdb.database.db, t, { client_id: 'fintech', redirect_uris: ['http://localhost:9/cb'], grant_types: ['authorization_code'], scope: 'openid', authorization_details_types: ['payment_initiation'], token_endpoint_auth_method: 'none' });
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  it('shows each detail in words, with the client\'s strings escaped', async () => {
    const details = [{ ...PAYMENT, creditorName: '<script>alert(1)</script>' }];
    const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
    const b = new Browser('Laptop/1');
    const url = `${h.baseUrl}/auth/bank/authorize?` + new URLSearchParams({ client_id: 'fintech', redirect_uri: 'http://localhost:9/cb', response_type: 'code', scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256', authorization_details: JSON.stringify(details) });
    const login = await b.fetch(url);
    const res = await b.submit(await login.text(), { username: 'payer', password: 'payer-password-1' }, /\/login$/);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /name="decision"/);
    assert.match(html, /Act on your behalf for: payment_initiation/);
    assert.match(html, /Actions: initiate, status and cancel/);
    assert.match(html, /Instructed amount: €123\.50/);
    assert.match(html, /Creditor account, iban: DE02100100109307118603/);
    assert.ok(!html.includes('<script>alert(1)</script>'), 'the creditor name is escaped');
    assert.match(html, /Creditor name: &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });
});
