import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// A fresh process each: the flags are process-wide and would change this runner's own heap.
function youngGeneration(limit: boolean): { beforeMb: number; afterMb: number } {
  const heap = fileURLToPath(new URL('./heap.ts', import.meta.url));
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    const size = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
    ${limit ? `const { limitProxyHeap } = await import(${JSON.stringify(heap)}); limitProxyHeap();` : ''}
    const beforeMb = size();
    // Requests in flight: objects that survive a few scavenges, then die.
    let inFlight = [];
    for (let i = 0; i < 400000; i++) {
      inFlight.push({ id: i, headers: ['host', 'example.com', 'x-request-id', String(i)] });
      if (inFlight.length > 2000) inFlight = [];
    }
    process.stdout.write(JSON.stringify({ beforeMb, afterMb: size() }));
  `;
  const r = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { beforeMb: number; afterMb: number };
}

describe('proxy heap sizing', () => {
  it('stops the young generation growing under churn, where V8 alone grows it', () => {
    const free = youngGeneration(false);
    const limited = youngGeneration(true);
    assert.ok(free.afterMb > free.beforeMb, `without the limit the young generation grows (${free.beforeMb} → ${free.afterMb} MB)`);
    assert.equal(limited.afterMb, limited.beforeMb, 'with the limit it keeps the size it had when the limit was set');
  });
});
