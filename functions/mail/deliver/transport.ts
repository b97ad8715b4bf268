// SMTP through nodemailer's pooled transport, with every outcome sorted into sent, temporary
// (retry later) or permanent (give up now).
// @see https://www.rfc-editor.org/rfc/rfc5321#section-4.2.1 (reply codes: 4yz transient, 5yz permanent)
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import type { SmtpTransportConfig } from '../core/transports.js';

/** One refused recipient with the server's reply. */
export interface Refusal {
  address: string;
  code: number | undefined;
  response: string;
}

export type SendOutcome =
  | { kind: 'sent'; response: string; accepted: string[]; refused: Refusal[] }
  | { kind: 'temporary'; reason: string; code: number | undefined; retryAfterMs?: number | undefined }
  | { kind: 'permanent'; reason: string; code: number | undefined; refused: Refusal[] };

export interface MailTransport {
  send(message: Mail.Options): Promise<SendOutcome>;
  close(): void;
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejected?: string[];
  rejectedErrors?: SmtpError[];
}

/** Network failures: the server may be back later. */
const NETWORK = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EAUTH', 'ETLS', 'EPROTOCOL']);

/** Failures of the connection's setup (login, TLS) whatever the server's reply code. */
const RELAY_SETUP = new Set(['EAUTH', 'ENOAUTH', 'ETLS']);
const refusals = (errs: SmtpError[] | undefined): Refusal[] =>
  (errs ?? []).map((e) => ({ address: (e as { recipient?: string }).recipient ?? '', code: e.responseCode, response: e.response ?? e.message }));

/** Sorts a nodemailer failure: 4yz and network errors are temporary, 5yz permanent. */
function classifyFailure(err: unknown): SendOutcome {
  const e = err as SmtpError;
  const code = typeof e?.responseCode === 'number' ? e.responseCode : undefined;
  const reason = (e?.response ?? e?.message ?? String(err)).slice(0, 500);
  // A login or TLS failure concerns the relay's settings, not the message: it waits for the fix.
  if (e?.code && RELAY_SETUP.has(e.code)) return { kind: 'temporary', reason, code };
  if (code !== undefined && code >= 400 && code < 500) return { kind: 'temporary', reason, code };
  if (code !== undefined && code >= 500) return { kind: 'permanent', reason, code, refused: refusals(e.rejectedErrors) };
  if (e?.code && NETWORK.has(e.code)) return { kind: 'temporary', reason, code };
  return { kind: 'permanent', reason, code, refused: [] };
}

interface SmtpOptions {
  /** `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  url?: string | undefined;
  /** A tenant's relay instead of `url`. */
  relay?: SmtpTransportConfig | undefined;
  maxConnections: number;
  /** Signs every message (RFC 6376), e.g. with the tenant's key. */
  dkim?: { domainName: string; keySelector: string; privateKey: string } | undefined;
}

/** nodemailer's connection options for a tenant's relay (its TLS mode and credentials). */
function relayOptions(r: SmtpTransportConfig): SMTPPool.Options {
  return {
    host: r.host,
    port: r.port,
    // tls: TLS from the first byte (RFC 8314 §3.3); starttls: refuse a server that offers none (RFC 3207).
    secure: r.security === 'tls',
    requireTLS: r.security === 'starttls',
    ...(r.user !== undefined ? { auth: { user: r.user, pass: r.password ?? '' } } : {}),
  };
}

/** A pooled SMTP transport: connections are kept and reused across messages. */
export function createSmtpTransport(opts: SmtpOptions): MailTransport {
  const options: SMTPPool.Options = {
    pool: true,
    ...(opts.url !== undefined ? { url: opts.url } : {}),
    ...(opts.relay ? relayOptions(opts.relay) : {}),
    maxConnections: opts.maxConnections,
    maxMessages: 1000,
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
    ...(opts.dkim ? { dkim: opts.dkim } : {}),
  };
  const transporter = nodemailer.createTransport(options);
  return {
    async send(message) {
      try {
        const info = (await transporter.sendMail(message)) as SMTPPool.SentMessageInfo;
        return { kind: 'sent', response: info.response, accepted: info.accepted.map(String), refused: refusals(info.rejectedErrors as SmtpError[] | undefined) };
      } catch (err) {
        return classifyFailure(err);
      }
    },
    close: () => transporter.close(),
  };
}
