// transit/: keys (create, read, list, rotate, config, delete), encrypt, decrypt, rewrap, datakey,
// hmac, sign, verify, random and hash; batch_input on encrypt, decrypt, rewrap, hmac, sign and
// verify, answered per item as Vault does (a failed item carries `error`; any failure makes the
// answer 400, or `partial_failure_response_code` when some items succeeded).
// A request opens the key versions it needs in one unsealer round trip, whatever its batch size.
// @see https://developer.hashicorp.com/vault/api-docs/secret/transit
import { createHash, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { invalidRequest, notFoundError, VaultError } from '#functions/vault/core/errors';
import { transitKeys } from '#functions/vault/core/schema';
import {
  canDerive,
  canEncrypt,
  canSign,
  configureKey,
  createKey,
  deleteKey,
  encryptionVersion,
  getKey,
  listKeys,
  MAX_CONTEXT_BYTES,
  nodeHash,
  openKey,
  OpenedKey,
  parseKeyType,
  rotateKey,
  strictBase64,
  verifyNeedsMaterial,
  type KeyType,
  type TransitKey,
  type TransitKeyService,
} from '#functions/vault/core/transit';
import { boolField, intField } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultResponse, VaultRoute } from './route.js';

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/**
 * Items a batch may hold. Vault has no count limit (only its request size); here the request body
 * is bounded at 1 MiB and the item count at this.
 */
const MAX_BATCH = 5000;
/** Bytes `transit/random` hands out at once (Vault's bound). */
const MAX_RANDOM_BYTES = 128 * 1024;

type Item = Record<string, unknown>;
type Result = Record<string, unknown>;

/** One item, checked: the key versions it needs, and the work to do once they are open. */
interface Plan {
  versions: number[];
  run(key: OpenedKey): Result;
}

function nameOf(raw: string): string {
  if (!NAME.test(raw)) throw invalidRequest('invalid key name');
  return raw;
}

const isBlank = (v: unknown) => v === undefined || v === null || v === '';

function contextOf(item: Item): Buffer | undefined {
  if (isBlank(item.context)) return undefined;
  const c = strictBase64(item.context, 'context');
  if (c.length > MAX_CONTEXT_BYTES) throw invalidRequest(`context must be at most ${MAX_CONTEXT_BYTES} bytes`);
  return c;
}

const aadOf = (item: Item) => (isBlank(item.associated_data) ? undefined : strictBase64(item.associated_data, 'associated_data'));

function stringField(item: Item, field: string, missing: string): string {
  const v = item[field];
  if (isBlank(v)) throw invalidRequest(missing);
  if (typeof v !== 'string') throw invalidRequest(`${field} must be a string`);
  return v;
}

function b64Field(item: Item, field: string, missing: string): Buffer {
  const v = item[field];
  if (v === undefined || v === null) throw invalidRequest(missing);
  return strictBase64(v, field);
}

function refuseNonce(item: Item): void {
  if (!isBlank(item.nonce)) throw invalidRequest('provided nonce not allowed for this key');
}

/** A batch's items (or the body as the single item), with Vault's refusals of the batch as a whole. */
function itemsOf(req: VaultRequest, batchable = true): { batch: boolean; items: Item[] } {
  const raw = req.body.batch_input;
  if (raw === undefined || raw === null || !batchable) return { batch: false, items: [req.body] };
  if (!Array.isArray(raw)) throw invalidRequest('failed to parse batch input: batch_input must be a list of objects');
  if (raw.length === 0) throw invalidRequest('missing batch input to process');
  if (raw.length > MAX_BATCH) throw invalidRequest(`batch_input holds ${raw.length} items; at most ${MAX_BATCH} are accepted`);
  raw.forEach((it, i) => {
    if (!it || typeof it !== 'object' || Array.isArray(it)) throw invalidRequest(`failed to parse batch input: item ${i} is not an object`);
    if (it.reference !== undefined && typeof it.reference !== 'string') throw invalidRequest(`'[${i}].reference' expected type 'string'`);
  });
  return { batch: true, items: raw as Item[] };
}

