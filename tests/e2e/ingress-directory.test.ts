// ZenoIngress on a directory of manifests, end to end over real sockets: serving, hot reload
// without dropping in-flight requests, invalid resources reported (never a crash), the CLI.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { request } from 'undici';
import { createLogger } from '#shared/log/index';
import type { StandaloneIngress } from '#functions/ingress/index';
import { startStandalone } from '#functions/ingress/standalone';
import type { EchoBackend } from '#tests/conformance/echo-server';
import { startEcho } from '#tests/conformance/echo-server';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule } from '#tests/support/gateway-yaml';
import { freePort } from '#tests/support/ports';
import { waitUntil } from '#tests/support/poll';
import { nodeArgs } from '#tests/support/node-args';

const gatewayDoc = gatewayYaml({ name: 'edge', namespace: 'web', gatewayClassName: 'zenokube', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }] });

const backendDoc = (port: number) => backendYaml('echo', 'web', port, 'IPv4');

const routeDoc = (name: string, prefix: string, backend = 'echo') => httpRouteYaml({ name, namespace: 'web', gateway: 'edge', rules: [prefixRule(prefix, backend)] });

const until = (check: () => Promise<boolean>) => waitUntil('the ingress to reach the expected state', check);

describe('zenokube ingress --config DIR', () => {
  let dir: string;
  let echo: EchoBackend;
  let ing: StandaloneIngress;
  let base: string;
  let adminBase: string;
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', sink: (l) => lines.push(l) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zeno-ingress-'));
    echo = await startEcho('echo', 'web');
    writeFileSync(join(dir, 'gateway.yaml'), gatewayDoc);
    writeFileSync(join(dir, 'backend.yaml'), backendDoc(echo.port));
    writeFileSync(join(dir, 'route-a.yaml'), routeDoc('a', '/a'));
    const port = await freePort();
    ing = await startStandalone({ dir, portOffset: port - 80, log, admin: { host: '127.0.0.1', port: 0 }, accessLogSample: 0, accessLog: () => {} });
    base = `http://127.0.0.1:${port}`;
    adminBase = `http://127.0.0.1:${ing.admin!.port}`;
  });
  after(async () => {
    await ing.close();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('binds the gateway address on the listener port plus the offset and routes', async () => {
    const r = await request(`${base}/a/x`);
    assert.equal(r.statusCode, 200);
    assert.equal(((await r.body.json()) as { path: string }).path, '/a/x');
    const miss = await request(`${base}/b`);
    assert.equal(miss.statusCode, 404);
    await miss.body.dump();
  });

  it('picks up a new route file without a restart', async () => {
    writeFileSync(join(dir, 'route-b.yaml'), routeDoc('b', '/b'));
    await until(async () => {
      const r = await request(`${base}/b`);
      await r.body.dump();
      return r.statusCode === 200;
    });
  });

  it('finishes an in-flight request across a swap that removes its route', async () => {
    const slow = request(`${base}/a/slow?delay=600`);
    await new Promise((r) => setTimeout(r, 100));
    unlinkSync(join(dir, 'route-a.yaml'));
    await until(async () => {
      const r = await request(`${base}/a/now`);
      await r.body.dump();
      return r.statusCode === 404;
    });
    const res = await slow;
    assert.equal(res.statusCode, 200);
    assert.equal(((await res.body.json()) as { path: string }).path, '/a/slow?delay=600');
  });

  it('reports malformed files and invalid routes as problems and keeps serving', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'kind: [unclosed\n  - :');
    writeFileSync(join(dir, 'route-bad.yaml'), routeDoc('bad', '/bad', 'missing'));
    await until(async () => lines.some((l) => l.includes('BackendNotFound')) && lines.some((l) => l.includes('broken.yaml')));
    const ok = await request(`${base}/b`);
    assert.equal(ok.statusCode, 200);
    await ok.body.dump();
    const bad = await request(`${base}/bad`);
    assert.equal(bad.statusCode, 500);
    await bad.body.dump();
    const status = (await (await request(`${adminBase}/status`)).body.json()) as { httpRoutes: Record<string, { parents: { conditions: { type: string; status: string; reason: string }[] }[] }> };
    const resolved = status.httpRoutes['web/bad']!.parents[0]!.conditions.find((c) => c.type === 'ResolvedRefs')!;
    assert.deepEqual([resolved.status, resolved.reason], ['False', 'BackendNotFound']);
  });

  it('exposes per-route metrics on the admin port', async () => {
    const text = await (await request(`${adminBase}/metrics`)).body.text();
    assert.match(text, /zeno_ingress_requests_total\{route="web\/b\/0",backend="web\/echo:8080",code="200"\} [1-9]/);
    assert.match(text, /zeno_ingress_request_duration_seconds_bucket/);
  });
});

describe('the zenokube ingress command', () => {
  it('serves until SIGTERM, then drains and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zeno-ingress-cli-'));
    const echo = await startEcho('echo', 'web');
    try {
      writeFileSync(join(dir, 'all.yaml'), [gatewayDoc, backendDoc(echo.port), routeDoc('a', '/')].join('\n---\n'));
      const port = await freePort();
      const child = spawn(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'ingress', '--config', dir, '--port-offset', String(port - 80), '--admin', 'off', '--access-log-sample', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      await until(async () => out.includes('ingress running'));
      const r = await request(`http://127.0.0.1:${port}/hello`);
      assert.equal(r.statusCode, 200);
      await r.body.dump();
      const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    } finally {
      await echo.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad options with usage and exit code 2', async () => {
    const child = spawn(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'ingress', '--port-offset', 'x'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    assert.equal(code, 2);
    assert.match(err, /--config DIR is required/);
    assert.match(err, /--port-offset must be an integer/);
  });

  it('refuses a --config that is not a directory, with exit code 2 and no stack trace', async () => {
    const missing = join(tmpdir(), `zeno-ingress-missing-${process.pid}`);
    const child = spawn(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'ingress', '--config', missing], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
    assert.equal(code, 2);
    assert.match(err, /--config .*zeno-ingress-missing-\d+: no such directory/);
    assert.doesNotMatch(err, /ENOENT|\n\s+at /);
  });
});
