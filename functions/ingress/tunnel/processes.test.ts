// Tunnel mode as it is deployed: the edge and the agent each a process of their own, started by
// `zenokube ingress tunnel edge|agent` from their configuration files (or the agent inside the
// ingress itself, `zenokube ingress --config DIR --tunnel FILE`, as the site's Deployment runs it
// with --kube), the agent getting its token by the client credentials grant;
// `zenokube ingress tunnel status` reads both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '#tests/support/ports';
import { waitUntil } from '#tests/support/poll';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule, yamlStream } from '#tests/support/gateway-yaml';
import type { Backend, Issuer } from './tunnel.test-support.js';
import { certificate, send, startBackend, startIssuer } from './tunnel.test-support.js';
import { nodeArgs } from '#tests/support/node-args';

const GUARD = { timeout: 180_000 };
const HOST = 'app.example.com';

interface Child {
  process: ChildProcess;
  out: string;
}

function zenokube(args: string[], command = ['ingress', 'tunnel']): Child {
  const child: Child = { process: spawn(process.execPath, [...nodeArgs('cli/zenokube.ts'), ...command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }), out: '' };
  child.process.stdout!.on('data', (d: Buffer) => (child.out += d.toString()));
  child.process.stderr!.on('data', (d: Buffer) => (child.out += d.toString()));
  return child;
}

const exited = (c: Child) => new Promise<number | null>((r) => (c.process.exitCode !== null ? r(c.process.exitCode) : c.process.once('exit', (code) => r(code))));

async function run(args: string[], command?: string[]): Promise<{ code: number | null; out: string }> {
  const c = zenokube(args, command);
  const code = await exited(c);
  return { code, out: c.out };
}

