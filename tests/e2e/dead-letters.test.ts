// Dead letters end to end on one machine, real PostgreSQL: a Trigger whose subscriber always fails
// ends, after its retries, in the dead-letter function's store (events-dead-letters, as every
// generated Trigger's deadLetterSink names it); an admin replays it and the subscriber, now fixed,
// processes it exactly once; a second replay is refused; bad input to the admin API is a 4xx.
// The admin tokens are signed by a key this test publishes as a JWKS on a loopback server, standing
// in for ZenoAuth's system tenant (the function fetches and checks it as it would ZenoAuth's).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import type { RunningStack } from '#local-cluster/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, loadDeclaration, loadedDir } from '#shared/function/discover';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { attemptsSeen, consumerFaults, consumerProbe } from '#tests/fixtures/functions/fixture/consumer/app';
import { count, postNote, startFixtureStack, waitFor } from './events-stack.js';

const ISSUER = 'https://id.example.test/auth/system';
const NOTE_CREATED = 'io.zenokube.fixture.note.created';

interface Issuer {
  jwksUrl: string;
  token(claims?: Record<string, unknown>, opts?: { key?: CryptoKey; typ?: string; expiresIn?: string }): Promise<string>;
  close(): Promise<void>;
}

/** A JWKS on a loopback port and a signer of access tokens shaped as ZenoAuth issues them. */
async function startIssuer(): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    jwksUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    token: (claims = {}, opts = {}) =>
      new SignJWT({ client_id: 'zeno-admin', scope: 'zeno:admin', jti: randomUUID(), ...claims })
        .setProtectedHeader({ alg: 'EdDSA', typ: opts.typ ?? 'at+jwt', kid: 'k1' })
        .setIssuer(ISSUER)
        .setSubject('admin-1')
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '5m')
        .sign(opts.key ?? privateKey),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe('dead letters: failing subscriber → retries → events-dead-letters → replay', () => {
  let tdb: TestDatabase;
  let stack: RunningStack;
  let issuer: Issuer;
  let admin: string;

  before(async () => {
    tdb = await createTestDatabase();
    issuer = await startIssuer();
    admin = await issuer.token();
    const fixtures = await discoverFunctions(loadedDir(projectRoot(), 'tests', 'fixtures', 'functions'));
    stack = await startFixtureStack(tdb.database, {
      declarations: [...fixtures, await loadDeclaration('events-dead-letters')],
      env: { ZENO_ADMIN_ISSUER: ISSUER, ZENO_ADMIN_JWKS_URL: issuer.jwksUrl },
    });
  });
  after(async () => {
    await stack?.stop();
    await issuer?.close();
    await tdb?.drop();
  });

  const api = (path: string, init: RequestInit = {}, token: string | null = admin) =>
    fetch(`${stack.localUrl}/events/dead-letters${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...init.headers } });
  const list = async (query = '') => (await (await api(query)).json()) as { items: { id: string; eventId: string; type: string; replayedAt: string | null }[]; next: string | null };
  const deadLetterApp = () => stack.hosted.find((h) => h.declaration.name === 'events-dead-letters')!;
  const metrics = async () => deadLetterApp().context.metrics.registry.metrics();
  /** Sends a dead-lettered event to the sink as Knative does (binary mode, knativeerror* extensions). */
  const sink = (headers: Record<string, string>, body = '{"noteId":"n1","text":"x"}') =>
    deadLetterApp().app.request('/_events', { method: 'POST', headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', ...headers }, body });

  it('wires every Trigger of the stack to the dead-letter function', () => {
    for (const t of stack.triggers) assert.equal(t.deadLetterSink, `${stack.localUrl}/_fn/events-dead-letters/_events`, t.name);
  });

  it('stores an event whose subscriber always fails once its retries are spent, and replays it once to the fixed subscriber', async () => {
    const note = await postNote(stack.localUrl, { text: 'fail-until-fixed' });
    const dead = await waitFor('the dead letter', async () => (await list(`?type=${NOTE_CREATED}`)).items.find((i) => i.eventId === note.eventId));
    // The consumer's subscription says retry: 3 (backoff PT0.02S): one attempt and three retries.
    assert.equal(attemptsSeen.get(note.eventId), 4);

    const shown = (await (await api(`/${dead.id}`)).json()) as Record<string, any>;
    assert.equal(shown.type, NOTE_CREATED);
    assert.equal(shown.source, '/fixture/producer');
    assert.match(shown.subscriber, /\/_fn\/fixture-consumer\/_events$/);
    assert.equal(shown.errorCode, 500);
    assert.match(Buffer.from(shown.errorData, 'base64').toString(), /HTTP 500/);
    assert.deepEqual(shown.data, { noteId: note.id, text: 'fail-until-fixed' });
    assert.equal(shown.attributes.knativeerrordest, undefined, 'the failure is kept apart from the event');
    assert.equal(shown.replayedAt, null);

    const text = await metrics();
    assert.match(text, new RegExp(`zeno_dead_letters_total\\{type="${NOTE_CREATED.replace(/\./g, '\\.')}",subscriber="[^"]*fixture-consumer/_events"\\} 1`));
    assert.match(text, /zeno_dead_letters_stored 1\b/);

    consumerFaults.fixed = true;
    const handled: string[] = [];
    const onHandled = (e: { eventId: string }) => handled.push(e.eventId);
    consumerProbe.on('handled', onHandled);
    try {
      const replay = await api(`/${dead.id}/replay`, { method: 'POST' });
      assert.equal(replay.status, 200, await replay.clone().text());
      assert.ok(((await replay.json()) as { replayedAt: string }).replayedAt);
      const receipts = () => count(tdb.database, sql`select count(*) as n from fixture.receipts where event_id = ${note.eventId}`);
      await waitFor('the receipt of the replayed event', async () => ((await receipts()) === 1 ? true : undefined));

      const again = await api(`/${dead.id}/replay`, { method: 'POST' });
      assert.equal(again.status, 409);
      assert.equal(((await again.json()) as { code: string }).code, 'already_replayed');

      // Everything due is delivered: still exactly one effect, from one handler run, of the original id.
      await stack.dispatcher.flush();
      await waitFor('the broker deliveries to settle', async () =>
        (await count(tdb.database, sql`select count(*) as n from eventing.deliveries`)) === 0 ? true : undefined,
      );
      assert.equal(await receipts(), 1);
      assert.deepEqual(handled, [note.eventId]);
      assert.equal(attemptsSeen.get(note.eventId), 5);
    } finally {
      consumerProbe.off('handled', onHandled);
    }
    const after = (await (await api(`/${dead.id}`)).json()) as { replayedAt: string | null };
    assert.ok(after.replayedAt);
    assert.match(await metrics(), /zeno_dead_letters_stored 0\b/);
    assert.equal((await list(`?type=${NOTE_CREATED}`)).items.filter((i) => i.eventId === note.eventId).length, 1, 'no new dead letter');
  });

  it('stores a dead letter redelivered by the sender once, and lists by type in pages', async () => {
    const id = randomUUID();
    const headers = { 'ce-id': id, 'ce-source': '/fixture/paging', 'ce-type': 'io.zenokube.fixture.note.archived', 'ce-knativeerrordest': 'http://fixture-consumer/_events', 'ce-knativeerrorcode': '503' };
    assert.equal((await sink(headers)).status, 202);
    assert.equal((await sink(headers)).status, 202);
    for (let i = 0; i < 3; i++) assert.equal((await sink({ ...headers, 'ce-id': randomUUID() })).status, 202);
    const first = await list('?type=io.zenokube.fixture.note.archived&limit=2');
    assert.equal(first.items.length, 2);
    assert.ok(first.next);
    const second = await list(`?type=io.zenokube.fixture.note.archived&limit=2&before=${first.next}`);
    assert.equal(second.items.length, 2);
    assert.deepEqual(await list(`?type=io.zenokube.fixture.note.archived&limit=2&before=${second.next}`), { items: [], next: null });
    const ids = [...first.items, ...second.items].map((i) => i.eventId);
    assert.equal(new Set(ids).size, 4, 'four dead letters, the redelivered one once');
    assert.ok(ids.includes(id));
    assert.ok([...first.items, ...second.items].every((i) => i.type === 'io.zenokube.fixture.note.archived'));
  });

  it('deletes a dead letter', async () => {
    assert.equal((await sink({ 'ce-id': randomUUID(), 'ce-source': '/fixture/delete', 'ce-type': NOTE_CREATED })).status, 202);
    const [item] = (await list(`?type=${NOTE_CREATED}&limit=1`)).items;
    assert.equal((await api(`/${item!.id}`, { method: 'DELETE' })).status, 204);
    assert.equal((await api(`/${item!.id}`)).status, 404);
    assert.equal((await api(`/${item!.id}`, { method: 'DELETE' })).status, 404);
  });

  it('answers bad input to the admin API and to the sink with a 4xx', async () => {
    const code = async (res: Response | Promise<Response>): Promise<[number, string | undefined]> => {
      const r = await res;
      return [r.status, ((await r.json().catch(() => ({}))) as { code?: string }).code];
    };
    assert.deepEqual(await code(api('', {}, null)), [401, 'invalid_token']);
    assert.deepEqual(await code(api('', {}, 'not-a-jwt')), [401, 'invalid_token']);
    const { privateKey: stranger } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    assert.deepEqual(await code(api('', {}, await issuer.token({}, { key: stranger }))), [401, 'invalid_token']);
    assert.deepEqual(await code(api('', {}, await issuer.token({}, { typ: 'JWT' }))), [401, 'invalid_token']);
    assert.deepEqual(await code(api('', {}, await issuer.token({}, { expiresIn: '-1m' }))), [401, 'invalid_token']);
    assert.deepEqual(await code(api('', {}, await issuer.token({ scope: 'openid' }))), [403, 'insufficient_scope']);
    assert.deepEqual(await code(api('', {}, await issuer.token({ client_id: 'someone' }))), [403, 'insufficient_scope']);
    assert.deepEqual(await code(api('/1/replay', { method: 'POST' }, null)), [401, 'invalid_token']);

    assert.deepEqual(await code(api('/abc')), [400, 'invalid_id']);
    assert.deepEqual(await code(api('/0')), [400, 'invalid_id']);
    assert.deepEqual(await code(api('/99999999999999999999')), [400, 'invalid_id']);
    assert.deepEqual(await code(api('?limit=0')), [400, 'invalid_limit']);
    assert.deepEqual(await code(api('?limit=abc')), [400, 'invalid_limit']);
    assert.deepEqual(await code(api('?limit=201')), [400, 'invalid_limit']);
    assert.deepEqual(await code(api('?before=-1')), [400, 'invalid_id']);
    assert.deepEqual(await code(api(`?type=${'x'.repeat(2000)}`)), [400, 'invalid_type']);
    assert.deepEqual(await code(api('/987654321')), [404, 'not_found']);
    assert.deepEqual(await code(api('/987654321/replay', { method: 'POST' })), [404, 'not_found']);
    assert.deepEqual(await code(api('/x/replay', { method: 'POST' })), [400, 'invalid_id']);

    const [noHeaders] = await code(deadLetterApp().app.request('/_events', { method: 'POST', body: 'hello' }));
    assert.ok(noHeaders! >= 400 && noHeaders! < 500, `not a CloudEvent: ${noHeaders}`);
    const [noId] = await code(sink({ 'ce-source': '/x', 'ce-type': NOTE_CREATED }));
    assert.ok(noId! >= 400 && noId! < 500, `no id: ${noId}`);
    const [longType] = await code(sink({ 'ce-id': 'a', 'ce-source': '/x', 'ce-type': `io.zenokube.x.${'y'.repeat(2000)}` }));
    assert.equal(longType, 400);
  });
});
