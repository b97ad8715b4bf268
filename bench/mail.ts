// ZenoMail throughput: messages accepted by the send API and delivered over pooled SMTP to a local
// sink, against nodemailer's pooled transport sending the same messages to the same sink directly,
// in the same run. In process (mail-api and mail-deliver hosted as the platform hosts them, real
// PostgreSQL), not through the ingress.
// Run: node --conditions=development --import tsx bench/mail.ts [messages]
import { loadavg } from 'node:os';
import { sql } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import mailApi from '#functions/mail/api/function';
import mailDeliver from '#functions/mail/deliver/function';
import { startMailHarness } from '#functions/mail/testing/harness';
import { startSmtpReceiver } from '#functions/mail/testing/smtp-receiver';
import { createTestDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';

const N = Number(process.argv[2] ?? 300);
const CONCURRENCY = 16;
const body = (i: number) => ({ from: 'Acme <billing@acme.test>', to: `user${i}@example.org`, subject: `Invoice ${i}`, text: `Hello ${i}\n`.repeat(20), subjects: [`user-${i % 50}`] });

/** Runs `task(i)` for i in 0..n-1 with `c` in flight. */
async function pool(n: number, c: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: c }, async () => { while (next < n) await task(next++); }));
}

const tdb = await createTestDatabase({ max: 16 });
const sink = await startSmtpReceiver();
// Every message goes to one domain: the per-domain limit (default 4) bounds what is in flight.
const domainLimit = process.env.ZENO_MAIL_DOMAIN_CONCURRENCY ?? '4';
const h = await startMailHarness(tdb.database, [mailApi, mailDeliver], { ZENO_MAIL_SMTP_URL: sink.url, ZENO_MAIL_SMTP_POOL: '5', ZENO_MAIL_CONCURRENCY: '16', ZENO_MAIL_DOMAIN_CONCURRENCY: domainLimit });
try {
  const token = await h.issuer.token('system', 'mail:send');
  const load = loadavg()[0]!.toFixed(1);

  // Baseline: nodemailer's pooled transport, straight to the sink.
  const direct = nodemailer.createTransport({ pool: true, url: sink.url, maxConnections: 5 });
  let t0 = performance.now();
  await pool(N, CONCURRENCY, async (i) => { const b = body(i); await direct.sendMail({ from: b.from, to: b.to, subject: b.subject, text: b.text }); });
  const directS = (performance.now() - t0) / 1000;
  direct.close();
  sink.received.length = 0;

  // ZenoMail: accepted by the API (202), announced to mail-deliver, delivered over its pool.
  t0 = performance.now();
  await pool(N, CONCURRENCY, async (i) => {
    const r = await h.request('/mail/system/v1/messages', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body(i)) });
    if (r.status !== 202) throw new Error(`send answered ${r.status}: ${await r.text()}`);
    const { id } = (await r.json()) as { id: string };
    await h.request('/_events', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': `queued-${id}`, 'ce-source': '/mail/api', 'ce-type': 'io.zenokube.mail.message.queued', 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'system', messageId: id }),
    }, 'mail-deliver');
  });
  const acceptedS = (performance.now() - t0) / 1000;
  await waitFor('every message delivered', async () => {
    const [row] = await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from mail.messages where status = 'sent'`);
    return row!.n >= N ? true : undefined;
  }, 100_000, 5);
  const deliveredS = (performance.now() - t0) / 1000;
  if (sink.received.length !== N) throw new Error(`the sink got ${sink.received.length} of ${N}`);

  const rate = (s: number) => (N / s).toFixed(0);
  console.log(`mail: ${N} messages, ${CONCURRENCY} in flight, SMTP pool 5, ${domainLimit} per recipient domain; load average ${load} before the run`);
  console.log(`  nodemailer pooled, direct to the sink   ${rate(directS)} msg/s`);
  console.log(`  ZenoMail accepted (API 202 + event)     ${rate(acceptedS)} msg/s   ratio ${(directS / acceptedS).toFixed(2)}`);
  console.log(`  ZenoMail accepted and delivered         ${rate(deliveredS)} msg/s   ratio ${(directS / deliveredS).toFixed(2)}`);
} finally {
  await h.close();
  await sink.close();
  await tdb.drop();
}
