// The vault's envelope: every layer (root key → KEK → DEK → data) is sealed by the platform's
// AES-256-GCM (#shared/crypto/aead), with the associated data below naming the row it belongs to.
export { DecryptError, open, seal } from '#shared/crypto/aead';

/** Associated data of each layer: a ciphertext is only valid in the row it was written for. */
export const aad = {
  canary: () => 'zenokube/vault/canary',
  keyring: () => 'zenokube/vault/keyring-key',
  /** The canary under the recovery key (auto-unseal): proves recovery shares, opens nothing. */
  recoveryCanary: () => 'zenokube/vault/recovery-canary',
  /** A ceremony's sealed state, bound to its kind and nonce. */
  ceremony: (kind: string, nonce: string) => `zenokube/vault/ceremony/${kind}/${nonce}`,
  kek: (mount: string) => `zenokube/vault/kek/${mount}`,
  dek: (mount: string, context: string) => `zenokube/vault/dek/${mount}/${context}`,
  data: (mount: string, context: string) => `zenokube/vault/data/${mount}/${context}`,
} as const;

/** Context of one KV version: path and version, length-prefixed so no two pairs collide. */
export function kvContext(path: string, version: number): string {
  return `kv/${path.length}:${path}/v${version}`;
}

/** The first canary: a vault that still has it may hold rows written before row MACs. */
export const CANARY_TEXT = Buffer.from('zenokube vault canary v1', 'utf8');
/** The canary of a vault whose every security-relevant row is MAC'd (written at init and by the upgrade). */
export const CANARY_TEXT_V2 = Buffer.from('zenokube vault canary v2', 'utf8');
