// The public keys a client registered (RFC 7591 §2 jwks), as a key set jose verifies against:
// client assertions (RFC 7523) and request objects (RFC 9101) are checked with it.
import { createLocalJWKSet } from 'jose';
import type { Client } from './schema.js';

type KeySet = ReturnType<typeof createLocalJWKSet>;
const sets = new WeakMap<Client, KeySet>();

/** The client's key set, built once per client row; undefined when it registered no keys. */
export function clientKeySet(client: Client): KeySet | undefined {
  if (!client.jwks) return undefined;
  let set = sets.get(client);
  if (!set) {
    // EdDSA and Ed25519 (RFC 9864's fully-specified name) are one algorithm for an Ed25519 key.
    const keys = client.jwks.keys.map((k) => (k.kty === 'OKP' && (k.alg === 'EdDSA' || k.alg === 'Ed25519') ? { ...k, alg: undefined } : k));
    set = createLocalJWKSet({ keys } as { keys: never[] });
    sets.set(client, set);
  }
  return set;
}
