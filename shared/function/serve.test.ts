// serveFunction binds its port while the function is hosted: a request that arrives before the
// app is built waits for it and is answered; a function that cannot be hosted releases the port.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { Hono } from 'hono';
import { loadConfig } from '#shared/config/index';
import { defineFunction, type FunctionDeclaration, type FunctionModule } from '#shared/function/define';
import { createLogger } from '#shared/log/index';
import { createDeferredMetrics } from '#shared/metrics/deferred';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { serveFunction } from './serve.js';
import type { Platform } from './platform.js';
import { freePort } from '#tests/support/ports';

/** One GET; resolves to status and body, or rejects when nothing listens. */
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves once something has bound `port` (binding it ourselves fails); gives up after 10 s. */
async function bound(port: number): Promise<void> {
  for (let tries = 0; tries < 2000; tries++) {
    const taken = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(true));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
    });
    if (taken) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`port ${port} was never bound while the function was hosted`);
}

function declaration(load: () => Promise<FunctionModule>): FunctionDeclaration {
  return defineFunction({
    name: 'probe-late',
    product: 'probe',
    description: 'a function whose module loads when the test says so',
    routes: [{ path: '/probe', match: 'Exact', methods: ['GET'] }],
    scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 10 },
    load,
  });
}

describe('serveFunction', () => {
  let tdb: TestDatabase;
  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
  });
  after(async () => {
    await tdb.drop();
  });

  const platform = (port: number): Platform => ({
    config: loadConfig({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: tdb.url }),
    log: createLogger({ level: 'error' }),
    metrics: createDeferredMetrics(),
    database: tdb.database,
  });

  it('answers a request that arrived while the function was still being hosted', async () => {
    const port = await freePort();
    let release!: () => void;
    const loaded = new Promise<void>((r) => (release = r));
    const module: FunctionModule = {
      createApp: () => new Hono().get('/probe', (c) => c.json({ ok: true })),
    };
    const serving = serveFunction(declaration(async () => (await loaded, module)), platform(port));
    await bound(port);
    const early = get(port, '/probe');
    // The request is held, not refused or failed, until the app exists.
    await new Promise((r) => setTimeout(r, 50));
    release();
    const served = await serving;
    try {
      const res = await early;
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { ok: true });
      assert.equal((await get(port, '/readyz')).status, 200);
    } finally {
      await served.stop();
    }
  });

  it('releases the port when the function cannot be hosted', async () => {
    const port = await freePort();
    await assert.rejects(
      serveFunction(declaration(() => Promise.reject(new Error('module failed to load'))), platform(port)),
      /module failed to load/,
    );
    await assert.rejects(get(port, '/healthz'), { code: 'ECONNREFUSED' });
  });
});
