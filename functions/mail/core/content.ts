// What a message holds, sealed as one JSON document under the message key.
import type { Mailbox } from './address.js';

export interface Attachment {
  filename: string;
  contentType: string;
  /** Base64 of the bytes. */
  content: string;
}

/** The content of a message: envelope, headers and parts, all personal data. */
export interface MessageContent {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo?: Mailbox;
  subject: string;
  text?: string;
  html?: string;
  headers: Record<string, string>;
  attachments: Attachment[];
  template?: { name: string; locale: string; version: number; variables: Record<string, string> };
}

/** Message states; `sent`, `bounced`, `failed` and `cancelled` are final. */
export const MESSAGE_STATUS = ['queued', 'sending', 'deferred', 'sent', 'bounced', 'failed', 'cancelled'] as const;
export type MessageStatus = (typeof MESSAGE_STATUS)[number];

/** Every address the message goes to. */
export const recipientsOf = (c: MessageContent): string[] => [...c.to, ...c.cc, ...c.bcc].map((m) => m.address);
