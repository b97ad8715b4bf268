// Seals: what protects the root key at rest when no human brings key shares. `shamir` keeps it
// nowhere (shares only); `transit` stores it wrapped by another vault's transit key and unwraps
// it at start (auto-unseal). Cloud KMS seals plug in behind the same interface.
// @see https://developer.hashicorp.com/vault/docs/configuration/seal/transit
import { invalidRequest, VaultError } from './errors.js';

/** Wraps and unwraps the root key with a key held elsewhere. */
export interface SealWrapper {
  readonly type: string;
  wrap(rootKey: Buffer): Promise<string>;
  unwrap(blob: string): Promise<Buffer>;
}

interface SealSettings {
  type: 'shamir' | 'transit' | 'awskms' | 'azurekeyvault' | 'gcpckms';
  transit?: { address: string; token: string; keyName: string; mount: string };
}

/**
 * Reads the seal stanza from the unsealer's declared env. Cloud KMS seals are the seam: the
 * names are recognised and refused at boot until an implementation of SealWrapper is added
 * (AWS KMS Encrypt/Decrypt, Azure Key Vault wrapKey/unwrapKey, GCP KMS encrypt/decrypt).
 */
export function sealSettingsFrom(env: Readonly<Record<string, string | undefined>>): SealSettings {
  const type = env.VAULT_SEAL_TYPE ?? 'shamir';
  if (type === 'shamir') return { type };
  if (type === 'transit') {
    const address = env.VAULT_SEAL_TRANSIT_ADDRESS;
    const token = env.VAULT_SEAL_TRANSIT_TOKEN;
    const keyName = env.VAULT_SEAL_TRANSIT_KEY;
    if (!address || !token || !keyName) {
      throw new TypeError('a transit seal needs VAULT_SEAL_TRANSIT_ADDRESS, VAULT_SEAL_TRANSIT_TOKEN and VAULT_SEAL_TRANSIT_KEY');
    }
    return { type, transit: { address: address.replace(/\/+$/, ''), token, keyName, mount: (env.VAULT_SEAL_TRANSIT_MOUNT ?? 'transit').replace(/^\/+|\/+$/g, '') } };
  }
  if (type === 'awskms' || type === 'azurekeyvault' || type === 'gcpckms') {
    throw new TypeError(`seal type "${type}" is not implemented yet: implement SealWrapper in functions/vault/core/seal.ts`);
  }
  throw new TypeError(`unknown seal type "${type}"`);
}

/** Auto-unseal through another ZenoVault (or HashiCorp Vault) transit key. */
function transitSeal(t: NonNullable<SealSettings['transit']>, doFetch: typeof fetch = fetch): SealWrapper {
  const call = async (op: 'encrypt' | 'decrypt', body: Record<string, string>): Promise<Record<string, string>> => {
    let res: Response;
    try {
      res = await doFetch(`${t.address}/v1/${t.mount}/${op}/${encodeURIComponent(t.keyName)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vault-token': t.token },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new VaultError(503, 'seal_unreachable', ['the transit seal is unreachable'], { cause: err });
    }
    const parsed = (await res.json().catch(() => ({}))) as { data?: Record<string, string>; errors?: string[] };
    if (!res.ok || !parsed.data) {
      throw new VaultError(503, 'seal_failed', [`the transit seal answered ${res.status}`]);
    }
    return parsed.data;
  };
  return {
    type: 'transit',
    async wrap(rootKey) {
      const { ciphertext } = await call('encrypt', { plaintext: rootKey.toString('base64') });
      if (!ciphertext) throw invalidRequest('the transit seal returned no ciphertext');
      return ciphertext;
    },
    async unwrap(blob) {
      const { plaintext } = await call('decrypt', { ciphertext: blob });
      if (!plaintext) throw new VaultError(503, 'seal_failed', ['the transit seal returned no plaintext']);
      return Buffer.from(plaintext, 'base64');
    },
  };
}

export function sealWrapperFor(settings: SealSettings): SealWrapper | undefined {
  return settings.type === 'transit' ? transitSeal(settings.transit!) : undefined;
}
