import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hostnameMatches, intersectHostnames, normalizeHost } from './hostname.js';

describe('hostnames (Gateway API Hostname)', () => {
  it('matches a wildcard on one or more labels but not the bare suffix', () => {
    assert.ok(hostnameMatches('*.example.com', 'a.example.com'));
    assert.ok(hostnameMatches('*.example.com', 'a.b.example.com'));
    assert.ok(!hostnameMatches('*.example.com', 'example.com'));
    assert.ok(!hostnameMatches('*.example.com', 'aexample.com'));
  });

  it('intersects listener and route hostnames as the spec describes', () => {
    assert.deepEqual(intersectHostnames('very.specific.com', ['non.matching.com', '*.specific.com']), ['very.specific.com']);
    assert.deepEqual(intersectHostnames('*.wildcard.io', ['wildcard.io', 'foo.wildcard.io', 'foo.bar.wildcard.io']), ['foo.wildcard.io', 'foo.bar.wildcard.io']);
    assert.deepEqual(intersectHostnames('*.example.com', ['*.com']), ['*.example.com']);
    assert.deepEqual(intersectHostnames('*.com', ['*.example.com']), ['*.example.com']);
    assert.deepEqual(intersectHostnames('a.com', ['b.com']), []);
    assert.equal(intersectHostnames(undefined, undefined), undefined);
    assert.deepEqual(intersectHostnames('a.com', undefined), ['a.com']);
  });

  it('normalises Host header values', () => {
    assert.equal(normalizeHost('Example.COM:8080'), 'example.com');
    assert.equal(normalizeHost('[::1]:80'), '::1');
    assert.equal(normalizeHost('example.com.'), 'example.com');
    assert.equal(normalizeHost(undefined), '');
  });
});
