import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { youngGenerationSizedAtStart } from './heap.js';

// A fresh process each: the flags are process-wide and would change this runner's own heap.
function youngGeneration(limit: boolean, nodeFlags: string[] = []): { beforeMb: number; afterMb: number } {
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
  const r = spawnSync(process.execPath, [...nodeFlags, '--conditions=development', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
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

  it('lets the young generation grow up to a bound the launcher set at start', () => {
    const pinned = youngGeneration(true);
    const bounded = youngGeneration(true, ['--max-semi-space-size=4']);
    // new_space counts both semi-spaces: 4 MB each at most.
    assert.ok(bounded.afterMb > pinned.afterMb, `the launcher's bound is used (${bounded.afterMb} MB, pinned ${pinned.afterMb} MB)`);
    assert.ok(bounded.afterMb <= 8, `and not exceeded (${bounded.afterMb} MB)`);
  });

  it('recognises a young-generation size given on the command line or in NODE_OPTIONS', () => {
    assert.equal(youngGenerationSizedAtStart([], ''), false);
    assert.equal(youngGenerationSizedAtStart(['--conditions=development'], '--max-old-space-size=256'), false);
    assert.equal(youngGenerationSizedAtStart(['--max-semi-space-size=4'], ''), true);
    assert.equal(youngGenerationSizedAtStart(['--min_semi_space_size=2'], ''), true);
    assert.equal(youngGenerationSizedAtStart([], '--enable-source-maps  --max-semi-space-size=4'), true);
    assert.equal(youngGenerationSizedAtStart([], '--max-semi-space-sizes=4'), false);
  });
});
