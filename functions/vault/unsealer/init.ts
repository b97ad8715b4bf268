// sys/init: a fresh root key, split into shares that are shown once and stored nowhere; the
// canary, the mount KEKs, the first keyring epoch and the root token are written in one
// transaction, each row MAC'd under the new keyring key.
// @see https://developer.hashicorp.com/vault/api-docs/system/init
import { randomBytes } from 'node:crypto';
import type { Database } from '#shared/db/index';
import { aad, seal } from '#functions/vault/core/envelope';
import { invalidRequest } from '#functions/vault/core/errors';
import { mounts, sealConfig } from '#functions/vault/core/schema';
import { split } from '#functions/vault/core/shamir';
import { mountMacFields } from '#functions/vault/core/mounts';
import { nextRowSeq } from '#functions/vault/core/row-seq';
import { insertRootToken } from '#functions/vault/core/tokens';
import { writeFirstEpoch } from './epoch.js';
import type { SealWrapper } from '#functions/vault/core/seal';
import { recoveryCanaryFor, type Keyring } from './keyring.js';

/** Mounts every vault starts with, as Vault's dev server does. */
const DEFAULT_MOUNTS = [
  { path: 'secret/', type: 'kv', description: 'key/value secret storage (version 2)' },
  { path: 'transit/', type: 'transit', description: 'encryption as a service' },
] as const;

interface InitResult {
  keys: string[];
  keys_base64: string[];
  root_token: string;
  recovery_keys?: string[];
  recovery_keys_base64?: string[];
}

/**
 * With an auto-unseal `seal`, the root key is stored only wrapped by it, and `shares`/`threshold`
 * split a separate random recovery key instead: its shares authorise ceremonies (generate-root,
 * rekey) and unseal a sealed node through the seal, but never rebuild the root key.
 * @see https://developer.hashicorp.com/vault/docs/concepts/seal#recovery-key
 */
export async function initialize(database: Database, keyring: Keyring, shares: number, threshold: number, seal?: SealWrapper): Promise<InitResult> {
  if (!Number.isInteger(shares) || shares < 1 || shares > 255) throw invalidRequest('secret shares must be an integer from 1 to 255');
  if (!Number.isInteger(threshold) || threshold < 1) throw invalidRequest('secret threshold must be an integer of at least 1');
  if (threshold > shares) throw invalidRequest('secret threshold cannot be larger than secret shares');
  if (shares > 1 && threshold === 1) throw invalidRequest('threshold must be greater than one for multiple shares');
  const root = randomBytes(32);
  const recovery = seal ? randomBytes(32) : undefined;
  try {
    const wrappedRoot = seal ? await seal.wrap(root) : null;
    const wrappedKeyringKey = keyring.wrapNewKeyringKey(root);
    const mac = keyring.initialRowMac(root, wrappedKeyringKey);
    const rootToken = await database.transaction(async (tx) => {
      const inserted = await tx
        .insert(sealConfig)
        .values({
          id: 1,
          type: seal?.type ?? 'shamir',
          secretShares: shares,
          secretThreshold: threshold,
          canary: keyring.canaryFor(root),
          wrappedKeyringKey,
          sealWrappedRootKey: wrappedRoot,
          recoveryCanary: recovery ? recoveryCanaryFor(recovery) : null,
        })
        .onConflictDoNothing()
        .returning({ id: sealConfig.id });
      if (inserted.length === 0) throw invalidRequest('Vault is already initialized');
      for (const m of DEFAULT_MOUNTS) {
        const row = { ...m, wrappedKek: wrapKek(root, m.path), createdAt: new Date(), seq: await nextRowSeq(tx) };
        await tx.insert(mounts).values({ ...row, mac: mac.sign('mounts', mountMacFields(row)) });
      }
      await writeFirstEpoch(tx, mac);
      const { token } = await insertRootToken(tx, mac);
      return token;
    });
    keyring.invalidate();
    const shards = split(recovery ?? root, shares, threshold);
    const hex = shards.map((s) => s.toString('hex'));
    const b64 = shards.map((s) => s.toString('base64'));
    for (const s of shards) s.fill(0);
    if (!seal) return { keys: hex, keys_base64: b64, root_token: rootToken };
    // Auto-unseal: the vault is unsealed at once, as Vault does after init with a seal stanza.
    const config = await keyring.loadConfig();
    keyring.adopt(Buffer.from(root), config!);
    return { keys: [], keys_base64: [], recovery_keys: hex, recovery_keys_base64: b64, root_token: rootToken };
  } finally {
    root.fill(0);
    recovery?.fill(0);
  }
}

function wrapKek(root: Buffer, mount: string): Buffer {
  const kek = randomBytes(32);
  try {
    return seal(root, kek, aad.kek(mount));
  } finally {
    kek.fill(0);
  }
}
