// ZenoAuth's account mails (io.zenokube.auth.mail.requested): rendered from the built-in
// `zenoauth.*` templates (a tenant's own template of the same name comes first) and queued like any
// other message, with the user as the data subject, so that erasing the user erases them too. The
// event's id is the Idempotency-Key: a redelivered event queues nothing new.
import { parseMailbox } from './address.js';
import { MailError } from './errors.js';
import { listSenders } from './senders.js';
import type { Queryable } from '#shared/db/index';

/** The account mails ZenoAuth asks for, by the names it uses. */
const ACCOUNT_TEMPLATES = new Set(['verify-email', 'password-reset', 'email-changed', 'new-device']);

export interface AccountMailRequest {
  tenant: string;
  template: string;
  to: string;
  userId: string;
  variables: Record<string, string>;
  locale?: string | undefined;
}

/** Why an account mail was not queued, for the log (never the address or the variables). */
type AccountMailSkip = 'unknown_template' | 'bad_recipient' | 'no_sender';

/**
 * The sender of a tenant's account mails: ZENO_MAIL_ACCOUNT_FROM when set, else `no-reply@` the
 * tenant's first verified sender domain (for tenant `system`, the configured ones first).
 */
export async function accountSender(db: Queryable, tenant: string, configured: string | undefined, systemDomains: readonly string[]): Promise<string | undefined> {
  if (configured) return configured;
  const domains = [...(tenant === 'system' ? systemDomains : []), ...(await listSenders(db, tenant))];
  return domains.length > 0 ? `no-reply@${domains[0]}` : undefined;
}

/** The send request for `req`, or why there is none. */
export function accountMailInput(req: AccountMailRequest, from: string | undefined):
  | { ok: true; from: NonNullable<ReturnType<typeof parseMailbox>>; to: NonNullable<ReturnType<typeof parseMailbox>>; template: string; locale: string }
  | { ok: false; why: AccountMailSkip } {
  if (!ACCOUNT_TEMPLATES.has(req.template)) return { ok: false, why: 'unknown_template' };
  const to = parseMailbox(req.to);
  if (!to) return { ok: false, why: 'bad_recipient' };
  const sender = from === undefined ? undefined : parseMailbox(from);
  if (!sender) return { ok: false, why: 'no_sender' };
  return { ok: true, from: sender, to, template: `zenoauth.${req.template}`, locale: req.locale ?? 'en' };
}

/** Refusals of the send path that a retry cannot change: the event is consumed, the reason logged. */
export function isFinalRefusal(err: unknown): err is MailError {
  return err instanceof MailError;
}
