// The SAML key material of a function: the key store and the pairwise-NameID key, both under the
// master key the auth runtime resolved (configured, or generated once on one machine).
import { hkdfSync } from 'node:crypto';
import type { FunctionContext } from '#shared/function/define';
import { resolveKey } from '#shared/crypto/key-file';
import type { Db } from '#shared/db/index';
import { createSamlKeyStore, type SamlKeyStore } from './keys.js';

export interface SamlSecrets {
  keys: SamlKeyStore;
  /** HMAC key of persistent (pairwise) NameIDs and session indexes. */
  pairwiseKey: Buffer;
}

/** @see https://www.rfc-editor.org/rfc/rfc5869#section-2 (one derived key per purpose) */
export async function createSamlSecrets(ctx: FunctionContext, db: Db): Promise<SamlSecrets> {
  const masterKey = await resolveKey({
    configured: ctx.env.ZENO_AUTH_MASTER_KEY,
    variable: 'ZENO_AUTH_MASTER_KEY',
    file: ['auth', 'master.key'],
    dataDir: ctx.config.dataDir,
    allowGenerate: ctx.config.serviceName === undefined,
  });
  const pairwiseKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'zenokube auth saml pairwise nameid v1', 32));
  return { keys: createSamlKeyStore(db, masterKey), pairwiseKey };
}
