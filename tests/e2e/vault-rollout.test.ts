// A rollout of the unsealer on one machine, on real PostgreSQL: the old replica unsealed and
// serving, a new one started sealed behind the same "Service" (a round-robin TCP proxy, as
// kube-proxy balances connections), vault-api in front of both and a Vault client reading
// throughout. The new replica is unsealed through the normal unseal path, then the old one is
// stopped with SIGTERM. Not one read may fail.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import nodeVault from 'node-vault';
import { request } from 'undici';
import { signRequest, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { waitFor, waitUntil } from '#tests/support/poll';
import { freePort } from '#tests/support/ports';
import { startRoundRobinService, type RoundRobinService } from './round-robin-service.js';
import { nodeArgs } from '#tests/support/node-args';

interface FunctionProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

/** `zenokube fn <name>` as its pod runs it, on a port of its own. */
async function startFunction(name: string, env: Record<string, string>): Promise<FunctionProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs(join(projectRoot(), 'cli', 'zenokube.ts')), 'fn', name], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const proc = { name, port, child, exited, output: () => out };
  await waitUntil(`${name} to listen`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    return (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.status === 200;
  });
  return proc;
}

const readyz = async (p: FunctionProcess) => (await fetch(`http://127.0.0.1:${p.port}/readyz`)).status;
const sys = async (p: FunctionProcess, method: string, path: string, body?: unknown) => {
  const res = await fetch(`http://127.0.0.1:${p.port}/vault/v1/sys/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return (await res.json()) as Record<string, any>;
};

describe('an unsealer rollout behind one Service', () => {
  let tdb: TestDatabase;
  let service: RoundRobinService;
  let oldUnsealer: FunctionProcess;
  let newUnsealer: FunctionProcess | undefined;
  let api: FunctionProcess;
  let keys: string[];
  let env: Record<string, string>;
  let client: ReturnType<typeof nodeVault>;
  let reading = true;
  let reads = 0;
  const failures: string[] = [];
  const readers: Promise<void>[] = [];

  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
    env = { DATABASE_URL: tdb.url, VAULT_INTERNAL_KEY: randomBytes(32).toString('base64') };
    oldUnsealer = await startFunction('vault-unsealer', env);
    service = await startRoundRobinService([oldUnsealer.port]);
    api = await startFunction('vault-api', { ...env, VAULT_UNSEALER_URL: `http://127.0.0.1:${service.port}` });
    const init = await sys(oldUnsealer, 'PUT', 'init', { secret_shares: 3, secret_threshold: 2 });
    keys = init.keys;
    for (const key of keys.slice(0, 2)) await sys(oldUnsealer, 'PUT', 'unseal', { key });
    client = nodeVault({ apiVersion: 'v1', endpoint: `http://127.0.0.1:${api.port}/vault`, token: init.root_token, noCustomHTTPVerbs: true });
    await client.write('secret/data/app', { data: { password: 'survives-rollouts' } });
    // Four clients reading in a loop: several pooled connections from the api, so new ones are
    // opened (and balanced) throughout.
    for (let i = 0; i < 4; i++) {
      readers.push((async () => {
        while (reading) {
          try {
            const r = await client.read('secret/data/app');
            if (r.data.data.password !== 'survives-rollouts') failures.push(`wrong value ${JSON.stringify(r.data)}`);
            reads++;
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      })());
    }
  });

  after(async () => {
    reading = false;
    await Promise.all(readers);
    for (const p of [api, newUnsealer, oldUnsealer]) {
      if (p && p.child.exitCode === null) {
        p.child.kill('SIGTERM');
        await p.exited;
      }
    }
    await service?.close();
    await tdb?.drop();
  });

  const readsGrowBy = async (n: number) => {
    const target = reads + n;
    await waitFor(`${n} more reads`, () => (reads >= target || failures.length > 0 ? true : undefined), 5000);
    assert.deepEqual(failures, []);
  };

  it('serves reads from the unsealed replica', async () => {
    assert.equal(await readyz(oldUnsealer), 200);
    await readsGrowBy(50);
  });

  it('keeps answering while a sealed new replica is in the rotation; the new one is not ready', async (t) => {
    newUnsealer = await startFunction('vault-unsealer', env);
    assert.equal((await sys(newUnsealer, 'GET', 'seal-status')).sealed, true);
    assert.equal(await readyz(newUnsealer), 503, 'ready only once unsealed');
    // Its internal channel answers "sealed" and closes the connection: the api's pool lets go of it.
    const path = '/internal/v1/audit-line-key';
    const sealedAnswer = await request(`http://127.0.0.1:${newUnsealer.port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signRequest(Buffer.from(env.VAULT_INTERNAL_KEY!, 'base64'), 'POST', path, '{}') },
      body: '{}',
    });
    assert.equal(sealedAnswer.statusCode, 503);
    assert.equal(sealedAnswer.headers.connection, 'close');
    assert.deepEqual(await sealedAnswer.body.json(), { errors: ['Vault is sealed'] });
    const before = service.connections.get(newUnsealer.port) ?? 0;
    // Harsher than a cluster, where the unready replica leaves the Service's endpoints: here the
    // "Service" sends it every other new connection. The api's pooled connections are cut (some
    // mid-request) so that its next ones are balanced over both.
    service.backends = [oldUnsealer.port, newUnsealer.port];
    service.cutConnections();
    await readsGrowBy(300);
    // The api keeps its DEKs and asks the unsealer whether it is still unsealed once a second,
    // over a kept-alive connection: cut its connections until a new one reaches the sealed replica.
    const reached = await waitFor('an api connection to reach the sealed replica', () => {
      const n = (service.connections.get(newUnsealer!.port) ?? 0) - before;
      if (n > 0) return n;
      service.cutConnections();
      return undefined;
    }, 200, 250);
    await readsGrowBy(50);
    assert.ok(reached > 0, 'the sealed replica was reached');
    t.diagnostic(`${reads} reads so far; ${reached} api connections reached the sealed replica`);
    assert.equal((await sys(newUnsealer, 'GET', 'seal-status')).sealed, true);
  });

  it('unseals the new replica through sys/unseal; it becomes ready', async () => {
    const replica = newUnsealer!;
    for (const key of keys.slice(1, 3)) await sys(replica, 'PUT', 'unseal', { key });
    assert.equal((await sys(replica, 'GET', 'seal-status')).sealed, false);
    assert.equal(await readyz(replica), 200);
    await readsGrowBy(50);
  });

  it('loses no read when the old replica is stopped with SIGTERM, and the new one carries on', async (t) => {
    const replica = newUnsealer!;
    // SIGTERM while it is still in the rotation, as during a pod's preStop pause; the endpoint
    // goes once the process is gone.
    oldUnsealer.child.kill('SIGTERM');
    assert.equal(await oldUnsealer.exited, 0, oldUnsealer.output());
    service.backends = [replica.port];
    const served = service.connections.get(replica.port) ?? 0;
    await readsGrowBy(300);
    assert.deepEqual(failures, []);
    assert.equal((await sys(replica, 'GET', 'seal-status')).sealed, false);
    assert.ok((service.connections.get(replica.port) ?? 0) >= served);
    t.diagnostic(`${reads} reads in all, none failed; connections per replica: ${JSON.stringify(Object.fromEntries(service.connections))}`);
  });
});
