// JSON shapes of the API's answers: rows as clients see them (ids, ISO times, no key hashes).
import type { License, Machine, Policy, Product } from '../core/schema.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export const productJson = (p: Product) => ({ id: p.id, name: p.name, createdAt: iso(p.createdAt) });

export const policyJson = (p: Policy) => ({
  id: p.id,
  product: p.productId,
  name: p.name,
  maxMachines: p.maxMachines,
  duration: p.duration,
  floating: p.floating,
  strict: p.strict,
  overage: p.overage,
  checkInIntervalSeconds: p.checkInIntervalSeconds,
  gracePeriodSeconds: p.graceSeconds,
  createdAt: iso(p.createdAt),
});

export const licenseJson = (l: License) => ({
  id: l.id,
  product: l.productId,
  policy: l.policyId,
  owner: l.owner,
  status: l.status,
  entitlements: l.entitlements,
  metadata: l.metadata,
  expiresAt: iso(l.expiresAt),
  lastCheckInAt: iso(l.lastCheckInAt),
  createdAt: iso(l.createdAt),
});

export const machineJson = (m: Machine) => ({
  id: m.id,
  license: m.licenseId,
  fingerprint: m.fingerprint,
  name: m.name,
  platform: m.platform,
  lastHeartbeatAt: iso(m.lastHeartbeatAt),
  createdAt: iso(m.createdAt),
});
