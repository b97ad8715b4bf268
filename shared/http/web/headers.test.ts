// The platform's Headers against Node's own (undici's), operation by operation: the same
// results, the same list, and a TypeError wherever Node throws one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { nativeWebClasses } from './globals.js';
import { Headers } from './headers.js';

const Native = nativeWebClasses().Headers;

/** A small deterministic generator (mulberry32), so that a failure names a seed that replays it. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ['a', 'B', 'x-a', 'X-A', 'content-type', 'Set-Cookie', 'set-cookie', 'accept', 'z', '', 'bad name', 'é', 'x\n', 'x:y', '__proto__', 'constructor'];
const VALUES = ['1', 'text/html', '', '  padded\t', '\r\nfolded', 'a, b', 'id=1; Path=/', 'café', 'in\tside', 'nul\0', 'cr\rin', 'lf\nin', 'euro €', ' ', '\t\t'];

type Outcome = { value: unknown } | { threw: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { value: f() };
  } catch (err) {
    return { threw: (err as Error).name };
  }
}

function snapshot(h: globalThis.Headers | Headers): unknown {
  const forEach: [string, string][] = [];
  h.forEach((value, name) => forEach.push([name, value]));
  return { entries: [...h], keys: [...h.keys()], values: [...h.values()], forEach, cookies: h.getSetCookie() };
}

describe('Headers', () => {
  it('behaves as Node\'s Headers over 2,000 random operations of every kind', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(seed);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
      const mine = new Headers();
      const theirs = new Native();
      for (let step = 0; step < 50; step++) {
        const op = pick(['append', 'append', 'set', 'delete', 'get', 'has'] as const);
        const name = pick(NAMES);
        const value = pick(VALUES);
        const run = (h: globalThis.Headers | Headers) =>
          outcome(() => (op === 'append' || op === 'set' ? h[op](name, value) : h[op](name)));
        const where = `seed ${seed}, step ${step}: ${op}(${JSON.stringify(name)}, ${JSON.stringify(value)})`;
        assert.deepEqual(run(mine), run(theirs), where);
        assert.deepEqual(snapshot(mine), snapshot(theirs), where);
      }
    }
  });

  it('takes every form of init Node\'s takes, and refuses what it refuses', () => {
    const filled = new Native([['b', '2'], ['set-cookie', 'x=1'], ['set-cookie', 'y=2'], ['A', '1']]);
    const withSymbol = { a: '1', [Symbol('s')]: 'ignored' };
    const inits: unknown[] = [
      undefined,
      { 'Content-Type': 'text/plain', accept: ' */* ' },
      [['x', '1'], ['X', '2']],
      new Map([['k', 'v']]),
      filled,
      withSymbol,
      { *[Symbol.iterator]() { yield ['gen', 'erated']; } },
      [['one']],
      [['a', 'b', 'c']],
      ['ab'],
      [[1, 2]],
      null,
      'a: b',
      42,
      { 'bad name': '1' },
      { ok: 'bad\nvalue' },
    ];
    for (const init of inits) {
      const mine = outcome(() => snapshot(new Headers(init as Record<string, string>)));
      const theirs = outcome(() => snapshot(new Native(init as Record<string, string>)));
      assert.deepEqual(mine, theirs, inspect(init));
    }
    // WebIDL reads a record's enumerable properties only (Node's reads the others too).
    const hidden = Object.defineProperty({ shown: '1' }, 'hidden', { value: '2', enumerable: false });
    assert.deepEqual([...new Headers(hidden)], [['shown', '1']]);
    // A Headers of ours is an init to Node's, and Node's to ours, with each Set-Cookie kept apart.
    const ours = new Headers(filled);
    assert.deepEqual(snapshot(new Native(ours as unknown as globalThis.Headers)), snapshot(filled));
    assert.deepEqual(ours.getSetCookie(), ['x=1', 'y=2']);
  });

  it('asks for its arguments as Node\'s does', () => {
    const mine = new Headers() as unknown as Record<string, (...a: unknown[]) => unknown>;
    const theirs = new Native() as unknown as Record<string, (...a: unknown[]) => unknown>;
    for (const [method, args] of [['append', ['a']], ['set', ['a']], ['get', []], ['has', []], ['delete', []], ['forEach', []], ['forEach', [42]]] as const) {
      assert.deepEqual(outcome(() => mine[method]!(...args)), outcome(() => theirs[method]!(...args)), method);
    }
  });

  it('iterates live: an entry added while iterating is seen', () => {
    for (const H of [Headers, Native]) {
      const h = new H([['a', '1']]);
      const seen: string[] = [];
      for (const [name] of h) {
        seen.push(name);
        if (name === 'a') h.append('b', '2');
      }
      assert.deepEqual(seen, ['a', 'b'], H.name);
      const viaForEach: string[] = [];
      new H([['a', '1']]).forEach((_, name, self) => {
        viaForEach.push(name);
        if (name === 'a') self.append('c', '3');
      });
      assert.deepEqual(viaForEach, ['a', 'c']);
    }
  });

  it('reads as Headers to String, inspect and instanceof', () => {
    const h = new Headers({ a: '1' });
    assert.equal(Object.prototype.toString.call(h), '[object Headers]');
    assert.equal(Object.prototype.toString.call(h.entries()), '[object Headers Iterator]');
    assert.match(inspect(h), /^Headers \{ a: '1' \}$/);
    assert.ok(h instanceof Headers);
    assert.ok(new Native() instanceof Headers, 'Node\'s Headers counts as one once Node\'s is loaded');
    class Sub extends Headers {}
    assert.ok(new Sub() instanceof Headers);
    assert.equal(h instanceof Sub, false);
    assert.equal(Headers.length, Native.length);
    assert.equal(Headers.prototype[Symbol.iterator], Headers.prototype.entries);
  });
});