/** A client's mistake in one item becomes that item's error; anything else fails the request. */
function itemError(err: unknown): string {
  if (err instanceof VaultError && err.status === 400) return err.messages.join('; ');
  throw err;
}

/**
 * Checks every item, opens the versions they need in one unsealer round trip, runs them, and
 * answers as Vault: one item's data, or `batch_results` with per-item errors.
 */
async function perform(req: VaultRequest, ks: TransitKeyService, key: TransitKey, planOf: (item: Item) => Plan, batchable = true): Promise<VaultResponse> {
  const { batch, items } = itemsOf(req, batchable);
  const results: Result[] = new Array<Result>(items.length);
  const plans: (Plan | undefined)[] = items.map((item, i) => {
    try {
      return planOf(item);
    } catch (err) {
      results[i] = { error: itemError(err) };
      return undefined;
    }
  });
  const opened = await openKey(ks, key, plans.flatMap((p) => p?.versions ?? []));
  try {
    plans.forEach((plan, i) => {
      if (!plan) return;
      try {
        results[i] = plan.run(opened);
      } catch (err) {
        results[i] = { error: itemError(err) };
      }
    });
  } finally {
    opened.dispose();
  }
  if (!batch) {
    const only = results[0]!;
    if (typeof only.error === 'string') throw invalidRequest(only.error);
    return ok(req, { data: only });
  }
  const failed = results.filter((r) => typeof r.error === 'string').length;
  const batchResults = results.map((r, i) => ({ ...r, reference: items[i]!.reference ?? '' }));
  let status = 200;
  const warnings: string[] = [];
  if (failed > 0) {
    status = 400;
    const override = req.body.partial_failure_response_code;
    if (!isBlank(override) && failed < results.length) {
      const code = Number(override);
      if (Number.isInteger(code) && code >= 1 && code <= 599) status = code;
      else warnings.push('invalid HTTP response code override from partial_failure_response_code, reverting to 400');
    }
  }
  return {
    ...ok(req, { data: { batch_results: batchResults }, warnings: warnings.length ? warnings : null }, status),
    auditData: { batch_results: results.length, errors: failed },
  };
}

function describe(key: TransitKey) {
  const asymmetric = canSign(key.type);
  const keys = Object.fromEntries(
    Object.entries(key.versions).map(([v, e]) => [
      v,
      asymmetric
        ? { creation_time: e.createdAt, name: key.type === 'ed25519' ? 'ed25519' : 'P-256', public_key: e.publicKey ?? '' }
        : Math.floor(Date.parse(e.createdAt) / 1000),
    ]),
  );
  return {
    allow_plaintext_backup: false,
    auto_rotate_period: 0,
    deletion_allowed: key.deletionAllowed,
    derived: key.derived,
    exportable: false,
    imported_key: false,
    keys,
    latest_version: key.latestVersion,
    min_available_version: 0,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: key.minEncryptionVersion,
    name: key.name,
    supports_decryption: canEncrypt(key.type),
    supports_derivation: canDerive(key.type),
    supports_encryption: canEncrypt(key.type),
    supports_signing: asymmetric,
    type: key.type,
    ...(key.derived ? { kdf: 'hkdf_sha256', convergent_encryption: false } : {}),
  };
}

/** Options this vault does not implement: refused when asked for, never silently ignored. */
function refuseUnsupported(body: Item): void {
  if (boolField(body, 'exportable')) throw invalidRequest('exportable keys are not supported by this vault');
  if (boolField(body, 'allow_plaintext_backup')) throw invalidRequest('plaintext backup is not supported by this vault');
  if (boolField(body, 'convergent_encryption')) throw invalidRequest('convergent encryption is not supported by this vault');
  if (!isBlank(body.auto_rotate_period) && body.auto_rotate_period !== 0 && body.auto_rotate_period !== '0' && body.auto_rotate_period !== '0s') {
    throw invalidRequest('auto_rotate_period is not supported by this vault');
  }
}

