// An in-process cache of client rows for the token endpoint's hot path, invalidated exactly:
// a trigger on auth.clients (migration 0002) sends NOTIFY in the transaction that updates or
// deletes a client, and the cache drops that entry when the commit's notification arrives.
// A lookup racing a change is never stored (the notification epoch moved). Only found clients
// are cached (an unknown id always asks the database). Should the LISTEN connection drop,
// notifications sent meanwhile are lost: every entry therefore also expires after `ttlMs`, the
// documented bound on how long a rotated or deleted client can still authenticate in that case.
// Without a working LISTEN the cache is off and every lookup goes to the database.
import type { Database, Queryable } from '#shared/db/index';
import type { Logger } from '#shared/log/index';
import { findClient } from './clients.js';
import type { Client } from './schema.js';

/** The NOTIFY channel of migration 0002_client_change_notify. */
const CLIENT_CHANNEL = 'zeno_auth_clients';

export type ClientFinder = (q: Queryable, tenantId: string, clientId: string) => Promise<Client | undefined>;

export interface ClientCache {
  readonly find: ClientFinder;
  /** True while entries are kept (LISTEN is up). */
  readonly enabled: boolean;
  close(): Promise<void>;
}

interface ClientCacheOptions {
  /** Longest life of an entry, the bound should a notification be lost (default 5 s). */
  ttlMs?: number;
  /** Entries kept at most; the cache is emptied when full (default 10,000). */
  maxEntries?: number;
  log?: Logger;
}

const keyOf = (tenantId: string, clientId: string) => `${tenantId}:${clientId}`;

/** A frozen copy, so no request can alter what the next one reads. */
function frozen(client: Client): Client {
  for (const v of Object.values(client)) if (Array.isArray(v)) Object.freeze(v);
  return Object.freeze(client);
}

export async function createClientCache(database: Database, opts: ClientCacheOptions = {}): Promise<ClientCache> {
  const ttlMs = opts.ttlMs ?? 5_000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<string, { client: Client; until: number }>();
  let epoch = 0;
  let unlisten: (() => Promise<void>) | undefined;
  try {
    unlisten = await database.listen(CLIENT_CHANNEL, (payload) => {
      epoch++;
      if (payload === '*') entries.clear();
      else entries.delete(payload);
    });
  } catch (err) {
    opts.log?.warn('client cache off: LISTEN failed', { err });
  }

  // A function, not a narrowed variable: close() may run while a lookup awaits the database.
  const listening = () => unlisten !== undefined;

  const find: ClientFinder = async (q, tenantId, clientId) => {
    if (!listening()) return findClient(q, tenantId, clientId);
    const key = keyOf(tenantId, clientId);
    const hit = entries.get(key);
    const now = Date.now();
    if (hit && hit.until > now) return hit.client;
    const seen = epoch;
    const client = await findClient(q, tenantId, clientId);
    if (!client) {
      entries.delete(key);
      return undefined;
    }
    // A notification since the lookup began may concern this row: do not keep what was read.
    if (listening() && epoch === seen) {
      if (entries.size >= maxEntries) entries.clear();
      entries.set(key, { client: frozen(client), until: now + ttlMs });
    }
    return client;
  };

  return {
    find,
    get enabled() {
      return listening();
    },
    async close() {
      const off = unlisten;
      unlisten = undefined;
      entries.clear();
      await off?.();
    },
  };
}
