// transit/: keys (create, read, list, rotate, config, delete), encrypt and decrypt, with batches.
// @see https://developer.hashicorp.com/vault/api-docs/secret/transit
import { asc } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { invalidRequest, notFoundError } from '#functions/vault/core/errors';
import type { DekService } from '#functions/vault/core/kv';
import { transitKeys } from '#functions/vault/core/schema';
import { configureKey, createKey, decrypt, deleteKey, encrypt, getKey, rotateKey, type TransitKey } from '#functions/vault/core/transit';
import { boolField, intField } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRoute } from './route.js';

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_BATCH = 1000;

function nameOf(raw: string): string {
  if (!NAME.test(raw)) throw invalidRequest('invalid key name');
  return raw;
}

function b64(v: unknown, field: string): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw invalidRequest(`${field} must be base64-encoded`);
  return Buffer.from(v, 'base64');
}

function describe(key: TransitKey) {
  return {
    name: key.name,
    type: key.type,
    latest_version: key.latestVersion,
    min_decryption_version: key.minDecryptionVersion,
    min_encryption_version: 0,
    deletion_allowed: key.deletionAllowed,
    exportable: false,
    derived: false,
    supports_encryption: true,
    supports_decryption: true,
    supports_derivation: false,
    supports_signing: false,
    keys: Object.fromEntries(Object.entries(key.versions).map(([v, e]) => [v, Math.floor(Date.parse(e.createdAt) / 1000)])),
  };
}

export function transitRoutes(database: Database, keys: DekService): VaultRoute[] {
  const db = database.db;
  const existing = async (name: string) => {
    const key = await getKey(db, name);
    if (!key) throw invalidRequest('encryption key not found');
    return key;
  };

  return [
    {
      pattern: /^transit\/keys$/,
      handlers: {
        list: async (req) => {
          const rows = await db.select({ name: transitKeys.name }).from(transitKeys).orderBy(asc(transitKeys.name));
          if (rows.length === 0) throw notFoundError();
          return ok(req, { data: { keys: rows.map((r) => r.name) } });
        },
      },
    },
    {
      pattern: /^transit\/keys\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const key = await getKey(db, nameOf(m[1]!));
          if (!key) throw notFoundError();
          return ok(req, { data: describe(key) });
        },
        update: async (req, m) => {
          const type = req.body.type ?? 'aes256-gcm96';
          if (type !== 'aes256-gcm96') throw invalidRequest(`unsupported key type "${String(type)}"`);
          if (boolField(req.body, 'exportable') || boolField(req.body, 'derived')) throw invalidRequest('exportable and derived keys are not supported');
          const key = await createKey(db, keys, nameOf(m[1]!));
          return ok(req, { data: describe(key) });
        },
        delete: async (_req, m) => {
          await deleteKey(db, nameOf(m[1]!));
          return done();
        },
      },
    },
    {
      pattern: /^transit\/keys\/([^/]+)\/rotate$/,
      handlers: { update: async (req, m) => ok(req, { data: describe(await rotateKey(database, keys, nameOf(m[1]!))) }) },
    },
    {
      pattern: /^transit\/keys\/([^/]+)\/config$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          const min = intField(req.body, 'min_decryption_version');
          if (min !== undefined && (min < 1 || min > key.latestVersion)) throw invalidRequest('min_decryption_version out of range');
          await configureKey(db, key.name, min, boolField(req.body, 'deletion_allowed'));
          return ok(req, { data: describe((await getKey(db, key.name))!) });
        },
      },
    },
    {
      pattern: /^transit\/encrypt\/([^/]+)$/,
      // Vault creates a missing key on encrypt, which needs `create`.
      capability: async (_req, m) => ((await getKey(db, nameOf(m[1]!))) ? 'update' : 'create'),
      handlers: {
        update: async (req, m) => {
          const key = await createKey(db, keys, nameOf(m[1]!));
          const one = async (item: Record<string, unknown>) => {
            const plain = b64(item.plaintext, 'plaintext');
            try {
              const aad = item.associated_data === undefined ? undefined : b64(item.associated_data, 'associated_data');
              return { ciphertext: await encrypt(keys, key, plain, intField(item, 'key_version') ?? 0, aad), key_version: intField(item, 'key_version') || key.latestVersion };
            } finally {
              plain.fill(0);
            }
          };
          const batch = req.body.batch_input;
          if (batch !== undefined) {
            if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH) throw invalidRequest('batch_input must be a non-empty list');
            const results = [];
            for (const item of batch) {
              if (!item || typeof item !== 'object') throw invalidRequest('batch_input items must be objects');
              results.push(await one(item as Record<string, unknown>));
            }
            return { ...ok(req, { data: { batch_results: results } }), auditData: { batch_results: results.length } };
          }
          return ok(req, { data: await one(req.body) });
        },
      },
    },
    {
      pattern: /^transit\/decrypt\/([^/]+)$/,
      handlers: {
        update: async (req, m) => {
          const key = await existing(nameOf(m[1]!));
          const one = async (item: Record<string, unknown>) => {
            if (typeof item.ciphertext !== 'string') throw invalidRequest('missing ciphertext to decrypt');
            const aad = item.associated_data === undefined ? undefined : b64(item.associated_data, 'associated_data');
            const plain = await decrypt(keys, key, item.ciphertext, aad);
            const out = plain.toString('base64');
            plain.fill(0);
            return { plaintext: out };
          };
          const batch = req.body.batch_input;
          if (batch !== undefined) {
            if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH) throw invalidRequest('batch_input must be a non-empty list');
            const results = [];
            for (const item of batch) {
              if (!item || typeof item !== 'object') throw invalidRequest('batch_input items must be objects');
              results.push(await one(item as Record<string, unknown>));
            }
            return ok(req, { data: { batch_results: results } });
          }
          return ok(req, { data: await one(req.body) });
        },
      },
    },
  ];
}
