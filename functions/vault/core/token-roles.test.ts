import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VaultError } from './errors.js';
import { rolePolicies, sanitizePolicies, type RoleSettings } from './token-roles.js';

const role = (over: Partial<RoleSettings>): RoleSettings => ({
  name: 'r',
  allowedPolicies: [],
  disallowedPolicies: [],
  orphan: false,
  renewable: true,
  pathSuffix: '',
  tokenPeriodSeconds: 0,
  tokenExplicitMaxTtlSeconds: 0,
  tokenNoDefaultPolicy: false,
  tokenNumUses: 0,
  ...over,
});

const refusal = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof VaultError);
    assert.equal(err.status, 400);
    return err.messages[0]!;
  }
  assert.fail('expected a refusal');
};

describe('token role policies (Vault token_store rules)', () => {
  it('sanitizes as policyutil does: trimmed, lower-case, unique, sorted, root alone', () => {
    assert.deepEqual(sanitizePolicies([' B', 'a', 'b', ''], true), ['a', 'b', 'default']);
    assert.deepEqual(sanitizePolicies(['ops', 'root', 'x'], true), ['root']);
    assert.deepEqual(sanitizePolicies([], false), []);
  });

  it('takes the allowed policies when none are asked, and refuses any outside them', () => {
    const r = role({ allowedPolicies: ['app', 'ops'] });
    const parent = { policies: ['default'] };
    assert.deepEqual(rolePolicies(r, parent, [], false), ['app', 'default', 'ops']);
    assert.deepEqual(rolePolicies(r, parent, ['ops'], false), ['default', 'ops']);
    assert.deepEqual(rolePolicies(r, parent, ['ops'], true), ['ops']);
    assert.equal(refusal(() => rolePolicies(r, parent, ['admin'], false)), "token policies ([admin default]) must be subset of the role's allowed policies ([app default ops])");
  });

  it('without allowed policies, keeps to the parent and refuses disallowed ones', () => {
    const r = role({ disallowedPolicies: ['admin'] });
    assert.deepEqual(rolePolicies(r, { policies: ['app', 'default'] }, [], false), ['app', 'default']);
    assert.equal(refusal(() => rolePolicies(r, { policies: ['app'] }, ['ops'], false)), 'child policies must be subset of parent when role contains no allowed_policies');
    assert.equal(refusal(() => rolePolicies(r, { policies: ['admin', 'app'] }, [], false)), 'token policy "admin" is disallowed by this role');
    // A disallowed default is not added.
    assert.deepEqual(rolePolicies(role({ allowedPolicies: ['app'], disallowedPolicies: ['default'] }), { policies: [] }, [], false), ['app']);
  });
});
