import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, wins, type SiteVersion } from './versions.js';

describe('scim-sync last-writer-wins', () => {
  const live = (at: number, digest: string): SiteVersion => ({ kind: 'live', at, digest });
  const dead = (at: number): SiteVersion => ({ kind: 'dead', at });

  it('lets the later lastModified win, whatever the kind', () => {
    assert.equal(wins(live(2, 'a'), live(1, 'z')), true);
    assert.equal(wins(live(1, 'z'), live(2, 'a')), false);
    assert.equal(wins(live(3, 'a'), dead(2)), true);
    assert.equal(wins(dead(3), live(2, 'z')), true);
  });

  it('breaks a tie the same way from both sides: a delete first, then the larger digest', () => {
    for (const [a, b] of [[dead(5), live(5, 'f')], [live(5, 'b'), live(5, 'a')]] as const) {
      assert.equal(wins(a, b), true);
      assert.equal(wins(b, a), false);
    }
  });

  it('never lets equal versions win, so a change is not sent back to where it came from', () => {
    assert.equal(wins(live(5, 'a'), live(5, 'a')), false);
    assert.equal(wins(dead(5), dead(5)), false);
  });

  it('lets any version beat a missing one and none beat a version with nothing', () => {
    assert.equal(wins(dead(1), undefined), true);
    assert.equal(wins(undefined, live(1, 'a')), false);
  });

  it('digests content by value, not by key order', () => {
    assert.equal(digestOf({ a: 1, b: [{ x: 1, y: 2 }] }), digestOf({ b: [{ y: 2, x: 1 }], a: 1 }));
    assert.notEqual(digestOf({ a: 1 }), digestOf({ a: 2 }));
    assert.equal(digestOf({ a: 1, b: undefined }), digestOf({ a: 1 }));
  });
});
