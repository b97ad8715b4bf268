// The hostnames an agent registers, taken from the routes of its gateway listener when its file
// lists none (runAgent): registered again, make-before-break, when the routes change, so that
// requests for the hostnames kept never see the change; a list the edge refuses leaves the one
// registered before in place. Real sockets: an edge, an issuer, a site's ingress engine.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createLogger } from '#shared/log/index';
import { waitUntil } from '#tests/support/poll';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule, yamlStream } from '#tests/support/gateway-yaml';
import { compile } from '../engine/compile.js';
import { parseManifests } from '../source/parse.js';
import type { Ingress } from '../runtime.js';
import { createIngress } from '../runtime.js';
import { createAgentCheck } from './agent-auth.js';
import type { Edge } from './edge.js';
import { startEdge } from './edge.js';
import { ConfigError, runAgent } from './run.js';
import type { Backend, Issuer } from './tunnel.test-support.js';
import { certificate, send, startBackend, startIssuer } from './tunnel.test-support.js';

/** Guards against a hang only; no test asserts on time. */
const GUARD = { timeout: 120_000 };
const APP = 'app.example.com';
const edgeCert = certificate('edge.test');

describe('tunnel hostnames from the listener\'s routes', GUARD, () => {
  let dir: string;
  let issuer: Issuer;
  let edge: Edge;
  let backend: Backend;
  let ingress: Ingress;
  let running: Awaited<ReturnType<typeof runAgent>> | undefined;
  const logged: { level: string; msg: string }[] = [];
  const log = createLogger({ sink: (line) => logged.push(JSON.parse(line) as { level: string; msg: string }) });

  /** Applies the site's manifests with one route per entry: its hostnames (none: any hostname). */
  const applyRoutes = async (...routes: (string[] | undefined)[]) => {
    const yaml = yamlStream(
      gatewayYaml({ name: 'gw', namespace: 'site', gatewayClassName: 'zenokube' }),
      ...routes.map((hostnames, i) => httpRouteYaml({ name: `app-${i}`, namespace: 'site', gateway: 'gw', rules: [prefixRule('/', 'backend')], ...(hostnames ? { hostnames } : {}) })),
      backendYaml('backend', 'site', backend.port),
    );
    const { set, problems } = parseManifests(yaml, 'site.yaml');
    assert.deepEqual(problems, []);
    await ingress.apply(compile(set));
  };
  const agentFile = (extra: Record<string, unknown> = {}) => {
    const file = join(dir, `agent-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      file,
      stringify({
        edges: [{ address: `127.0.0.1:${edge.agentPort}`, caFile: join(dir, 'edge.crt'), servername: 'edge.test' }],
        listener: 'site/gw:80',
        token: { url: `${issuer.url}/token`, clientId: 'site-a', clientSecretFile: join(dir, 'secret') },
        ...extra,
      }),
    );
    return file;
  };
  const registered = () => edge.sessions().filter((s) => !s.draining).map((s) => s.hostnames.join(','));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zeno-tunnel-hosts-'));
    writeFileSync(join(dir, 'edge.crt'), edgeCert.cert);
    writeFileSync(join(dir, 'secret'), 's3cret\n');
    issuer = await startIssuer();
    issuer.secrets.set('site-a', 's3cret');
    edge = await startEdge({
      agents: { host: '127.0.0.1', port: 0, tls: edgeCert },
      users: { host: '127.0.0.1', port: 0 },
      check: createAgentCheck({ issuer: issuer.url, clients: { 'site-a': [APP, '*.wild.example.com'] } }),
    });
    backend = await startBackend('site-a');
    ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 2_000 });
  });
  after(async () => {
    await running?.close();
    await ingress.close();
    await backend.close();
    await edge.close();
    await issuer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the exact and wildcard hostnames a listener port routes, and none when a route takes any', async () => {
    await applyRoutes([APP], ['*.wild.example.com', 'API.example.com']);
    assert.deepEqual(ingress.hostnames('site/gw', 80), ['*.wild.example.com', 'api.example.com', APP].sort());
    assert.equal(ingress.hostnames('site/gw', 81), undefined, 'no such listener');
    await applyRoutes([APP], undefined);
    assert.equal(ingress.hostnames('site/gw', 80), undefined, 'a route without hostnames serves any');
  });

  it('refuses to start an agent without hostnames on a listener that serves any, naming the fix', async () => {
    await applyRoutes(undefined);
    await assert.rejects(runAgent(agentFile(), ingress, log), (err: unknown) => err instanceof ConfigError && /serves any hostname .*list them/.test(err.message));
  });

  it('registers the routes\' hostnames, and registers them again make-before-break when the routes change', async () => {
    await applyRoutes([APP]);
    running = await runAgent(agentFile(), ingress, log);
    await waitUntil('the agent to connect', async () => (await send(edge.userPort, '/echo/a', { host: APP })).status === 200);
    assert.deepEqual(registered(), [APP]);
    assert.equal((await send(edge.userPort, '/echo/b', { host: 'b.wild.example.com' })).status, 503);

    // Requests for the hostname kept run all through the change: none may fail.
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) statuses.push((await send(edge.userPort, '/echo/during', { host: APP })).status);
    })();
    await applyRoutes([APP], ['*.wild.example.com']);
    await waitUntil('the new hostnames to be served', async () => (await send(edge.userPort, '/echo/b', { host: 'b.wild.example.com' })).status === 200);
    await waitUntil('the old session to go', () => edge.sessions().length === 1);
    stop = true;
    await load;
    assert.ok(statuses.length > 0);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every request for the kept hostname answered');
    assert.deepEqual(registered(), [['*.wild.example.com', APP].sort().join(',')]);
    assert.ok(logged.some((l) => l.msg === 'tunnel hostnames registered'));
  });

  it('keeps the registered hostnames when the edge refuses the new list, or the routes take any hostname', async () => {
    const before = registered();
    await applyRoutes([APP], ['not-allowed.example.com']);
    await waitUntil('the refusal to be logged', () => logged.some((l) => l.level === 'warn' && l.msg.startsWith('tunnel hostnames not registered')));
    assert.deepEqual(registered(), before);
    assert.equal((await send(edge.userPort, '/echo/still', { host: APP })).status, 200);
    assert.equal(running!.agent.status()[0]!.lastError, '403 hostname_not_allowed');

    await applyRoutes([APP], undefined);
    assert.ok(logged.some((l) => l.level === 'warn' && l.msg.startsWith('tunnel hostnames unchanged')));
    assert.deepEqual(registered(), before);
    assert.equal((await send(edge.userPort, '/echo/still', { host: 'b.wild.example.com' })).status, 200);
  });
});
