import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createEventPublisher } from '#shared/events/outbox';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { aad, DecryptError, open } from './cipher.js';
import type { MessageContent } from './content.js';
import { eraseSubject } from './erase.js';
import { blindIndex, deriveMailKeys, deriveMessageKey, unwrapSubjectKey } from './keys.js';
import { findMessage, insertMessage, messageHistory, openContent } from './messages.js';
import { MailError } from './errors.js';
import { keysForSend } from './subjects.js';

const TENANT = 'acme';
const keys = deriveMailKeys(randomBytes(32));
const events = createEventPublisher({ product: 'mail', source: '/mail/api' });

function contentFor(who: string): MessageContent {
  return {
    from: { name: 'Acme', address: 'noreply@acme.test' },
    to: [{ address: `${who}.person@example.org` }],
    cc: [],
    bcc: [{ address: `${who}.hidden@example.org` }],
    subject: `Invoice for ${who} Marker-${who}-Subject`,
    text: `Dear ${who}, body Marker-${who}-Body`,
    html: `<p>Marker-${who}-Html</p>`,
    headers: { 'X-Customer': `Marker-${who}-Header` },
    attachments: [{ filename: 'a.txt', contentType: 'text/plain', content: Buffer.from(`Marker-${who}-Attachment`).toString('base64') }],
  };
}

/** Every row of every table of the mail schema as text, bytea columns as raw bytes too. */
async function dumpMailSchema(tdb: TestDatabase): Promise<string> {
  const tables = await tdb.database.query<{ table_name: string }>(sql`select table_name from information_schema.tables where table_schema = 'mail'`);
  assert.ok(tables.length >= 8, 'the mail schema has its tables');
  let out = '';
  let sealed = 0;
  for (const { table_name } of tables) {
    const rows = await tdb.database.query<{ j: string }>(sql`select row_to_json(t)::text as j from ${sql.identifier('mail')}.${sql.identifier(table_name)} t`);
    for (const { j } of rows) {
      out += j + '\n';
      // bytea renders as \\x<hex>: add the bytes themselves, so a plaintext inside would show.
      for (const m of j.matchAll(/\\\\x([0-9a-f]+)/g)) {
        out += Buffer.from(m[1]!, 'hex').toString('latin1') + '\n';
        sealed++;
      }
    }
  }
  assert.ok(sealed > 0, 'the sealed columns were read as bytes');
  return out;
}

