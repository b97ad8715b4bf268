// Reads a registered SP's metadata URL again and applies what changed (a new certificate, an
// ACS moved). A refresh that fails leaves the registration as it was and records the error on
// it; the audit has a row when the metadata changed something and when refreshes start failing.
import type { Queryable } from '#shared/db/index';
import { AppError } from '#shared/http/errors';
import { recordAudit, type RequestMeta } from '../core/audit.js';
import { metadataFacts, refreshedRegistration } from '../core/saml/metadata-refresh.js';
import { recordRefreshFailure, replaceSp, spsDueForRefresh } from '../core/saml/service-providers.js';
import { registrationFromMetadata } from '../core/saml/sp-metadata.js';
import { parseSpRegistration, spValues } from '../core/saml/sp-registration.js';
import type { SamlServiceProvider } from '../core/schema.js';
import { fetchSpMetadata } from './saml-metadata-fetch.js';

type RefreshOutcome = { ok: true; sp: SamlServiceProvider; changed: boolean } | { ok: false; error: string };
type Prepared = { values: ReturnType<typeof spValues> } | { error: string };

/** Reads and checks the metadata, without a database: the network wait holds no transaction. */
export async function readRefresh(sp: SamlServiceProvider, fetchXml = fetchSpMetadata): Promise<Prepared> {
  if (!sp.metadataUrl) throw new TypeError('readRefresh: the SP has no metadata URL');
  try {
    const reg = parseSpRegistration(refreshedRegistration(sp, registrationFromMetadata(await fetchXml(sp.metadataUrl))));
    return { values: spValues(sp.tenantId, reg) };
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { error: `${err.code}: ${err.detail ?? err.message}` };
  }
}

/** Applies a read refresh in `tx`; `actor` names who asked (an admin, or the schedule). */
export async function applyRefresh(tx: Queryable, sp: SamlServiceProvider, prepared: Prepared, actor: string, meta: RequestMeta): Promise<RefreshOutcome> {
  if ('error' in prepared) {
    await recordRefreshFailure(tx, sp.tenantId, sp.id, prepared.error);
    if (!sp.metadataError) await recordAudit(tx, { tenantId: sp.tenantId, action: 'saml.sp.metadata-refreshed', outcome: 'failure', actor, clientId: sp.entityId, detail: { error: prepared.error } }, meta);
    return { ok: false, error: prepared.error };
  }
  const now = new Date();
  const row = await replaceSp(tx, sp.tenantId, sp.id, { ...prepared.values, metadataUrl: sp.metadataUrl, metadataRefreshedAt: now, metadataCheckedAt: now, metadataError: null });
  if (!row) return { ok: false, error: 'the service provider was deleted meanwhile' };
  const changed = metadataFacts(row) !== metadataFacts(sp);
  if (changed) await recordAudit(tx, { tenantId: sp.tenantId, action: 'saml.sp.metadata-refreshed', outcome: 'success', actor, clientId: sp.entityId, detail: { changed: true } }, meta);
  return { ok: true, sp: row, changed };
}

const DUE_AFTER_MINUTES = 50;
const PER_TICK = 25;

/** The schedule's refresh, first half: the SPs due and their metadata, read on the pool with no transaction held. */
export async function readDueRefreshes(db: Queryable): Promise<{ sp: SamlServiceProvider; prepared: Prepared }[]> {
  const due = await spsDueForRefresh(db, DUE_AFTER_MINUTES, PER_TICK);
  const prepared = await Promise.all(due.map((sp) => readRefresh(sp).catch((): Prepared => ({ error: 'internal_error: the refresh failed unexpectedly' }))));
  return due.map((sp, i) => ({ sp, prepared: prepared[i]! }));
}

/** The second half, in `tx`: each read applied (or its failure recorded). */
export async function applyDueRefreshes(tx: Queryable, read: { sp: SamlServiceProvider; prepared: Prepared }[], meta: RequestMeta): Promise<{ checked: number; changed: number; failed: number }> {
  const summary = { checked: read.length, changed: 0, failed: 0 };
  for (const { sp, prepared } of read) {
    const outcome = await applyRefresh(tx, sp, prepared, 'schedule:auth-saml-metadata', meta);
    if (!outcome.ok) summary.failed++;
    else if (outcome.changed) summary.changed++;
  }
  return summary;
}
