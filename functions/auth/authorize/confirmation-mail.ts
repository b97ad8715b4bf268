// Asks ZenoMail for an e-mail confirmation link (io.zenokube.auth.mail.requested, template
// `verify-email` with exactly its variables: name, link, expiresInMinutes), and for the notice to
// the former address once a change applies (`email-changed`). The link travels in the event only:
// the audit row and the logs never carry it.
import type { Queryable } from '#shared/db/index';
import { CONFIRM_TTL_SECONDS, createEmailConfirmation, type ConfirmationPurpose } from '../core/email-confirmations.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Tenant, User } from '../core/schema.js';

/** Creates the link and emits the mail request in `tx`; false when the user asked too often this hour. */
export async function requestConfirmationMail(tx: Queryable, rt: AuthRuntime, tenant: Tenant, user: User, purpose: ConfirmationPurpose, email: string): Promise<boolean> {
  const token = await createEmailConfirmation(tx, tenant.id, user.id, purpose, email);
  if (!token) return false;
  await rt.events.emit(tx, {
    type: AUTH_EVENTS.mailRequested,
    data: {
      tenant: tenant.slug,
      template: 'verify-email',
      to: email,
      userId: user.id,
      variables: { name: user.name ?? user.username, link: `${rt.issuer(tenant.slug)}/email/verify?token=${token}`, expiresInMinutes: String(CONFIRM_TTL_SECONDS / 60) },
    },
  });
  return true;
}

/** `name@example.com` as `n***@example.com`: enough for the owner to recognise, little for anyone else. */
function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 1 ? '***' : `${[...email.slice(0, at)][0]}***${email.slice(at)}`;
}

/**
 * Tells the former address that the account's address changed (template `email-changed`:
 * `name`, `newEmail` masked), so that an owner whose session was taken over hears of it where
 * the intruder cannot read. Only a verified former address is told: an unproven one may belong
 * to somebody else.
 */
export async function requestEmailChangedNotice(tx: Queryable, rt: AuthRuntime, tenant: Tenant, before: User, newEmail: string): Promise<boolean> {
  if (!before.email || !before.emailVerified || before.email.toLowerCase() === newEmail.toLowerCase()) return false;
  await rt.events.emit(tx, {
    type: AUTH_EVENTS.mailRequested,
    data: {
      tenant: tenant.slug,
      template: 'email-changed',
      to: before.email,
      userId: before.id,
      variables: { name: before.name ?? before.username, newEmail: maskEmail(newEmail) },
    },
  });
  return true;
}
