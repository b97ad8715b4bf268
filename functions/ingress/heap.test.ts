import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { missingProxyFlags, PROXY_NODE_FLAGS, PROXY_NODE_OPTIONS } from './heap.js';

/** Runs `script` in a fresh node (the flags are process-wide) and returns its exit and output. */
function node(flags: readonly string[], nodeOptions: string, script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: nodeOptions } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The young generation's size after churn like a proxy's: requests that survive a few scavenges, then die. */
const CHURN = `
  import { getHeapSpaceStatistics } from 'node:v8';
  let inFlight = [];
  for (let i = 0; i < 400000; i++) {
    inFlight.push({ id: i, headers: ['host', 'example.com', 'x-request-id', String(i)] });
    if (inFlight.length > 2000) inFlight = [];
  }
  const s = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  process.stdout.write(String(s.space_size / 1048576));
`;

describe('proxy heap flags', () => {
  it('puts in NODE_OPTIONS only what node accepts there', () => {
    const r = node([], PROXY_NODE_OPTIONS, 'process.stdout.write("up")');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'up');
  });

  for (const flag of PROXY_NODE_FLAGS) {
    it(`needs ${flag} on node's command line: NODE_OPTIONS refuses it, the command line takes it`, () => {
      const refused = node([], flag, 'process.stdout.write("up")');
      assert.notEqual(refused.status, 0);
      assert.match(refused.stderr, /is not allowed in NODE_OPTIONS/);
      const taken = node([flag], '', 'process.stdout.write("up")');
      assert.equal(taken.status, 0, taken.stderr);
      assert.equal(taken.stdout, 'up');
    });
  }

  it('bounds the young generation under churn at the semi-space size NODE_OPTIONS gives, where V8 alone grows it', () => {
    const free = node([], '', CHURN);
    const bounded = node(PROXY_NODE_FLAGS, PROXY_NODE_OPTIONS, CHURN);
    assert.equal(free.status, 0, free.stderr);
    assert.equal(bounded.status, 0, bounded.stderr);
    const max = Number(/--max-semi-space-size=(\d+)/.exec(PROXY_NODE_OPTIONS)![1]);
    // new_space counts both semi-spaces.
    assert.ok(Number(bounded.stdout) <= 2 * max, `bounded: ${bounded.stdout} MB`);
    assert.ok(Number(free.stdout) > 2 * max, `unbounded, V8 grows it: ${free.stdout} MB`);
  });

  it('names the flags a process did not start with, on the command line or in NODE_OPTIONS', () => {
    const all = [...PROXY_NODE_OPTIONS.split(' '), ...PROXY_NODE_FLAGS];
    assert.deepEqual(missingProxyFlags([], ''), all);
    assert.deepEqual(missingProxyFlags([...PROXY_NODE_FLAGS], PROXY_NODE_OPTIONS), []);
    // V8 reads `_` as `-`; a flag given with another value is the launcher's choice.
    assert.deepEqual(missingProxyFlags(['--heap_growing_percent=30', '--no-allocation-site-pretenuring', '--conditions=development'], '--max-semi-space-size=8'), []);
    assert.deepEqual(missingProxyFlags(['--no-allocation-site-pretenuring'], '--enable-source-maps'), all.filter((f) => f !== '--no-allocation-site-pretenuring'));
  });
});
