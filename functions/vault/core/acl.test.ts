import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildAcl, parsePolicy, PolicyError, type PolicyRule } from './acl.js';

const acl = (policies: Record<string, string>, names = Object.keys(policies)) => {
  const parsed = Object.fromEntries(Object.entries(policies).map(([n, t]) => [n, parsePolicy(t)]));
  return buildAcl(names, (n) => parsed[n] as PolicyRule[] | undefined);
};

describe('policy parsing (HCL subset and JSON)', () => {
  it('reads HCL path blocks with comments', () => {
    const rules = parsePolicy(`
      # apps read their secrets
      path "secret/data/app/*" { capabilities = ["read", "list"] }
      // and nothing else
      /* block comment */
      path "secret/metadata/+/config" {
        capabilities = ["read"]
      }`);
    assert.deepEqual(rules, [
      { path: 'secret/data/app/*', capabilities: ['read', 'list'] },
      { path: 'secret/metadata/+/config', capabilities: ['read'] },
    ]);
  });

  it('reads the JSON form', () => {
    assert.deepEqual(parsePolicy('{"path": {"secret/data/x": {"capabilities": ["update"]}}}'), [
      { path: 'secret/data/x', capabilities: ['update'] },
    ]);
  });

  it('refuses what it cannot honour: unknown capabilities, parameter constraints, inner globs, bad syntax', () => {
    for (const text of [
      'path "a" { capabilities = ["fly"] }',
      'path "a" { capabilities = ["read"] allowed_parameters = { "x" = [] } }',
      'path "a/*/b" { capabilities = ["read"] }',
      'path "a/b+c" { capabilities = ["read"] }',
      'path "a" { capabilities = ["read"] ',
      'path "a" { capabilities = "read" }',
      'path "a" { capabilities = ["read"] }\npath "a" { capabilities = ["list"] }',
      'frobnicate "a" {}',
      '{"path": []}',
      '{ not json',
    ]) {
      assert.throws(() => parsePolicy(text), PolicyError, text);
    }
  });
});

describe('ACL evaluation (Vault priority matching)', () => {
  it('grants only what a matching rule lists and nothing by default', () => {
    const a = acl({ p: 'path "secret/data/app" { capabilities = ["read"] }' });
    assert.ok(a.allows('secret/data/app', 'read'));
    assert.ok(!a.allows('secret/data/app', 'update'));
    assert.ok(!a.allows('secret/data/app2', 'read'));
    assert.ok(!a.allows('secret/data/other', 'read'));
  });

  it('matches * as a prefix and + as exactly one segment', () => {
    const a = acl({ p: 'path "secret/data/app/*" { capabilities = ["read"] }\npath "secret/data/+/db" { capabilities = ["list"] }' });
    assert.ok(a.allows('secret/data/app/x/y', 'read'));
    assert.ok(a.allows('secret/data/app/', 'read'));
    assert.ok(a.allows('secret/data/team/db', 'list'));
    assert.ok(!a.allows('secret/data/team/x/db', 'list'));
    assert.ok(!a.allows('secret/data/db', 'list'));
  });

  it('lets the most specific path win, even over a broader deny', () => {
    const a = acl({
      p: `path "secret/*" { capabilities = ["deny"] }
          path "secret/data/app/*" { capabilities = ["read"] }
          path "secret/data/app/admin" { capabilities = ["deny"] }`,
    });
    assert.ok(a.allows('secret/data/app/x', 'read'));
    assert.ok(!a.allows('secret/data/app/admin', 'read'), 'exact deny beats the glob');
    assert.ok(!a.allows('secret/data/other', 'read'), 'the broad deny applies where nothing more specific matches');
  });

  it('orders by Vault priority rules: later first wildcard, no glob, fewer +, longer, then lexicographic', () => {
    const a = acl({
      p: `path "secret/+/app/*" { capabilities = ["list"] }
          path "secret/data/+/*" { capabilities = ["read"] }
          path "secret/data/app/+" { capabilities = ["update"] }`,
    });
    // "secret/data/app/+" has its first wildcard latest: it wins.
    assert.deepEqual([...a.capabilities('secret/data/app/x')], ['update']);
    // Only the first two match here: the later first wildcard wins.
    assert.deepEqual([...a.capabilities('secret/data/app/x/y')], ['read']);
    const b = acl({ p: 'path "a/b*" { capabilities = ["read"] }\npath "a/b" { capabilities = ["list"] }' });
    assert.deepEqual([...b.capabilities('a/b')], ['list'], 'no glob beats glob');
    const c = acl({ p: 'path "a/+/+" { capabilities = ["read"] }\npath "a/+/c" { capabilities = ["list"] }' });
    assert.deepEqual([...c.capabilities('a/b/c')], ['list'], 'fewer + segments win');
  });

  it('merges the same path across policies, and deny there wins', () => {
    const a = acl({
      reader: 'path "secret/data/x" { capabilities = ["read"] }',
      writer: 'path "secret/data/x" { capabilities = ["update"] }',
    });
    assert.deepEqual([...a.capabilities('secret/data/x')].sort(), ['read', 'update']);
    const d = acl({
      reader: 'path "secret/data/x" { capabilities = ["read", "update"] }',
      blocker: 'path "secret/data/x" { capabilities = ["deny"] }',
    });
    assert.equal(d.capabilities('secret/data/x').size, 0);
  });

  it('gives the root policy everything', () => {
    const a = buildAcl(['root'], () => undefined);
    assert.ok(a.allows('anything/at/all', 'sudo'));
    assert.ok(a.root);
  });
});
