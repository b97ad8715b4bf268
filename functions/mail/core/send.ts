// Accepting a message: the rules between a validated request and a queued, sealed row with its
// outbox event. Either all of it commits or nothing does.
import { randomUUID } from 'node:crypto';
import type { Database } from '#shared/db/index';
import type { EventPublisher } from '#shared/events/publisher';
import { domainOf, normalizeAddress, type Mailbox } from './address.js';
import { recipientsOf, type Attachment, type MessageContent } from './content.js';
import { MailError } from './errors.js';
import { blindIndex, type MailKeys } from './keys.js';
import { findByIdempotencyKey, insertMessage } from './messages.js';
import { renderTemplate } from './render.js';
import { isVerifiedSender } from './senders.js';
import { keysForSend } from './subjects.js';
import { suppressedAmong } from './suppressions.js';
import { findTemplate } from './templates.js';
import { unsubscribeToken } from './unsubscribe.js';

const MESSAGE_QUEUED = 'io.zenokube.mail.message.queued';

/** A request as the API validated it (addresses parsed, no control characters anywhere). */
export interface SendInput {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo?: Mailbox | undefined;
  subject?: string | undefined;
  text?: string | undefined;
  html?: string | undefined;
  template?: { name: string; locale: string; version?: number | undefined; variables: Record<string, string> } | undefined;
  attachments: Attachment[];
  headers: Record<string, string>;
  tags: string[];
  subjects: string[];
  /** Adds RFC 8058 one-click unsubscribe headers (one recipient only). */
  unsubscribe: boolean;
}

interface SendDeps {
  database: Database;
  events: EventPublisher;
  keys: MailKeys;
  /** Verified sender domains of tenant `system` (ZENO_MAIL_SENDER_DOMAINS). */
  systemSenderDomains: readonly string[];
  /** The public base URL the unsubscribe links point at. */
  baseUrl: string;
}

interface Accepted {
  id: string;
  status: string;
  /** True when the Idempotency-Key named a message accepted before: nothing new was queued. */
  replayed: boolean;
}

/** Subject, text and HTML from the request or its template. */
async function composeParts(deps: SendDeps, tenant: string, input: SendInput): Promise<Pick<MessageContent, 'subject' | 'text' | 'html' | 'template'>> {
  if (!input.template) return { subject: input.subject!, ...(input.text !== undefined ? { text: input.text } : {}), ...(input.html !== undefined ? { html: input.html } : {}) };
  const t = input.template;
  const row = await findTemplate(deps.database.db, tenant, t.name, t.locale, t.version);
  if (!row) throw new MailError('unknown_template', `No template ${t.name} exists for locale ${t.locale}${t.version ? ` version ${t.version}` : ''}.`);
  const r = renderTemplate({ subject: input.subject ?? row.subject, text: row.text ?? undefined, html: row.html ?? undefined }, t.variables);
  return { ...r, template: { name: row.name, locale: row.locale, version: row.version, variables: t.variables } };
}

/** Validates the request against the tenant's rules and queues it; see SendInput for what is checked before. */
export async function acceptMessage(deps: SendDeps, tenant: string, input: SendInput, idempotencyKey?: string): Promise<Accepted> {
  const idemIndex = idempotencyKey === undefined ? null : blindIndex(deps.keys, 'idempotency', `${tenant}\0${idempotencyKey}`);
  const requestHash = idemIndex === null ? null : blindIndex(deps.keys, 'request', JSON.stringify(input));
  if (idemIndex !== null) {
    const earlier = await findByIdempotencyKey(deps.database.db, tenant, idemIndex);
    if (earlier) return replayOf(earlier, requestHash!);
  }
  if (!(await isVerifiedSender(deps.database.db, tenant, domainOf(input.from.address), deps.systemSenderDomains))) {
    throw new MailError('sender_not_verified', `The sender domain ${domainOf(input.from.address)} is not verified for this tenant.`);
  }
  const parts = await composeParts(deps, tenant, input);
  const content: MessageContent = {
    from: input.from,
    to: input.to,
    cc: input.cc,
    bcc: input.bcc,
    ...(input.replyTo ? { replyTo: input.replyTo } : {}),
    ...parts,
    headers: { ...input.headers },
    attachments: input.attachments,
  };
  const recipients = recipientsOf(content);
  const indexes = recipients.map((a) => blindIndex(deps.keys, 'address', normalizeAddress(a)));
  if (input.unsubscribe) {
    // RFC 8058 §3.1: an HTTPS URI in List-Unsubscribe and exactly this List-Unsubscribe-Post.
    content.headers['List-Unsubscribe'] = `<${deps.baseUrl}/mail/${tenant}/v1/unsubscribe/${unsubscribeToken(deps.keys, tenant, indexes[0]!)}>`;
    content.headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  const suppressed = await suppressedAmong(deps.database.db, tenant, indexes);
  if (suppressed.size > 0) {
    const which = recipients.filter((_, i) => suppressed.has(indexes[i]!));
    throw new MailError('recipient_suppressed', 'Some recipients unsubscribed or bounced hard; remove them and send again.', { recipients: which });
  }
  const id = randomUUID();
  return deps.database.transaction(async (tx) => {
    const subjectKeys = await keysForSend(tx, deps.keys, tenant, input.subjects);
    try {
      const row = await insertMessage(tx, subjectKeys, {
        id, tenant, subjects: [...new Set(input.subjects)].sort(), recipientIndex: [...new Set(indexes)], tags: input.tags, idempotencyKey: idemIndex, requestHash, content,
      });
      if (!row) {
        // A concurrent request with the same key committed first; its unique index made us wait.
        const earlier = await findByIdempotencyKey(tx, tenant, idemIndex!);
        return replayOf(earlier!, requestHash!);
      }
      await deps.events.emit(tx, { id: `queued-${id}`, type: MESSAGE_QUEUED, data: { tenant, messageId: id } });
      return { id, status: 'queued', replayed: false };
    } finally {
      for (const k of subjectKeys.values()) k.fill(0);
    }
  });
}

function replayOf(earlier: { id: string; status: string; requestHash: string | null }, requestHash: string): Accepted {
  if (earlier.requestHash !== requestHash) {
    throw new MailError('idempotency_key_reused', 'This Idempotency-Key was used for a different request.');
  }
  return { id: earlier.id, status: earlier.status, replayed: true };
}
