// The generated Deployment starts the proxy with its heap flags: the ones node takes in
// NODE_OPTIONS there, the others on node's command line in front of the image's entrypoint, which
// a node started that way accepts and runs with none missing.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultOptions, ingressManifests } from '#manifests/index';
import { PROXY_NODE_FLAGS, PROXY_NODE_OPTIONS } from '#functions/ingress/heap';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Container {
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
}

function container(): Container {
  const deployment = ingressManifests(defaultOptions('1.2.3'), [])
    .get('deployment.yaml')!
    .find((o) => o.kind === 'Deployment') as { spec: { template: { spec: { containers: Container[] } } } };
  return deployment.spec.template.spec.containers[0]!;
}

describe('the ingress Deployment (manifests/ingress.ts)', () => {
  it("runs the image's entrypoint with the heap flags on node's command line and the rest in NODE_OPTIONS", () => {
    const c = container();
    const entrypoint = JSON.parse(/^ENTRYPOINT (.+)$/m.exec(readFileSync(`${root}/Dockerfile`, 'utf8'))![1]!) as string[];
    assert.deepEqual(c.command, [entrypoint[0], ...PROXY_NODE_FLAGS, ...entrypoint.slice(1)]);
    assert.deepEqual(c.args.slice(0, 2), ['ingress', '--kube']);
    assert.deepEqual(
      c.env.filter((e) => e.name === 'NODE_OPTIONS'),
      [{ name: 'NODE_OPTIONS', value: PROXY_NODE_OPTIONS }],
    );
  });

  it('starts a node that accepts every flag and lacks none of them', () => {
    const c = container();
    const flags = c.command.slice(1, -1);
    const nodeOptions = c.env.find((e) => e.name === 'NODE_OPTIONS')!.value;
    const heap = fileURLToPath(new URL('../../functions/ingress/heap.ts', import.meta.url));
    const script = `const { missingProxyFlags } = await import(${JSON.stringify(heap)}); process.stdout.write(JSON.stringify(missingProxyFlags()));`;
    const r = spawnSync(process.execPath, [...flags, '--conditions=development', '--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });
});