function signOptions(item: Item, pathAlgorithm: string | undefined, body: Item) {
  if (boolField(item, 'prehashed') ?? boolField(body, 'prehashed')) throw invalidRequest('prehashed input is not supported by this vault');
  const hashAlgorithm = String(pathAlgorithm ?? (isBlank(body.hash_algorithm) ? (isBlank(body.algorithm) ? 'sha2-256' : body.algorithm) : body.hash_algorithm));
  nodeHash(hashAlgorithm);
  const m = isBlank(body.marshaling_algorithm) ? 'asn1' : body.marshaling_algorithm;
  if (m !== 'asn1' && m !== 'jws') throw invalidRequest(`unsupported marshaling algorithm ${String(m)}`);
  return { hashAlgorithm, marshaling: m as 'asn1' | 'jws', context: contextOf(item) };
}

export function transitRoutes(database: Database, ks: TransitKeyService): VaultRoute[] {
  const db = database.db;
  const mac = () => ks.rowMac();
  const existing = async (name: string) => {
    const key = await getKey(db, await mac(), name);
    if (!key) throw invalidRequest('encryption key not found');
    return key;
  };
  const exists = async (name: string) => (await db.select({ name: transitKeys.name }).from(transitKeys).where(eq(transitKeys.name, name))).length > 0;

  return [
    {
      pattern: /^transit\/keys$/,
      handlers: {
        list: async (req) => {
          const names = await listKeys(db, await mac());
          if (names.length === 0) throw notFoundError();
          return ok(req, { data: { keys: names } });
        },
      },
    },
    {
      pattern: /^transit\/keys\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const key = await getKey(db, await mac(), nameOf(m[1]!));
          if (!key) throw notFoundError();
          return ok(req, { data: describe(key) });
        },
        update: async (req, m) => {
          const name = nameOf(m[1]!);
          const type = parseKeyType(req.body.type);
          refuseUnsupported(req.body);
          const derived = boolField(req.body, 'derived') ?? false;
          if (derived && !canDerive(type)) throw invalidRequest(`key derivation and convergent encryption not supported for keys of type ${type}`);
          const { key } = await createKey(db, ks, name, type, derived);
          return ok(req, { data: describe(key) });
        },
        delete: async (_req, m) => {
          await deleteKey(database, ks, nameOf(m[1]!));
          return done();
        },
      },
    },
    {
      pattern: /^transit\/keys\/([^/]+)\/rotate$/,
      handlers: { update: async (req, m) => ok(req, { data: describe(await rotateKey(database, ks, nameOf(m[1]!))) }) },
    },
    {
      pattern: /^transit\/keys\/([^/]+)\/config$/,
      handlers: {
        update: async (req, m) => {
          const name = nameOf(m[1]!);
          refuseUnsupported(req.body);
          const key = await configureKey(database, ks, name, {
            minDecryptionVersion: intField(req.body, 'min_decryption_version'),
            minEncryptionVersion: intField(req.body, 'min_encryption_version'),
            deletionAllowed: boolField(req.body, 'deletion_allowed'),
          });
          return ok(req, { data: describe(key) });
        },
      },
    },
    {
      pattern: /^transit\/encrypt\/([^/]+)$/,
      // Vault creates a missing key on encrypt, which needs `create`.
      capability: async (_req, m) => ((await exists(nameOf(m[1]!))) ? 'update' : 'create'),
      handlers: {
        update: async (req, m) => {
          const name = nameOf(m[1]!);
          const { items } = itemsOf(req);
          const contextSet = !isBlank(items[0]!.context);
          if (items.some((it) => isBlank(it.context) === contextSet)) throw invalidRequest('context should be set either in all the request blocks or in none');
          let key = await getKey(db, await mac(), name);
          if (!key) {
            const type: KeyType = parseKeyType(req.body.type);
            if (!canEncrypt(type)) throw invalidRequest(`key type ${type} not supported for this operation`);
            refuseUnsupported(req.body);
            key = (await createKey(db, ks, name, type, contextSet)).key;
          }
          const k = key;
          return perform(req, ks, k, (item) => {
            refuseNonce(item);
            const plaintext = b64Field(item, 'plaintext', 'missing plaintext to encrypt');
            const context = contextOf(item);
            const aad = aadOf(item);
            const version = encryptionVersion(k, intField(item, 'key_version'));
            return {
              versions: [version],
              run: (o) => {
                try {
                  return { ciphertext: o.encrypt(plaintext, { version, context, aad }), key_version: version };
                } finally {
                  plaintext.fill(0);
                }
              },
            };
          });
        },
      },
    },
    {
      pattern: /^transit\/decrypt\/([^/]+)$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          return perform(req, ks, key, (item) => {
            const ciphertext = stringField(item, 'ciphertext', 'missing ciphertext to decrypt');
            const version = OpenedKey.versionOf(key, ciphertext);
            const context = contextOf(item);
            const aad = aadOf(item);
            return {
              versions: [version],
              run: (o) => {
                const plain = o.decrypt(ciphertext, { context, aad });
                const out = plain.toString('base64');
                plain.fill(0);
                return { plaintext: out };
              },
            };
          });
        },
      },
    },
    {
      pattern: /^transit\/rewrap\/([^/]+)$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          return perform(req, ks, key, (item) => {
            refuseNonce(item);
            const ciphertext = stringField(item, 'ciphertext', 'missing ciphertext to rewrap');
            const from = OpenedKey.versionOf(key, ciphertext);
            const to = encryptionVersion(key, intField(item, 'key_version'));
            const context = contextOf(item);
            const aad = aadOf(item);
            return {
              versions: [from, to],
              run: (o) => {
                const plain = o.decrypt(ciphertext, { context, aad });
                try {
                  return { ciphertext: o.encrypt(plain, { version: to, context, aad }), key_version: to };
                } finally {
                  plain.fill(0);
                }
              },
            };
          });
        },
      },
    },
    {
      pattern: /^transit\/datakey\/([^/]+)\/([^/]+)$/,
      handlers: {
        update: async (req, m) => {
          const kind = m[1]!;
          if (kind !== 'plaintext' && kind !== 'wrapped') throw invalidRequest(`invalid path: ${kind} is neither "plaintext" nor "wrapped"`);
          const key = await existing(nameOf(m[2]!));
          if (!canEncrypt(key.type)) throw invalidRequest(`key type ${key.type} does not support encryption`);
          const bits = intField(req.body, 'bits') ?? 256;
          if (bits !== 128 && bits !== 256 && bits !== 512) throw invalidRequest('invalid bits value; must be 128, 256 or 512');
          return perform(
            req,
            ks,
            key,
            (item) => {
              refuseNonce(item);
              const context = contextOf(item);
              const version = encryptionVersion(key, intField(item, 'key_version'));
              return {
                versions: [version],
                run: (o) => {
                  const secret = randomBytes(bits / 8);
                  try {
                    const ciphertext = o.encrypt(secret, { version, context });
                    return kind === 'plaintext' ? { plaintext: secret.toString('base64'), ciphertext, key_version: version } : { ciphertext, key_version: version };
                  } finally {
                    secret.fill(0);
                  }
                },
              };
            },
            false,
          );
        },
      },
    },
    {
      pattern: /^transit\/hmac\/([^/]+)(?:\/([^/]+))?$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          const algorithm = String(m[2] ?? (isBlank(req.body.algorithm) ? 'sha2-256' : req.body.algorithm));
          nodeHash(algorithm);
          return perform(req, ks, key, (item) => {
            const input = b64Field(item, 'input', 'missing input');
            const version = encryptionVersion(key, intField(item, 'key_version'));
            return { versions: [version], run: (o) => ({ hmac: o.hmac(input, algorithm, version) }) };
          });
        },
      },
    },
    {
      pattern: /^transit\/sign\/([^/]+)(?:\/([^/]+))?$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          if (!canSign(key.type)) throw invalidRequest(`key type ${key.type} does not support signing`);
          signOptions(req.body, m[2], req.body);
          return perform(req, ks, key, (item) => {
            const opts = signOptions(item, m[2], req.body);
            const input = b64Field(item, 'input', 'missing input');
            const version = encryptionVersion(key, intField(item, 'key_version') ?? intField(req.body, 'key_version'));
            return { versions: [version], run: (o) => ({ ...o.sign(input, { ...opts, version }), key_version: version }) };
          });
        },
      },
    },
    {
      pattern: /^transit\/verify\/([^/]+)(?:\/([^/]+))?$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          return perform(req, ks, key, (item) => {
            const input = b64Field(item, 'input', 'missing input');
            if (!isBlank(item.hmac)) {
              const hmac = stringField(item, 'hmac', 'missing hmac');
              const algorithm = String(m[2] ?? (isBlank(req.body.algorithm) ? (isBlank(req.body.hash_algorithm) ? 'sha2-256' : req.body.hash_algorithm) : req.body.algorithm));
              nodeHash(algorithm);
              const version = OpenedKey.versionOf(key, hmac, 'hmac');
              return { versions: [version], run: (o) => ({ valid: o.verifyHmac(input, algorithm, hmac) }) };
            }
            if (isBlank(item.signature)) throw invalidRequest('neither a signature nor an HMAC were given to verify');
            if (!canSign(key.type)) throw invalidRequest(`key type ${key.type} does not support verification`);
            const signature = stringField(item, 'signature', 'missing signature');
            const opts = signOptions(item, m[2], req.body);
            const version = OpenedKey.versionOf(key, signature, 'signature');
            return { versions: verifyNeedsMaterial(key, version) ? [version] : [], run: (o) => ({ valid: o.verify(input, signature, opts) }) };
          });
        },
      },
    },
    {
      pattern: /^transit\/random(?:\/([^/]+))?(?:\/([^/]+))?$/,
      handlers: {
        update: async (req, m) => {
          const segments = [m[1], m[2]].filter((s): s is string => s !== undefined);
          let source = 'platform';
          let bytes = intField(req.body, 'bytes') ?? 32;
          if (segments.length === 2 || (segments.length === 1 && !/^\d+$/.test(segments[0]!))) source = segments[0]!;
          const urlBytes = segments.length === 2 ? segments[1] : segments.length === 1 && /^\d+$/.test(segments[0]!) ? segments[0] : undefined;
          if (urlBytes !== undefined) {
            if (!/^\d{1,9}$/.test(urlBytes)) throw invalidRequest(`error parsing URL bytes: ${urlBytes}`);
            bytes = Number(urlBytes);
          }
          if (!isBlank(req.body.source)) source = String(req.body.source);
          if (source !== 'platform' && source !== 'seal' && source !== 'all') throw invalidRequest(`unsupported entropy source ${source}`);
          if (bytes < 1) throw invalidRequest('bytes must be positive');
          if (bytes > MAX_RANDOM_BYTES) throw invalidRequest(`bytes cannot be greater than ${MAX_RANDOM_BYTES}`);
          const format = isBlank(req.body.format) ? 'base64' : req.body.format;
          if (format !== 'base64' && format !== 'hex') throw invalidRequest(`unsupported encoding format ${String(format)}; must be "base64" or "hex"`);
          // One source on this platform: the operating system's CSPRNG through node:crypto.
          const random = randomBytes(bytes);
          return { ...ok(req, { data: { random_bytes: random.toString(format) } }), auditData: { bytes } };
        },
      },
    },
    {
      pattern: /^transit\/hash(?:\/([^/]+))?$/,
      handlers: {
        update: async (req, m) => {
          const algorithm = String(m[1] ?? (isBlank(req.body.algorithm) ? 'sha2-256' : req.body.algorithm));
          const hash = nodeHash(algorithm);
          const format = isBlank(req.body.format) ? 'hex' : req.body.format;
          if (format !== 'base64' && format !== 'hex') throw invalidRequest(`unsupported encoding format ${String(format)}; must be "hex" or "base64"`);
          const input = b64Field(req.body, 'input', 'missing input to hash');
          return ok(req, { data: { sum: createHash(hash).update(input).digest(format) } });
        },
      },
    },
  ];
}
