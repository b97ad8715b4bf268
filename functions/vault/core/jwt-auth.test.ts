import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VaultError } from './errors.js';
import { claimsMismatch, groupPolicies, loginClaims, parseJwtConfig, parseJwtRole } from './jwt-auth.js';

const is400 = (e: unknown) => e instanceof VaultError && e.status === 400;

describe('JWT auth roles and claims', () => {
  const role = parseJwtRole({
    bound_audiences: ['vault'],
    user_claim: '/profile/login',
    bound_subject: 'u-1',
    bound_claims_type: 'glob',
    bound_claims: { email: ['*@example.com', 'ops@corp.example'], '/org/team': 'plat*' },
    groups_claim: 'groups',
    group_policies: { admins: ['ops', 'audit'], devs: ['dev'] },
    claim_mappings: { email: 'email', '/org/team': 'team' },
  });
  const claims = { sub: 'u-1', email: 'a@example.com', profile: { login: 'alice' }, org: { team: 'platform' }, groups: ['devs', 'admins', 'other'] };

  it('accepts claims that meet the bindings, and maps user, groups, policies and metadata', () => {
    assert.equal(claimsMismatch(role, claims), undefined);
    const got = loginClaims(role, claims);
    assert.deepEqual(got, { user: 'alice', groups: ['devs', 'admins', 'other'], metadata: { email: 'a@example.com', team: 'platform' } });
    assert.deepEqual(groupPolicies(role, got.groups).sort(), ['audit', 'dev', 'ops']);
  });

  it('refuses a wrong subject, an unmatched claim, a missing user claim; globs match whole values only', () => {
    assert.match(claimsMismatch(role, { ...claims, sub: 'u-2' })!, /sub/);
    assert.match(claimsMismatch(role, { ...claims, email: 'a@example.com.evil' })!, /email/);
    assert.match(claimsMismatch(role, { ...claims, org: { team: 'xplatform' } })!, /team/);
    assert.match(claimsMismatch(role, { ...claims, org: undefined })!, /team/);
    assert.match(claimsMismatch(role, { ...claims, profile: {} })!, /profile\/login/);
    // A claim name that is an inherited property does not match anything.
    const proto = parseJwtRole({ bound_audiences: ['v'], user_claim: 'sub', bound_claims: { '/constructor/name': 'Object' } });
    assert.match(claimsMismatch(proto, { sub: 'x' })!, /constructor/);
    const exact = parseJwtRole({ bound_audiences: ['v'], user_claim: 'sub', bound_claims: { email: '*@example.com' } });
    assert.match(claimsMismatch(exact, { sub: 'x', email: 'a@example.com' })!, /email/);
    assert.deepEqual(groupPolicies(role, ['__proto__', 'toString']), []);
  });

  it('requires bound audiences and a user claim, refuses oidc roles and root, keeps absent fields on update', () => {
    assert.throws(() => parseJwtRole({ user_claim: 'sub' }), is400);
    assert.throws(() => parseJwtRole({ bound_audiences: ['v'] }), is400);
    assert.throws(() => parseJwtRole({ bound_audiences: ['v'], user_claim: 'sub', role_type: 'oidc' }), is400);
    assert.throws(() => parseJwtRole({ bound_audiences: ['v'], user_claim: 'sub', token_policies: ['root'] }), is400);
    assert.throws(() => parseJwtRole({ bound_audiences: ['v'], user_claim: 'sub', bound_claims: { a: 1 } }), is400);
    const updated = parseJwtRole({ token_ttl: '1h' }, role);
    assert.deepEqual(updated.bound_audiences, ['vault']);
    assert.equal(updated.token_ttl, 3600);
  });

  it('takes exactly one key source and asymmetric algorithms only', () => {
    assert.throws(() => parseJwtConfig({}), is400);
    assert.throws(() => parseJwtConfig({ jwks_url: 'https://a.example/jwks', oidc_discovery_url: 'https://a.example' }), is400);
    assert.throws(() => parseJwtConfig({ jwks_url: 'https://a.example/jwks', jwt_supported_algs: ['none'] }), is400);
    assert.throws(() => parseJwtConfig({ jwks_url: 'https://a.example/jwks', jwt_supported_algs: ['HS256'] }), is400);
    assert.throws(() => parseJwtConfig({ jwks_url: 'http://a.example/jwks' }), is400);
    assert.equal(parseJwtConfig({ jwks_url: 'https://a.example/jwks', jwt_supported_algs: 'RS256,EdDSA' }).jwt_supported_algs.length, 2);
  });
});
