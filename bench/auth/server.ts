// A benchmark target in its own process: `token` or `login` (the real auth functions, platform-
// wrapped, on PostgreSQL), `sign` (bare Hono that only signs the same access-token JWT with
// jose), `platform-sign` (that endpoint inside the platform wrapper) or `hello` (bare Hono). Prints "PORT <n>" on stderr once listening.
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { SignJWT, generateKeyPair } from 'jose';
import { loadConfig } from '#shared/config/index';
import { openDatabase } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import { hostFunction } from '#shared/function/host';
import { createPlatformApp } from '#shared/http/app';
import { listen } from '#shared/http/serve';
import { createLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import authorize from '#functions/auth/authorize/function';
import token from '#functions/auth/token/function';

const mode = process.argv[2];

async function fetchHandler(): Promise<(req: Request, env: unknown) => Response | Promise<Response>> {
  if (mode === 'hello') {
    const app = new Hono();
    app.get('/', (c) => c.text('hello'));
    return app.fetch;
  }
  if (mode === 'sign' || mode === 'platform-sign') {
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const app = new Hono();
    app.post('/token', async (c) => {
      const iat = Math.floor(Date.now() / 1000);
      const jwt = await new SignJWT({ iss: 'http://localhost/auth/bench', sub: 'svc', aud: 'http://localhost/auth/bench', exp: iat + 600, iat, jti: randomUUID(), client_id: 'svc', scope: 'read' })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k' })
        .sign(privateKey);
      return c.json({ access_token: jwt, token_type: 'Bearer', expires_in: 600, scope: 'read' }, 200, { 'cache-control': 'no-store' });
    });
    if (mode === 'sign') return app.fetch;
    // The same endpoint inside the platform contract (request id, access log, metrics, headers, body limit).
    const config = loadConfig();
    return createPlatformApp(app, { name: 'bench', log: createLogger({ level: config.logLevel }), metrics: createMetrics(), bodyLimitBytes: config.bodyLimitBytes, readiness: async () => [] }).fetch;
  }
  const decl = mode === 'login' ? authorize : token;
  const config = loadConfig();
  const database = await openDatabase({ url: config.databaseUrl, max: 10 });
  const hosted = await hostFunction(decl, {
    config,
    database,
    log: createLogger({ level: config.logLevel }),
    metrics: createMetrics(),
    events: createEventPublisher({ product: 'auth', source: `/auth/${mode}` }),
  });
  return hosted.app.fetch;
}

const server = await listen(await fetchHandler(), { port: 0, host: '127.0.0.1' });
process.stderr.write(`PORT ${server.port}\n`);
// bench/auth/profile.ts: SIGUSR2 starts the CPU profiler (after warm-up); SIGTERM writes it out.
let stopProfile: (() => Promise<void>) | undefined;
const profileTo = process.env.BENCH_PROFILE_FILE;
if (profileTo) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  process.once('SIGUSR2', () => {
    const session = new Session();
    session.connect();
    const started = session.post('Profiler.enable').then(() => session.post('Profiler.start'));
    stopProfile = async () => {
      await started;
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(profileTo, JSON.stringify(profile));
    };
  });
}
process.once('SIGTERM', () => void server.close(500).then(async () => {
  await stopProfile?.();
  process.exit(0);
}));
