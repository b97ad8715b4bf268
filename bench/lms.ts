// ZenoLMS benchmark, runnable alone (needs the test PostgreSQL for the HTTP part):
//   node --conditions=development --import tsx bench/lms.ts
// Same process, same run, rounds interleaved (baseline, ours, baseline, ours), one core:
//  1. license signs/s (claims to a license+jwt with jose) against raw Node crypto.sign Ed25519 of
//     a payload of the same size;
//  2. offline verifications/s (verifyLicense: signature, typ, aud, nbf/exp, grace, node lock)
//     against raw crypto.verify of the same signature;
//  3. validations/s over HTTP (POST /lms/{tenant}/v1/licenses/validate, platform-wrapped, real
//     socket, real PostgreSQL) against GET /healthz of the same server (no database).
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { calculateJwkThumbprint } from 'jose';
import { signLicenseToken } from '#functions/lms/core/sign';
import type { LicenseClaims } from '#functions/lms/core/token-claims';
import { verifyLicense } from '#functions/lms/core/verifier';
import { startLmsHarness } from '#functions/lms/testing/harness';
import { listen } from '#shared/http/serve';
import { createTestDatabase } from '#tests/support/database';

const line = (s: string) => process.stdout.write(s + '\n');
const N = Number(process.env.BENCH_CRYPTO_OPS ?? 4000);
const HTTP_REQUESTS = Number(process.env.BENCH_HTTP_REQUESTS ?? 2000);
const IN_FLIGHT = 16;
const ROUNDS = 3;

async function rate(n: number, op: () => unknown): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op();
  return n / ((performance.now() - t0) / 1000);
}

/** Best of the interleaved rounds for each side, and their ratio. */
async function compare(label: string, baseline: () => Promise<number>, ours: () => Promise<number>): Promise<void> {
  const b: number[] = [];
  const o: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    b.push(await baseline());
    o.push(await ours());
  }
  const [bb, oo] = [Math.max(...b), Math.max(...o)];
  line(`${label.padEnd(34)} baseline ${bb.toFixed(0).padStart(8)}/s   ours ${oo.toFixed(0).padStart(8)}/s   ratio ${(oo / bb).toFixed(2)}`);
}

async function cryptoFigures(): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = publicKey.export({ format: 'jwk' }).x!;
  const kid = await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x });
  const now = Math.floor(Date.now() / 1000);
  const claims: LicenseClaims = {
    iss: 'https://lms.example/lms/acme', sub: '0b7d4c1e-2f7a-4a53-9d4e-5e0f1c2b3a49', aud: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    iat: now, nbf: now, exp: now + 86_400, jti: 'b1f3', tenant: 'acme', entitlements: ['pro', 'sso', 'export'], limits: { seats: 25 },
    policy: { name: 'annual', maxMachines: 5, floating: true, strict: true, overage: 0, checkInInterval: 86_400, grace: 3600 },
    licenseExpiresAt: now + 365 * 86_400, fingerprint: 'host-1', machine: { id: 'm-1', name: 'build' },
  };
  const token = await signLicenseToken({ kid, key: privateKey }, claims);
  const [h, p, s] = token.split('.') as [string, string, string];
  const input = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  const keys = { keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA' }] };
  const opts = { keys, audience: claims.aud, fingerprint: 'host-1', now: now + 10 };
  if ((await verifyLicense(token, opts)).code !== 'VALID') throw new Error('the bench token does not verify');
  await compare('license signs (jose) vs crypto.sign', () => rate(N, () => sign(null, input, privateKey)), () => rate(N, () => signLicenseToken({ kid, key: privateKey }, claims)));
  await compare('offline verifies vs crypto.verify', () => rate(N, () => verify(null, input, publicKey, signature)), () => rate(N, () => verifyLicense(token, opts)));
}

async function load(url: string, init: () => RequestInit): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next++ < HTTP_REQUESTS) {
      const r = await fetch(url, init());
      if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return HTTP_REQUESTS / ((performance.now() - t0) / 1000);
}

async function httpFigures(): Promise<void> {
  const tdb = await createTestDatabase({ max: 8 });
  const h = await startLmsHarness(tdb.database);
  const server = await listen((req, env) => h.hosted.app.fetch(req, env), { port: 0, host: '127.0.0.1' });
  try {
    const admin = await h.token('acme');
    const post = async (path: string, body: unknown) =>
      (await (await h.fetch(`/lms/acme/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` }, body: JSON.stringify(body) })).json()) as Record<string, string>;
    const product = await post('/products', { name: 'bench' });
    const policy = await post('/policies', { product: product.id, name: 'p', maxMachines: 5, duration: 'P1Y' });
    const { key } = await post('/licenses', { policy: policy.id, entitlements: ['pro'] });
    const base = `http://127.0.0.1:${server.port}`;
    const body = JSON.stringify({ key });
    await compare(`validations over HTTP (${IN_FLIGHT} in flight) vs /healthz`, () => load(`${base}/healthz`, () => ({})), () =>
      load(`${base}/lms/acme/v1/licenses/validate`, () => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body })));
  } finally {
    await server.close(1000);
    await h.close();
    await tdb.drop();
  }
}

line(`bench/lms: node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${N} crypto ops and ${HTTP_REQUESTS} requests per round, best of ${ROUNDS}`);
await cryptoFigures();
await httpFigures();
line(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
