// ZenoMail's tables in the `mail` schema. Everything about a person (addresses, subjects, bodies,
// template variables, the remote server's replies) is stored sealed under a key of that person's
// own; what stays in clear is what statistics need: ids, states, counts, times, tags.
import { bigserial, customType, index, integer, jsonb, pgSchema, primaryKey, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { inboxTable, outboxTable } from '#shared/events/tables';

export const mail = pgSchema('mail');

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * One key per data subject (a person, named by an id the caller chooses), sealed under the
 * service key with the tenant and subject id as associated data. Erasure sets `wrappedKey` to
 * null: whatever was sealed under it can no longer be opened.
 */
export const subjects = mail.table(
  'subjects',
  {
    tenant: text().notNull(),
    id: text().notNull(),
    wrappedKey: bytea(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    erasedAt: timestamp({ withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.id] })],
);

/** A message as accepted by the send API, its content sealed under its subjects' keys. */
export const messages = mail.table(
  'messages',
  {
    id: text().primaryKey(),
    tenant: text().notNull(),
    /** queued, sending, deferred, sent, bounced, failed, cancelled, erased. */
    status: text().notNull(),
    /** The data subjects the message concerns (ids chosen by the caller, pseudonymous). */
    subjects: text().array().notNull(),
    /** Keyed blind index (HMAC) of each recipient address, for lookups; emptied on erasure. */
    recipientIndex: text().array().notNull(),
    recipientCount: integer().notNull(),
    sizeBytes: integer().notNull(),
    tags: text().array().notNull(),
    /** HMAC of the Idempotency-Key header, and of the request it came with. */
    idempotencyKey: text(),
    requestHash: text(),
    /** The sealed content (JSON: envelope, headers, parts, attachments); AAD binds tenant and id. */
    content: bytea().notNull(),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    /** Set while a delivery attempt holds the message. */
    leaseUntil: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex().on(t.tenant, t.idempotencyKey),
    index().on(t.tenant, t.createdAt),
    index().on(t.status, t.nextAttemptAt),
    index().using('gin', t.subjects),
  ],
);

/** A message's history: queued, sending, sent, deferred, bounced, failed, cancelled, erased. */
export const messageEvents = mail.table(
  'message_events',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    messageId: text().notNull(),
    tenant: text().notNull(),
    kind: text().notNull(),
    /** Sealed under the message key: the remote reply or reason may name a recipient. */
    detail: bytea(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.messageId, t.seq)],
);

/** Addresses not to send to (unsubscribed, hard-bounced), by blind index only. */
export const suppressions = mail.table(
  'suppressions',
  {
    tenant: text().notNull(),
    addressIndex: text().notNull(),
    reason: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.addressIndex] })],
);

/** The sender domains a tenant may send from. */
export const senders = mail.table(
  'senders',
  {
    tenant: text().notNull(),
    domain: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.domain] })],
);

/** Versioned templates per tenant, name and locale. */
export const templates = mail.table(
  'templates',
  {
    tenant: text().notNull(),
    name: text().notNull(),
    locale: text().notNull(),
    version: integer().notNull(),
    subject: text().notNull(),
    text: text(),
    html: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name, t.locale, t.version] })],
);

/**
 * A tenant's own transport (SMTP or Microsoft Graph); without a row the default SMTP relay of the
 * configuration carries its mail. `settings` holds what is not secret (host, port, TLS mode, user
 * name, Graph ids and endpoints); `secret` the password or client secret, sealed under the
 * service key's config key with the tenant as associated data.
 */
export const transports = mail.table('transports', {
  tenant: text().primaryKey(),
  kind: text().notNull(),
  settings: jsonb().$type<Record<string, unknown>>().notNull(),
  secret: text(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
});

/** A tenant's DKIM keys (RFC 6376), one per signing domain; the private key sealed like a transport secret. */
export const dkimKeys = mail.table(
  'dkim_keys',
  {
    tenant: text().notNull(),
    domain: text().notNull(),
    selector: text().notNull(),
    privateKey: text().notNull(),
    /** base64 of the DER SubjectPublicKeyInfo, the p= of the DNS record. */
    publicKey: text().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.domain] })],
);

/** Security-relevant actions: erasures, sender and template changes. */
export const audit = mail.table(
  'audit',
  {
    seq: bigserial({ mode: 'number' }).primaryKey(),
    tenant: text().notNull(),
    actor: text().notNull(),
    action: text().notNull(),
    target: text().notNull(),
    outcome: text().notNull(),
    requestId: text(),
    sourceIp: text(),
    at: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index().on(t.tenant, t.seq)],
);

export const outbox = outboxTable(mail);
export const inbox = inboxTable(mail);

export type Message = typeof messages.$inferSelect;
export type Template = typeof templates.$inferSelect;
export type TransportRow = typeof transports.$inferSelect;
export type DkimKeyRow = typeof dkimKeys.$inferSelect;
