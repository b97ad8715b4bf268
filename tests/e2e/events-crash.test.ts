// A producer process killed (SIGKILL) after its commit and before its event reached the broker:
// the event is delivered once the process runs again. The producer runs as `zenokube fn` does,
// in a child process; the broker and the consumer run here.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { sql } from 'drizzle-orm';
import type { RunningStack } from '#local-cluster/index';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { count, postNote, startFixtureStack, waitFor } from './events-stack.js';
import { nodeArgs } from '#tests/support/node-args';

interface Producer {
  child: ChildProcess;
  url: string;
}

function startProducer(env: Record<string, string | undefined>): Promise<Producer> {
  const child = spawn(process.execPath, [...nodeArgs('tests/fixtures/serve-function.ts'), 'fixture-producer'], {
    cwd: projectRoot(),
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error', FIXTURE_RELAY_LEASE_MS: '3000', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, url: `http://127.0.0.1:${m[1]}` });
    });
    child.once('exit', (code) => reject(new Error(`producer exited early (${code})`)));
  });
}

async function kill9(p: Producer): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = once(p.child, 'exit');
  p.child.kill('SIGKILL');
  await exited;
}

/** A sink that accepts connections and reads requests but never answers: delivery hangs. */
async function startBlackHole(): Promise<{ url: string; seen: string[]; server: Server }> {
  const seen: string[] = [];
  const server = createServer((socket) => {
    socket.on('data', (chunk) => {
      const m = /ce-id: ([^\r\n]+)/i.exec(chunk.toString('latin1'));
      if (m) seen.push(m[1]!);
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/_broker/default/default`, seen, server };
}

describe('events: a producer killed between commit and delivery', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;
  const producers: Producer[] = [];

  before(async () => {
    tdb = await createTestDatabase();
    // Broker and consumer only: the producer's relay runs in the child process.
    stack = await startFixtureStack(tdb.database, { relays: false });
  });
  after(async () => {
    for (const p of producers) await kill9(p);
    await stack?.stop();
    await tdb?.drop();
  });

  const receipts = (id: string) => count(tdb.database, sql`select count(*) as n from fixture.receipts where event_id = ${id}`);

  it('delivers the event after a restart when the process died mid-delivery', async () => {
    const hole = await startBlackHole();
    try {
      const first = await startProducer({ DATABASE_URL: tdb.url, K_SINK: hole.url });
      producers.push(first);
      const note = await postNote(first.url, { text: 'crash mid-delivery' });
      // The relay claimed the row, committed the claim and is now waiting on the sink: kill it.
      await waitFor('the relay to start delivering', async () => (hole.seen.includes(note.eventId) ? true : undefined));
      // The lease is short (3 s here) but renewed while the delivery hangs: it moves forward again
      // and again, and the row is not claimed a second time meanwhile.
      const due = async () =>
        (await tdb.database.query<{ due: string }>(sql`select next_attempt_at::text as due from fixture.outbox where id = ${note.eventId}`))[0]!.due;
      let last = await due();
      for (let renewals = 0; renewals < 3; renewals++) {
        last = await waitFor('the lease to be renewed', async () => {
          const now = await due();
          return now > last ? now : undefined;
        });
      }
      await kill9(first);
      const [row] = await tdb.database.query<{ attempts: number }>(sql`select attempts from fixture.outbox where id = ${note.eventId}`);
      assert.equal(row?.attempts, 1, 'the committed event is still in the outbox, claimed once');
      assert.equal(await receipts(note.eventId), 0);

      const second = await startProducer({ DATABASE_URL: tdb.url, K_SINK: stack.brokerUrl });
      producers.push(second);
      await waitFor('the receipt after restart', async () => ((await receipts(note.eventId)) === 1 ? true : undefined));
      await waitFor('the outbox to empty', async () =>
        (await count(tdb.database, sql`select count(*) as n from fixture.outbox`)) === 0 ? true : undefined,
      );
      assert.equal(await receipts(note.eventId), 1);
      await kill9(second);
    } finally {
      hole.server.close();
    }
  });

  it('delivers what a process left in its outbox before any relay ran, at the next start', async () => {
    // No K_SINK: the pod commits and is gone before delivering (scaled to zero, or killed).
    const first = await startProducer({ DATABASE_URL: tdb.url, K_SINK: undefined });
    producers.push(first);
    const notes = [await postNote(first.url, { text: 'left 1' }), await postNote(first.url, { text: 'left 2' })];
    await kill9(first);
    assert.equal(await count(tdb.database, sql`select count(*) as n from fixture.outbox`), 2);

    const second = await startProducer({ DATABASE_URL: tdb.url, K_SINK: stack.brokerUrl });
    producers.push(second);
    for (const n of notes) await waitFor('each receipt', async () => ((await receipts(n.eventId)) === 1 ? true : undefined));
    const flushed = await fetch(`${second.url}/_outbox/flush`, { method: 'POST' });
    assert.equal(flushed.status, 200);
    assert.deepEqual(await flushed.json(), { delivered: 0 });
    await kill9(second);
  });
});
