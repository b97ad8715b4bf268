// A stored message as nodemailer composes it: MIME parts, attachments, headers, a stable Message-ID.
import type Mail from 'nodemailer/lib/mailer';
import type { Mailbox } from '../core/address.js';
import { domainOf } from '../core/address.js';
import type { MessageContent } from '../core/content.js';
import type { DkimKey } from './dkim.js';

const mailbox = (m: Mailbox): Mail.Address => ({ name: m.name ?? '', address: m.address });

/**
 * The message to hand the transport, without the recipients in `drop` (suppressed). The
 * Message-ID is derived from the message id, so a retry sends the same one (RFC 5322 §3.6.4)
 * and a receiver can tell a resend after a lost acknowledgement.
 */
export function composeMessage(id: string, c: MessageContent, drop: ReadonlySet<string>, dkim?: DkimKey): Mail.Options {
  const keep = (list: Mailbox[]) => list.filter((m) => !drop.has(m.address)).map(mailbox);
  return {
    messageId: `<${id}@${domainOf(c.from.address)}>`,
    from: mailbox(c.from),
    to: keep(c.to),
    cc: keep(c.cc),
    bcc: keep(c.bcc),
    ...(c.replyTo ? { replyTo: mailbox(c.replyTo) } : {}),
    subject: c.subject,
    ...(c.text !== undefined ? { text: c.text } : {}),
    ...(c.html !== undefined ? { html: c.html } : {}),
    headers: c.headers,
    attachments: c.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, encoding: 'base64' })),
    // Content comes from the stored message only: never from a path or URL it might name.
    disableFileAccess: true,
    disableUrlAccess: true,
    ...(dkim ? { dkim } : {}),
  };
}
