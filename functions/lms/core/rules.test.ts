// The validation rules with a controlled clock: expiry and grace, check-in windows, machine limits,
// fingerprint and entitlement scopes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from './duration.js';
import { machineLimit, validateLicense } from './rules.js';
import type { License, Machine, Policy } from './schema.js';

const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const policy = (p: Partial<Policy> = {}): Policy => ({
  id: 'p', tenant: 't', productId: 'pr', name: 'n', duration: 'P1D', durationSeconds: 86_400, maxMachines: 2, floating: true,
  strict: true, overage: 0, checkInIntervalSeconds: null, graceSeconds: 3600, createdAt: T0, ...p,
});
const license = (l: Partial<License> = {}): License => ({
  id: 'l', tenant: 't', productId: 'pr', policyId: 'p', keyHash: 'h', owner: null, entitlements: ['pro'], metadata: {},
  status: 'active', expiresAt: at(86_400), lastCheckInAt: null, checkInMissedAt: null, revokedAt: null, createdAt: T0, ...l,
});
const machine = (fingerprint: string): Machine => ({ id: fingerprint, tenant: 't', licenseId: 'l', fingerprint, name: null, platform: null, lastHeartbeatAt: null, createdAt: T0 });

describe('validateLicense', () => {
  it('is valid until expiry, still valid in the grace period, expired after it', () => {
    assert.equal(validateLicense(license(), policy(), [], {}, at(100)).code, 'VALID');
    const grace = validateLicense(license(), policy(), [], {}, at(86_400 + 10));
    assert.equal(grace.valid, true);
    assert.match(grace.detail, /grace/);
    assert.equal(validateLicense(license(), policy(), [], {}, at(86_400 + 3600)).code, 'EXPIRED');
    assert.equal(validateLicense(license({ expiresAt: null }), policy(), [], {}, at(10 ** 9)).code, 'VALID');
  });
  it('reports suspended, revoked and swept-expired licenses', () => {
    assert.equal(validateLicense(license({ status: 'suspended' }), policy(), [], {}, at(1)).code, 'SUSPENDED');
    assert.equal(validateLicense(license({ status: 'revoked' }), policy(), [], {}, at(1)).code, 'REVOKED');
    assert.equal(validateLicense(license({ status: 'expired' }), policy(), [], {}, at(1)).code, 'EXPIRED');
  });
  it('requires a check-in within the interval plus grace', () => {
    const p = policy({ checkInIntervalSeconds: 600, graceSeconds: 60 });
    assert.equal(validateLicense(license(), p, [], {}, at(659)).code, 'VALID');
    assert.equal(validateLicense(license(), p, [], {}, at(660)).code, 'CHECK_IN_OVERDUE');
    assert.equal(validateLicense(license({ lastCheckInAt: at(600) }), p, [], {}, at(1000)).code, 'VALID');
  });
  it('checks fingerprint and entitlement scopes and the machine limit', () => {
    const two = [machine('a'), machine('b')];
    assert.equal(validateLicense(license(), policy(), two, { fingerprint: 'a' }, at(1)).code, 'VALID');
    assert.equal(validateLicense(license(), policy(), two, { fingerprint: 'c' }, at(1)).code, 'FINGERPRINT_SCOPE_MISMATCH');
    assert.equal(validateLicense(license(), policy({ floating: false, maxMachines: 1 }), [], { fingerprint: 'a' }, at(1)).code, 'NO_MACHINE');
    assert.equal(validateLicense(license(), policy(), [], { fingerprint: 'a' }, at(1)).code, 'NO_MACHINES');
    assert.equal(validateLicense(license(), policy({ strict: false, maxMachines: 1 }), two, {}, at(1)).code, 'TOO_MANY_MACHINES');
    assert.equal(validateLicense(license(), policy(), [], { entitlements: ['pro', 'sso'] }, at(1)).code, 'ENTITLEMENTS_MISSING');
    assert.equal(machineLimit(policy({ overage: 1 })), 3);
    assert.equal(machineLimit(policy({ overage: 1, strict: false })), 2);
  });
});

describe('parseDuration (ISO 8601)', () => {
  it('reads the usual policy terms and refuses the rest', () => {
    assert.equal(parseDuration('P30D'), 30 * 86_400);
    assert.equal(parseDuration('P1Y'), 365 * 86_400);
    assert.equal(parseDuration('PT1H30M'), 5400);
    assert.equal(parseDuration('P1W'), 7 * 86_400);
    for (const bad of ['P', 'PT', '30D', 'P-1D', 'P0D', 'P1.5D', 'P200Y', 'p1d', '']) assert.equal(parseDuration(bad), undefined, bad);
  });
});
