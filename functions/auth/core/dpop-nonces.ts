// Server-provided DPoP nonces (RFC 9449 §8, §9), stateless: a nonce is the number of the current
// time step and an HMAC of (tenant, step) under a key derived from the master key, so every
// instance issues and accepts the same nonces without a table.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** A nonce is accepted in its own step and the next one: between 5 and 10 minutes. */
const STEP_SECONDS = 300;

export interface DpopNonces {
  /** The nonce to send in `DPoP-Nonce` now. */
  current(tenantId: string): string;
  /** True for a nonce of this tenant from the current or the previous step. */
  isValid(tenantId: string, nonce: string): boolean;
}

/** @see https://www.rfc-editor.org/rfc/rfc9449#section-8 "The nonce is opaque to the client." */
export function createDpopNonces(masterKey: Buffer, now: () => number = Date.now): DpopNonces {
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'zenokube auth dpop nonce v1', 32));
  const mac = (tenantId: string, step: number) => createHmac('sha256', key).update(`${tenantId}:${step}`).digest().subarray(0, 16);
  const stepOf = () => Math.floor(now() / 1000 / STEP_SECONDS);
  const format = (tenantId: string, step: number) => `${step.toString(36)}.${mac(tenantId, step).toString('base64url')}`;
  return {
    current: (tenantId) => format(tenantId, stepOf()),
    isValid(tenantId, nonce) {
      const m = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce);
      if (!m) return false;
      const step = parseInt(m[1]!, 36);
      const current = stepOf();
      if (step !== current && step !== current - 1) return false;
      return timingSafeEqual(Buffer.from(m[2]!, 'base64url'), mac(tenantId, step));
    },
  };
}
