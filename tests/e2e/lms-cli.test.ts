// `zenokube license verify` on what lms-api checked out: a genuine machine file passes, the same
// file on another machine, after revocation, or with the clock set back is refused, each with its
// verdict code and exit status.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLicenseCli, type CliIo } from '#cli/license';
import { startLmsHarness, type LmsHarness } from '#functions/lms/testing/harness';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';

describe('zenokube license verify', () => {
  let tdb: TestDatabase;
  let h: LmsHarness;
  let dir: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    h = await startLmsHarness(tdb.database);
    dir = await mkdtemp(join(tmpdir(), 'zk-lms-cli-'));
  });
  after(async () => {
    await h?.close();
    await tdb?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function run(args: string[]): Promise<{ code: number; verdict?: { valid: boolean; code: string }; err: string }> {
    let out = '';
    let err = '';
    const io: CliIo = { out: (t) => { out += t; }, err: (t) => { err += t; }, stdin: async () => '' };
    const code = await runLicenseCli(args, io);
    return { code, err, ...(out ? { verdict: JSON.parse(out) } : {}) };
  }

  it('verifies a checked-out machine file and refuses misuse with the right code', async () => {
    const admin = await h.token('acme');
    const call = async (path: string, body: unknown, auth = `Bearer ${admin}`) =>
      (await h.fetch(`/lms/acme/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: auth }, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<Record<string, string>>;
    const product = await call('/products', { name: 'desktop' });
    const policy = await call('/policies', { product: product.id, name: 'node-locked', maxMachines: 1, duration: 'P1Y' });
    const license = await call('/licenses', { policy: policy.id, entitlements: ['export'] });
    await call(`/licenses/${license.id}/machines`, { fingerprint: 'host-1' }, `License ${license.key}`);
    const out = await call(`/licenses/${license.id}/check-out`, { fingerprint: 'host-1' }, `License ${license.key}`);
    const files = { token: join(dir, 'machine.lic'), jwks: join(dir, 'jwks.json'), clock: join(dir, 'clock'), revoked: join(dir, 'revocations.json') };
    await writeFile(files.token, JSON.stringify(out));
    await writeFile(files.jwks, await (await h.fetch(`/lms/acme/products/${product.id}/jwks.json`)).text());
    const now = Math.floor(h.clock.now.getTime() / 1000);
    const base = ['verify', '--jwks', files.jwks, '--audience', product.id!, '--clock-file', files.clock];

    const ok = await run([...base, '--fingerprint', 'host-1', '--now', String(now + 60), files.token]);
    assert.deepEqual([ok.code, ok.verdict?.code], [0, 'VALID']);
    const elsewhere = await run([...base, '--fingerprint', 'host-2', '--now', String(now + 60), files.token]);
    assert.deepEqual([elsewhere.code, elsewhere.verdict?.code], [1, 'FINGERPRINT_MISMATCH']);
    const rolledBack = await run([...base, '--fingerprint', 'host-1', '--now', String(now - 3600), files.token]);
    assert.deepEqual([rolledBack.code, rolledBack.verdict?.code], [1, 'CLOCK_ROLLBACK']);
    const wrongProduct = await run(['verify', '--jwks', files.jwks, '--audience', policy.id!, '--fingerprint', 'host-1', '--now', String(now + 60), files.token]);
    assert.deepEqual([wrongProduct.code, wrongProduct.verdict?.code], [1, 'WRONG_AUDIENCE']);

    await call(`/licenses/${license.id}/revoke`, undefined);
    await writeFile(files.revoked, await (await h.fetch(`/lms/acme/v1/products/${product.id}/revocations`, { headers: { authorization: `Bearer ${admin}` } })).text());
    const revoked = await run([...base, '--fingerprint', 'host-1', '--revocations', files.revoked, '--now', String(now + 120), files.token]);
    assert.deepEqual([revoked.code, revoked.verdict?.code], [1, 'REVOKED']);
  });

  it('answers usage errors and unreadable files with exit 2', async () => {
    assert.equal((await run([])).code, 2);
    assert.equal((await run(['verify', '--audience', 'x'])).code, 2);
    assert.equal((await run(['verify', '--jwks', join(dir, 'missing.json'), '--audience', 'x', join(dir, 'missing.lic')])).code, 2);
    assert.equal((await run(['verify', '--jwks', 'a', '--audience', 'x', '--now', 'yesterday'])).code, 2);
  });
});