describe('crypto-shredding (DELETE subjects/{id} in core)', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
  });
  after(async () => tdb?.drop());

  async function send(subjects: string[], content: MessageContent): Promise<string> {
    const id = randomUUID();
    await tdb.database.transaction(async (tx) => {
      const subjectKeys = await keysForSend(tx, keys, TENANT, subjects);
      await insertMessage(tx, subjectKeys, {
        id, tenant: TENANT, subjects, tags: ['invoice'], idempotencyKey: null, requestHash: null, content,
        recipientIndex: [...content.to, ...content.bcc].map((a) => blindIndex(keys, 'address', a.address)),
      });
    });
    return id;
  }

  it('leaves nothing of an erased subject readable, keeps the others readable and cancels their queued mail', async () => {
    const a1 = await send(['user-a'], contentFor('Alice'));
    const a2 = await send(['user-a'], contentFor('Alice'));
    const ab = await send(['user-a', 'user-b'], contentFor('Alice'));
    const b1 = await send(['user-b'], contentFor('Bob'));
    await tdb.database.query(sql`update mail.messages set status = 'sent' where id = ${a2}`);

    const before = await dumpMailSchema(tdb);
    for (const marker of ['Alice', 'Bob', 'example.org', 'Marker-']) assert.ok(!before.includes(marker), `${marker} is never stored in clear`);
    // A copy of the rows as a backup would hold them, before the erasure.
    const backup = (await findMessage(tdb.database.db, TENANT, a1))!;
    const oldWrapped = (await tdb.database.query<{ wrapped_key: Buffer }>(sql`select wrapped_key from mail.subjects where tenant = ${TENANT} and id = 'user-a'`))[0]!.wrapped_key;
    assert.ok(oldWrapped.length > 0);

    const result = await eraseSubject(tdb.database, events, { tenant: TENANT, subject: 'user-a', actor: 'admin-1' });
    assert.deepEqual(result, { erased: true, messages: 3, cancelled: 2 });

    const after = await dumpMailSchema(tdb);
    for (const marker of ['Alice', 'example.org', 'Marker-']) assert.ok(!after.includes(marker), `${marker} is not recoverable from the rows`);
    const [subject] = await tdb.database.query<{ wrapped_key: Buffer | null; erased_at: Date | null }>(sql`select wrapped_key, erased_at from mail.subjects where tenant = ${TENANT} and id = 'user-a'`);
    assert.equal(subject!.wrapped_key, null, 'the key is gone from the row');
    assert.ok(subject!.erased_at);

    // Everything that remains, with the service key, opens nothing of A's: the key was the only way.
    for (const id of [a1, a2, ab]) {
      const m = (await findMessage(tdb.database.db, TENANT, id))!;
      await assert.rejects(openContent(tdb.database.db, keys, m), (e: unknown) => e instanceof MailError && e.code === 'message_erased');
      assert.deepEqual(m.recipientIndex, [], 'the address index is dropped');
      const history = await messageHistory(tdb.database.db, m, undefined);
      assert.equal(history.at(-1)!.kind, 'erased');
    }
    // The backup's ciphertext under a guessed key from what remains (only B's key) does not open.
    const bKey = unwrapSubjectKey(keys, TENANT, 'user-b', (await tdb.database.query<{ wrapped_key: Buffer }>(sql`select wrapped_key from mail.subjects where id = 'user-b'`))[0]!.wrapped_key);
    assert.throws(() => open(deriveMessageKey(new Map([['user-b', bKey]]), a1), backup.content, aad.content(TENANT, a1)), DecryptError);

    const statuses = await tdb.database.query<{ id: string; status: string }>(sql`select id, status from mail.messages where tenant = ${TENANT}`);
    const status = new Map(statuses.map((s) => [s.id, s.status]));
    assert.equal(status.get(a1), 'cancelled');
    assert.equal(status.get(ab), 'cancelled');
    assert.equal(status.get(a2), 'sent', 'counts and final states remain');
    assert.equal(status.get(b1), 'queued');

    const b = await openContent(tdb.database.db, keys, (await findMessage(tdb.database.db, TENANT, b1))!);
    assert.equal(b.content.to[0]!.address, 'Bob.person@example.org');

    const [auditRow] = await tdb.database.query<{ action: string; target: string; outcome: string }>(sql`select action, target, outcome from mail.audit`);
    assert.deepEqual(auditRow, { action: 'subject.erase', target: 'user-a', outcome: 'erased' });
    const [event] = await tdb.database.query<{ type: string; data: Record<string, unknown> }>(sql`select type, data from mail.outbox`);
    assert.deepEqual(event, { type: 'io.zenokube.mail.subject.erased', data: { tenant: TENANT, subjectId: 'user-a', messages: 3, cancelled: 2 } });
  });

  it('refuses a new message for an erased subject, and erases a subject never seen before', async () => {
    await eraseSubject(tdb.database, events, { tenant: TENANT, subject: 'user-never', actor: 'admin-1' });
    await assert.rejects(send(['user-never'], contentFor('Carol')), (e: unknown) => e instanceof MailError && e.code === 'subject_erased');
    const again = await eraseSubject(tdb.database, events, { tenant: TENANT, subject: 'user-a', actor: 'admin-1' });
    assert.equal(again.erased, false);
  });

  it('does not open a subject key copied into another subject row', async () => {
    await send(['user-c'], contentFor('Carol'));
    await send(['user-d'], contentFor('Dave'));
    await tdb.database.query(sql`update mail.subjects set wrapped_key = (select wrapped_key from mail.subjects where id = 'user-c') where id = 'user-d'`);
    const [row] = await tdb.database.query<{ wrapped_key: Buffer }>(sql`select wrapped_key from mail.subjects where id = 'user-d'`);
    assert.throws(() => unwrapSubjectKey(keys, TENANT, 'user-d', row!.wrapped_key), DecryptError);
  });
});
