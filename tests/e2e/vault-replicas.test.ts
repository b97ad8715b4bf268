// `zenokube vault status --kube`: the seal state of every unsealer replica, found through the
// unsealer Service's EndpointSlices. The API server here is the in-process FAKE
// (tests/e2e/ingress-fake-apiserver.ts), not a real one; the replicas are real unsealers on real
// PostgreSQL sharing one vault, one unsealed and one sealed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runVaultCli } from '#cli/vault';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { freePort } from '#tests/support/ports';
import { startFakeApiServer, type FakeApiServer } from './ingress-fake-apiserver.js';
import { startVaultServer, type VaultServer } from './vault-server.js';

const NAMESPACE = 'zenokube';

function slice(name: string, service: string, port: number, pod: string, ready: boolean) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NAMESPACE, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready }, targetRef: { kind: 'Pod', name: pod, namespace: NAMESPACE } }],
  };
}

describe('zenokube vault status --kube (fake API server)', () => {
  let tdb: TestDatabase;
  let api: FakeApiServer;
  let unsealed: VaultServer;
  let sealed: VaultServer;
  let dir: string;
  let kubeconfig: string;
  let keys: string[];

  const status = async (...extra: string[]) => {
    let out = '';
    let err = '';
    const code = await runVaultCli(['status', '--kube', '--kubeconfig', kubeconfig, ...extra], {
      env: {},
      out: (t) => (out += t),
      err: (t) => (err += t),
      readStdin: async () => '',
      fetch,
    });
    return { code, out, err };
  };

  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    // Two unsealers of one vault (one database), as two pods of the Deployment.
    unsealed = await startVaultServer(tdb.database);
    sealed = await startVaultServer(tdb.database);
    const init = (await (await fetch(`${unsealed.baseUrl}/vault/v1/sys/init`, { method: 'PUT', body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) })).json()) as { keys: string[] };
    keys = init.keys;
    await fetch(`${unsealed.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: keys[0] }) });
    api = await startFakeApiServer();
    const port = (s: VaultServer) => Number(new URL(s.baseUrl).port);
    api.put(slice('vault-unsealer-a1', 'vault-unsealer', port(unsealed), 'vault-unsealer-6f7c-a', true));
    api.put(slice('vault-unsealer-b2', 'vault-unsealer', port(sealed), 'vault-unsealer-6f7c-b', false));
    // Another Service's endpoints in the same namespace: not an unsealer.
    api.put(slice('vault-api-x', 'vault-api', await freePort(), 'vault-api-00001-x', true));
    dir = mkdtempSync(join(tmpdir(), 'zeno-kubeconfig-'));
    kubeconfig = join(dir, 'config');
    writeFileSync(kubeconfig, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses plain http unless TLS verification is off; the fake speaks http.
      clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'operator', user: { token: 'not-checked-by-the-fake' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'operator', namespace: NAMESPACE } }],
      'current-context': 'fake',
    }));
  });

  after(async () => {
    await api?.close();
    await sealed?.close();
    await unsealed?.close();
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lists each replica of the unsealer's Service with its own seal state; exit 2 while one is sealed", async () => {
    const { code, out } = await status();
    const lines = out.trim().split('\n');
    assert.match(lines[0]!, /^REPLICA\s+ADDRESS\s+READY\s+INITIALIZED\s+SEALED\s+PROGRESS$/);
    assert.equal(lines.length, 3, out);
    assert.match(lines[1]!, /^vault-unsealer-6f7c-a\s+127\.0\.0\.1:\d+\s+true\s+true\s+false\s+0\/1$/);
    assert.match(lines[2]!, /^vault-unsealer-6f7c-b\s+127\.0\.0\.1:\d+\s+false\s+true\s+true\s+0\/1$/);
    assert.equal(code, 2);
    assert.ok(api.requests.some((r) => r === `GET /apis/discovery.k8s.io/v1/namespaces/${NAMESPACE}/endpointslices`));
  });

  it('reports a replica that does not answer, and exits 0 only once every replica is unsealed', async () => {
    api.put(slice('vault-unsealer-c3', 'vault-unsealer', await freePort(), 'vault-unsealer-6f7c-c', false));
    const gone = await status('--json');
    const replicas = JSON.parse(gone.out) as { pod: string; ready: boolean; status: { sealed?: boolean; error?: string } }[];
    assert.deepEqual(replicas.map((r) => r.pod), ['vault-unsealer-6f7c-a', 'vault-unsealer-6f7c-b', 'vault-unsealer-6f7c-c']);
    assert.match(replicas[2]!.status.error!, /^unreachable/);
    assert.equal(gone.code, 2);

    api.remove('/apis/discovery.k8s.io/v1/endpointslices', NAMESPACE, 'vault-unsealer-c3');
    await fetch(`${sealed.baseUrl}/vault/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: keys[0] }) });
    const all = await status();
    assert.equal(all.code, 0, all.out);
    assert.equal(all.out.trim().split('\n').filter((l) => /\strue\s+false\s+0\/1$/.test(l)).length, 2, all.out);
  });

  it('says so when the Service has no endpoints', async () => {
    const { code, out, err } = await status('--service', 'vault-nothing');
    assert.equal(code, 2);
    assert.equal(out.trim().split('\n').length, 1);
    assert.match(err, /no unsealer replica found/);
  });
});
