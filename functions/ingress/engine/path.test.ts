import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePath, prefixMatches } from './path.js';

describe('request paths (RFC 3986 §5.2.4)', () => {
  it('removes dot segments, also percent-encoded ones, without climbing above the root', () => {
    assert.equal(normalizePath('/a/b/../c'), '/a/c');
    assert.equal(normalizePath('/a/./b'), '/a/b');
    assert.equal(normalizePath('/../../etc/passwd'), '/etc/passwd');
    assert.equal(normalizePath('/a/%2e%2e/admin'), '/admin');
    assert.equal(normalizePath('/a/%2E%2E/%2e/admin'), '/admin');
    assert.equal(normalizePath('/a/..'), '/');
    assert.equal(normalizePath('/a//b'), '/a/b');
  });

  it('keeps encoded slashes and double encoding as opaque bytes', () => {
    assert.equal(normalizePath('/a%2F..%2Fadmin'), '/a%2F..%2Fadmin');
    assert.equal(normalizePath('/a/%252e%252e/admin'), '/a/%252e%252e/admin');
  });

  it('rejects a target that is not origin-form', () => {
    assert.equal(normalizePath('http://x/'), undefined);
    assert.equal(normalizePath('*'), undefined);
  });

  it('matches prefixes on path elements', () => {
    assert.ok(prefixMatches('/abc', '/abc/def'));
    assert.ok(prefixMatches('/abc/', '/abc'));
    assert.ok(!prefixMatches('/abc', '/abcd'));
  });
});