describe('zenokube ingress tunnel edge|agent|status (two processes)', GUARD, () => {
  let dir: string;
  let issuer: Issuer;
  let backend: Backend;
  let edge: Child;
  let agent: Child | undefined;
  let site: Child | undefined;
  const ports = { agents: 0, users: 0, edgeAdmin: 0, agentAdmin: 0, site: 0 };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zeno-tunnel-e2e-'));
    issuer = await startIssuer();
    issuer.secrets.set('site-a', 's3cret');
    backend = await startBackend('site-a');
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    const cert = certificate('edge.test');
    writeFileSync(join(dir, 'edge.crt'), cert.cert);
    writeFileSync(join(dir, 'edge.key'), cert.key);
    writeFileSync(join(dir, 'secret'), 's3cret\n');
    writeFileSync(
      join(dir, 'edge.yaml'),
      stringify({
        agents: { listen: `127.0.0.1:${ports.agents}`, certFile: join(dir, 'edge.crt'), keyFile: join(dir, 'edge.key') },
        users: { listen: `127.0.0.1:${ports.users}` },
        issuer: issuer.url,
        clients: { 'site-a': [HOST] },
        admin: `127.0.0.1:${ports.edgeAdmin}`,
      }),
    );
    writeFileSync(
      join(dir, 'agent.yaml'),
      stringify({
        edges: [{ address: `127.0.0.1:${ports.agents}`, caFile: join(dir, 'edge.crt'), servername: 'edge.test' }],
        hostnames: [HOST],
        listener: 'site/gw:80',
        token: { url: `${issuer.url}/token`, clientId: 'site-a', clientSecretFile: join(dir, 'secret') },
        admin: `127.0.0.1:${ports.agentAdmin}`,
      }),
    );
    const manifests = join(dir, 'manifests');
    mkdirSync(manifests);
    writeFileSync(
      join(manifests, 'site.yaml'),
      yamlStream(
        gatewayYaml({ name: 'gw', namespace: 'site', gatewayClassName: 'zenokube', addresses: [{ type: 'IPAddress', value: '127.0.0.1' }] }),
        httpRouteYaml({ name: 'app', namespace: 'site', gateway: 'gw', rules: [prefixRule('/', 'backend')] }),
        backendYaml('backend', 'site', backend.port),
      ),
    );
    edge = zenokube(['edge', '--config', join(dir, 'edge.yaml')]);
    await waitUntil('the edge to listen', () => edge.out.includes('tunnel edge running') || edge.process.exitCode !== null);
    assert.equal(edge.process.exitCode, null, edge.out);
  });
  after(async () => {
    for (const c of [site, agent, edge]) if (c && c.process.exitCode === null) {
      c.process.kill('SIGTERM');
      await exited(c);
    }
    await backend.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a configuration with every problem listed', async () => {
    writeFileSync(join(dir, 'bad.yaml'), stringify({ agents: { listen: 'nowhere' }, users: { listen: '127.0.0.1:1' }, issuer: 'not a url', clients: { a: ['Bad_Host'] } }));
    const r = await run(['edge', '--config', join(dir, 'bad.yaml')]);
    assert.equal(r.code, 2);
    for (const field of ['agents.listen', 'agents.certFile', 'issuer', 'clients.a.0']) assert.match(r.out, new RegExp(field.replace('.', '\\.')));
  });

  it('answers 503 until an agent connects, then serves requests through the agent process', async () => {
    assert.equal((await send(ports.users, '/')).status, 503);
    agent = zenokube(['agent', '--config', join(dir, 'manifests'), '--tunnel', join(dir, 'agent.yaml'), '--port-offset', String(ports.site - 80), '--admin', 'off']);
    await waitUntil('the agent to connect', async () => (await send(ports.users, '/echo/x')).status === 200 || agent!.process.exitCode !== null);
    assert.equal(agent.process.exitCode, null, agent.out);
    const r = await send(ports.users, '/echo/through?q=1', { method: 'POST', body: 'hello' });
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body.toString()) as { name: string; path: string; size: number; headers: Record<string, string> };
    assert.equal(seen.name, 'site-a');
    assert.equal(seen.path, '/echo/through?q=1');
    assert.equal(seen.size, 5);
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  });

  it('reports both ends with `zenokube ingress tunnel status`', async () => {
    const e = await run(['status', '--admin', `127.0.0.1:${ports.edgeAdmin}`]);
    assert.equal(e.code, 0, e.out);
    assert.match(e.out, new RegExp(`site-a\\t127\\.0\\.0\\.1:\\d+\\tlive\\t\\d+\\t[^\\t]+\\t${HOST.replace(/\./g, '\\.')}`));
    const a = await run(['status', '--admin', `127.0.0.1:${ports.agentAdmin}`]);
    assert.equal(a.code, 0, a.out);
    assert.match(a.out, new RegExp(`127\\.0\\.0\\.1:${ports.agents}\\tconnected\\t1\\t`));
    const metrics = await (await fetch(`http://127.0.0.1:${ports.edgeAdmin}/metrics`)).text();
    assert.match(metrics, /zeno_tunnel_sessions\{side="edge",peer="site-a"\} 1/);
    assert.match(metrics, /zeno_tunnel_edge_requests\{outcome="no_agent"\} [1-9]/);
  });

  it('drains on SIGTERM: a slow answer in flight finishes, then the edge answers 503', async () => {
    const slow = send(ports.users, '/slow?ms=1500');
    await waitUntil('the answer in flight', async () => {
      const s = (await (await fetch(`http://127.0.0.1:${ports.edgeAdmin}/status`)).json()) as { sessions: { streams: number }[] };
      return (s.sessions[0]?.streams ?? 0) > 0;
    });
    agent!.process.kill('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'first;last');
    assert.equal(await exited(agent!), 0);
    await waitUntil('the session to go', async () => (await send(ports.users, '/')).status === 503);
  });

  it('runs the agent inside the ingress with `zenokube ingress --tunnel FILE`, and stops it first on SIGTERM', async () => {
    const manifests = join(dir, 'manifests');
    const offset = String(ports.site - 80);
    const missing = await run(['--config', manifests, '--tunnel', join(dir, 'nowhere.yaml'), '--port-offset', offset, '--admin', 'off'], ['ingress']);
    assert.equal(missing.code, 2);
    assert.match(missing.out, /--tunnel .*nowhere\.yaml: no such file/);
    writeFileSync(join(dir, 'bad-agent.yaml'), stringify({ edges: [], hostnames: ['Bad_Host'], listener: 'gw', token: {} }));
    const bad = await run(['--config', manifests, '--tunnel', join(dir, 'bad-agent.yaml'), '--port-offset', offset, '--admin', 'off'], ['ingress']);
    assert.equal(bad.code, 2, bad.out);
    for (const field of ['edges', 'hostnames.0', 'listener', 'token.url']) assert.match(bad.out, new RegExp(field.replace('.', '\\.')), bad.out);

    site = zenokube(['--config', manifests, '--tunnel', join(dir, 'agent.yaml'), '--port-offset', offset, '--admin', 'off'], ['ingress']);
    await waitUntil('the ingress\'s agent to connect', async () => (await send(ports.users, '/echo/x')).status === 200 || site!.process.exitCode !== null);
    assert.equal(site.process.exitCode, null, site.out);
    const through = await send(ports.users, '/echo/inside?q=2');
    assert.equal(through.status, 200);
    assert.equal((JSON.parse(through.body.toString()) as { path: string }).path, '/echo/inside?q=2');
    // The site's own listener answers directly too: one engine for both.
    const direct = await send(ports.site, '/echo/direct', { host: HOST });
    assert.equal(direct.status, 200);
    const slow = send(ports.users, '/slow?ms=1500');
    await waitUntil('the answer in flight', async () => {
      const s = (await (await fetch(`http://127.0.0.1:${ports.edgeAdmin}/status`)).json()) as { sessions: { streams: number }[] };
      return (s.sessions[0]?.streams ?? 0) > 0;
    });
    site.process.kill('SIGTERM');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'first;last');
    assert.equal(await exited(site), 0, site.out);
    assert.match(site.out, /tunnel agent stopping[\s\S]*ingress stopping/);
    await waitUntil('the session to go', async () => (await send(ports.users, '/')).status === 503);
  });
});
