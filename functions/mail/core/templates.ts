// Templates per tenant: every change is a new version of (name, locale); sends use the newest.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Queryable, Tx } from '#shared/db/index';
import { builtinTemplate, builtinVersions } from './builtin-templates.js';
import { templates, type Template } from './schema.js';

export interface TemplateInput {
  subject: string;
  text?: string | undefined;
  html?: string | undefined;
}

/** Stores a new version of (name, locale); versions count from 1. */
export async function saveTemplateVersion(tx: Tx, tenant: string, name: string, locale: string, t: TemplateInput): Promise<Template> {
  // Serialise writers of the same template so two saves never pick the same version.
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`mail/template/${tenant}/${name}/${locale}`}))`);
  const [last] = await tx
    .select({ version: templates.version })
    .from(templates)
    .where(and(eq(templates.tenant, tenant), eq(templates.name, name), eq(templates.locale, locale)))
    .orderBy(desc(templates.version))
    .limit(1);
  const [row] = await tx
    .insert(templates)
    .values({ tenant, name, locale, version: (last?.version ?? 0) + 1, subject: t.subject, text: t.text ?? null, html: t.html ?? null })
    .returning();
  return row!;
}

/**
 * The newest version of a template in the best locale: the exact one (`de-CH`), then its language
 * (`de`), then `en`. A version number pins one. In each locale the tenant's own template comes
 * before a built-in one of that name (ZenoAuth's account e-mails, version 0).
 */
export async function findTemplate(db: Queryable, tenant: string, name: string, locale: string, version?: number): Promise<Template | undefined> {
  const candidates = [...new Set([locale, locale.split('-')[0]!, 'en'])];
  for (const loc of candidates) {
    const where = [eq(templates.tenant, tenant), eq(templates.name, name), eq(templates.locale, loc)];
    if (version !== undefined) where.push(eq(templates.version, version));
    const [row] = await db.select().from(templates).where(and(...where)).orderBy(desc(templates.version)).limit(1);
    if (row) return row;
    // The reader's language first: a built-in in this locale before the tenant's own in a fallback one.
    const builtin = version === undefined || version === 0 ? builtinTemplate(name, [loc]) : undefined;
    if (builtin) return builtin;
  }
  return undefined;
}

/** The versions of a template, newest first; the built-in ones (version 0) last. */
export async function listTemplateVersions(db: Queryable, tenant: string, name: string): Promise<Template[]> {
  return [...(await listStoredVersions(db, tenant, name)), ...builtinVersions(name)];
}

function listStoredVersions(db: Queryable, tenant: string, name: string): Promise<Template[]> {
  return db.select().from(templates).where(and(eq(templates.tenant, tenant), eq(templates.name, name))).orderBy(templates.locale, desc(templates.version));
}
