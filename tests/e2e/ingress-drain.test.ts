// The ingress process on SIGTERM, over real sockets: it stops accepting at once, answers
// not-ready on its admin port, finishes the request in flight, then exits 0.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule } from '#tests/support/gateway-yaml';
import { waitFor, waitUntil } from '#tests/support/poll';
import { freePort } from '#tests/support/ports';
import { nodeArgs } from '#tests/support/node-args';

/** Whether a TCP connection to the port is accepted (true) or refused (false). */
const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('the zenokube ingress command on SIGTERM', () => {
  let dir: string;
  let backend: Server;
  let backendPort: number;
  /** Responses the backend holds until the test lets them go. */
  const held: ServerResponse[] = [];

  before(async () => {
    backend = createServer((req, res) => {
      req.resume();
      req.on('end', () => held.push(res));
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    backendPort = (backend.address() as { port: number }).port;
    dir = mkdtempSync(join(tmpdir(), 'zeno-ingress-drain-'));
    writeFileSync(join(dir, 'all.yaml'), [
      gatewayYaml({ name: 'edge', namespace: 'web', gatewayClassName: 'zenokube', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }] }),
      backendYaml('slow', 'web', backendPort, 'IPv4'),
      httpRouteYaml({ name: 'slow', namespace: 'web', gateway: 'edge', rules: [prefixRule('/', 'slow')] }),
    ].join('\n---\n'));
  });
  after(async () => {
    for (const res of held) res.destroy();
    backend.closeAllConnections();
    await new Promise<void>((r) => backend.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes the request in flight, refuses new connections meanwhile, and exits 0', async () => {
    const port = await freePort();
    const adminPort = await freePort();
    const child = spawn(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'ingress', '--config', dir, '--port-offset', String(port - 80), '--admin', `127.0.0.1:${adminPort}`, '--access-log-sample', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitUntil('the ingress to serve', () => out.includes('ingress running'));
      assert.equal((await request(`http://127.0.0.1:${adminPort}/readyz`)).statusCode, 200);

      const inFlight = request(`http://127.0.0.1:${port}/report`, { method: 'POST', body: 'quarterly' });
      await waitUntil('the request to reach the backend', () => held.length === 1);
      child.kill('SIGTERM');

      // The backend still holds the answer: everything below happens while the request is in flight.
      await waitUntil('the listener to refuse new connections', async () => !(await accepts(port)));
      const readiness = await waitFor('the admin port to answer not-ready', async () => {
        const r = await request(`http://127.0.0.1:${adminPort}/readyz`).catch(() => undefined);
        await r?.body.dump();
        return r?.statusCode === 503 ? r.statusCode : undefined;
      });
      assert.equal(readiness, 503);
      assert.equal(child.exitCode, null, 'still draining');

      held[0]!.writeHead(200, { 'content-type': 'text/plain' }).end('report filed');
      const res = await inFlight;
      assert.equal(res.statusCode, 200);
      assert.equal(await res.body.text(), 'report filed');
      assert.equal(await exited, 0, out);
      assert.match(out, /draining in-flight requests/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
