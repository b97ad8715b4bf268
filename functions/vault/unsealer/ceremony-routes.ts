// The HTTP face of the key ceremonies, in Vault's shapes: sys/rekey/{init,update},
// sys/rekey-recovery-key/{init,update}, sys/generate-root/{attempt,update}. Like Vault's, these
// need no token: the key shares are the authorisation.
// @see https://developer.hashicorp.com/vault/api-docs/system/rekey
// @see https://developer.hashicorp.com/vault/api-docs/system/generate-root
import type { Hono } from 'hono';
import type { AppEnv } from '#shared/http/app';
import { invalidRequest, unsupportedOperation } from '#functions/vault/core/errors';
import { boolField, intField } from '#functions/vault/core/wire';
import { json, noContent, readBody } from '#functions/vault/http/wire';
import { OTP_LENGTH, type Ceremonies, type CeremonyKind } from './ceremony.js';

type Status = Awaited<ReturnType<Ceremonies['status']>>;

function rekeyStatus(s: Status) {
  return {
    started: !!s.pending,
    nonce: s.nonce,
    t: s.pending?.t ?? 0,
    n: s.pending?.n ?? 0,
    progress: s.pending?.shares.length ?? 0,
    required: s.required,
    pgp_fingerprints: null,
    backup: false,
    verification_required: false,
  };
}

function rootStatus(s: Status, extra: { otp?: string; encoded?: string } = {}) {
  return {
    started: !!s.pending || !!extra.encoded,
    nonce: s.nonce,
    progress: extra.encoded ? s.required : (s.pending?.shares.length ?? 0),
    required: s.required,
    encoded_token: extra.encoded ?? '',
    encoded_root_token: extra.encoded ?? '',
    pgp_fingerprint: '',
    otp: extra.otp ?? '',
    otp_length: OTP_LENGTH,
    complete: !!extra.encoded,
  };
}

export function ceremonyRoutes(app: Hono<AppEnv>, ceremonies: Ceremonies): void {
  const writes = ['PUT', 'POST'];

  const rekey = (base: string, kind: CeremonyKind) => {
    app.all(`${base}/init`, async (c) => {
      const requestId = c.get('requestId') ?? '';
      if (c.req.method === 'GET') return json(rekeyStatus(await ceremonies.status(kind)));
      if (c.req.method === 'DELETE') {
        await ceremonies.cancel(kind, requestId);
        return noContent();
      }
      if (!writes.includes(c.req.method)) throw unsupportedOperation();
      const body = await readBody(c.req.raw);
      if (Array.isArray(body.pgp_keys) ? body.pgp_keys.length > 0 : !!body.pgp_keys) {
        throw invalidRequest('PGP-encrypted key shares are not supported');
      }
      if (boolField(body, 'backup')) throw invalidRequest('backup of key shares is not supported (it needs PGP-encrypted shares)');
      if (boolField(body, 'require_verification')) throw invalidRequest('rekey verification is not supported');
      const started = await ceremonies.start(kind, requestId, {
        n: intField(body, 'secret_shares'),
        t: intField(body, 'secret_threshold'),
      });
      return json(rekeyStatus(started));
    });
    app.all(`${base}/update`, async (c) => {
      if (!writes.includes(c.req.method)) throw unsupportedOperation();
      const body = await readBody(c.req.raw);
      const r = await ceremonies.update(kind, c.get('requestId') ?? '', body.key, body.nonce);
      if (!r.done) return json(rekeyStatus(r));
      return json({
        nonce: r.nonce,
        complete: true,
        keys: 'keys' in r.result ? r.result.keys : [],
        keys_base64: 'keysBase64' in r.result ? r.result.keysBase64 : [],
        pgp_fingerprints: null,
        backup: false,
        verification_required: false,
      });
    });
  };
  rekey('/sys/rekey', 'rekey');
  rekey('/sys/rekey-recovery-key', 'rekey-recovery');

  app.all('/sys/generate-root/attempt', async (c) => {
    const requestId = c.get('requestId') ?? '';
    if (c.req.method === 'GET') return json(rootStatus(await ceremonies.status('generate-root')));
    if (c.req.method === 'DELETE') {
      await ceremonies.cancel('generate-root', requestId);
      return noContent();
    }
    if (!writes.includes(c.req.method)) throw unsupportedOperation();
    const body = await readBody(c.req.raw);
    if (body.pgp_key) throw invalidRequest('PGP-encrypted root tokens are not supported');
    if (body.otp !== undefined && body.otp !== '' && typeof body.otp !== 'string') throw invalidRequest('otp must be a string');
    const otp = typeof body.otp === 'string' && body.otp !== '' ? body.otp : undefined;
    const started = await ceremonies.start('generate-root', requestId, { ...(otp ? { otp } : {}) });
    // The OTP is shown once, here, and only when the vault generated it.
    return json(rootStatus(started, otp ? {} : { otp: started.otp! }));
  });

  app.all('/sys/generate-root/update', async (c) => {
    if (!writes.includes(c.req.method)) throw unsupportedOperation();
    const body = await readBody(c.req.raw);
    const r = await ceremonies.update('generate-root', c.get('requestId') ?? '', body.key, body.nonce);
    if (!r.done) return json(rootStatus(r));
    return json(rootStatus({ required: r.required, nonce: r.nonce, pending: undefined }, { encoded: 'encodedToken' in r.result ? r.result.encodedToken : '' }));
  });
}
