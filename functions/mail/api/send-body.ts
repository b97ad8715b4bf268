// The send request at the edge: header injection refused (400), shape checked (422), mailboxes
// parsed (400), sizes limited (413). What passes is a SendInput for the core rules.
import type { Context } from 'hono';
import { z } from 'zod';
import { AppError, badRequest } from '#shared/http/errors';
import { jsonBody } from '#shared/http/validate';
import { hasControlChars, parseMailbox, type Mailbox } from '../core/address.js';
import type { SendInput } from '../core/send.js';

/** Header fields the message composes itself: a custom header may not set them. */
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'reply-to', 'sender', 'subject', 'date', 'message-id', 'mime-version', 'content-type',
  'content-transfer-encoding', 'content-disposition', 'dkim-signature', 'received', 'return-path', 'in-reply-to', 'references',
]);
// RFC 5322 §3.6.8: field-name = 1*ftext, printable US-ASCII except ":".
const FIELD_NAME = /^[!-9;-~]{1,76}$/;
const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;
const SUBJECT_ID = /^[A-Za-z0-9_.:@-]{1,128}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_RECIPIENTS = 50;

const addresses = z.union([z.string().max(1000), z.array(z.string().max(1000)).max(MAX_RECIPIENTS)]);
const schema = z.strictObject({
  from: z.string().max(1000),
  to: addresses,
  cc: addresses.optional(),
  bcc: addresses.optional(),
  replyTo: z.string().max(1000).optional(),
  // RFC 5322 §2.1.1: a line is at most 998 characters.
  subject: z.string().min(1).max(900).optional(),
  text: z.string().max(1_000_000).optional(),
  html: z.string().max(1_000_000).optional(),
  template: z
    .strictObject({
      name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
      locale: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/).optional(),
      version: z.number().int().positive().optional(),
      variables: z.record(z.string().max(64), z.string().max(10_000)).optional(),
    })
    .optional(),
  attachments: z
    .array(z.strictObject({ filename: z.string().min(1).max(255), contentType: z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/i).max(100).optional(), content: z.string().regex(BASE64) }))
    .max(10)
    .optional(),
  headers: z.record(z.string(), z.string().max(900)).optional(),
  tags: z.array(z.string().regex(TAG)).max(10).optional(),
  subjects: z.array(z.string().regex(SUBJECT_ID)).min(1).max(10),
  /** Adds RFC 8058 one-click unsubscribe headers for the one recipient. */
  unsubscribe: z.boolean().optional(),
});

/** Where a CR, LF or other control character sits in a field that ends up in a header; undefined if none. */
function injectionAt(body: Record<string, unknown>): string | undefined {
  const check = (path: string, v: unknown): string | undefined => {
    if (typeof v === 'string') return hasControlChars(v) ? path : undefined;
    if (Array.isArray(v)) for (const [i, x] of v.entries()) { const p = check(`${path}.${i}`, x); if (p) return p; }
    return undefined;
  };
  for (const field of ['from', 'to', 'cc', 'bcc', 'replyTo', 'subject', 'tags', 'subjects']) {
    const p = check(field, body[field]);
    if (p) return p;
  }
  const headers = body.headers;
  if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) if (hasControlChars(k) || check('', v) !== undefined) return `headers.${k.replace(/\p{Cc}/gu, '?')}`;
  }
  if (Array.isArray(body.attachments)) {
    for (const [i, a] of body.attachments.entries()) {
      if (a && typeof a === 'object') for (const f of ['filename', 'contentType']) if (check('', (a as Record<string, unknown>)[f]) !== undefined) return `attachments.${i}.${f}`;
    }
  }
  return undefined;
}

function mailbox(path: string, text: string): Mailbox {
  const m = parseMailbox(text);
  if (!m) throw badRequest('invalid_address', `${path} is not a mailbox of the form local@domain or "Name <local@domain>".`, { field: path });
  return m;
}

const list = (path: string, v: string | string[] | undefined): Mailbox[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((a, i) => mailbox(`${path}.${i}`, a)));

/** Reads and validates the send request. */
export async function readSendBody(c: Context, maxAttachmentBytes: number): Promise<SendInput> {
  const raw = await jsonBody(c, z.record(z.string(), z.unknown()));
  const at = injectionAt(raw);
  if (at) throw badRequest('header_injection', `${at} contains a line break or control character; header fields and addresses may not.`, { field: at });
  const b = schema.safeParse(raw);
  if (!b.success) {
    throw new AppError(422, 'validation_failed', 'Unprocessable Content', {
      detail: 'The request body does not match the expected shape.',
      extras: { errors: b.error.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })) },
    });
  }
  const d = b.data;
  if (!d.template && d.subject === undefined) throw badRequest('missing_subject', 'A message needs a subject, or a template that gives one.');
  if (!d.template && d.text === undefined && d.html === undefined) throw badRequest('missing_body', 'A message needs text, html or a template.');
  if (d.template && (d.text !== undefined || d.html !== undefined)) throw badRequest('template_and_body', 'Send either a template or text/html, not both.');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(d.headers ?? {})) {
    if (!FIELD_NAME.test(name)) throw badRequest('invalid_header', `${name} is not a header field name.`, { field: `headers.${name}` });
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw badRequest('reserved_header', `The header ${name} is set by the service and cannot be given.`, { field: `headers.${name}` });
    headers[name] = value;
  }
  const to = list('to', d.to);
  const cc = list('cc', d.cc);
  const bcc = list('bcc', d.bcc);
  if (to.length + cc.length + bcc.length === 0) throw badRequest('no_recipients', 'A message needs at least one recipient.');
  if (d.unsubscribe) {
    // RFC 8058 §3.1: the URL identifies one recipient, so the message goes to that one only.
    if (to.length !== 1 || cc.length + bcc.length > 0) throw badRequest('unsubscribe_needs_one_recipient', 'A message with one-click unsubscribe goes to exactly one recipient in to.');
    if (Object.keys(headers).some((n) => n.toLowerCase().startsWith('list-unsubscribe'))) throw badRequest('reserved_header', 'With unsubscribe set, the List-Unsubscribe headers are set by the service.');
  }
  if (to.length + cc.length + bcc.length > MAX_RECIPIENTS) throw badRequest('too_many_recipients', `A message goes to at most ${MAX_RECIPIENTS} recipients.`);
  let attachmentBytes = 0;
  const attachments = (d.attachments ?? []).map((a) => {
    attachmentBytes += Math.floor((a.content.length * 3) / 4);
    return { filename: a.filename, contentType: a.contentType ?? 'application/octet-stream', content: a.content };
  });
  if (attachmentBytes > maxAttachmentBytes) {
    throw new AppError(413, 'attachments_too_large', 'Content Too Large', { detail: `Attachments may total at most ${maxAttachmentBytes} bytes.` });
  }
  return {
    from: mailbox('from', d.from),
    to, cc, bcc,
    replyTo: d.replyTo === undefined ? undefined : mailbox('replyTo', d.replyTo),
    subject: d.subject,
    text: d.text,
    html: d.html,
    template: d.template ? { name: d.template.name, locale: d.template.locale ?? 'en', version: d.template.version, variables: d.template.variables ?? {} } : undefined,
    attachments,
    headers,
    tags: d.tags ?? [],
    subjects: d.subjects,
    unsubscribe: d.unsubscribe ?? false,
  };
}
