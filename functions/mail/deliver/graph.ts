// Microsoft Graph as a transport: a client-credentials token from the tenant's Entra app (cached
// until shortly before it expires), then `POST /users/{id}/sendMail`, in the JSON message form, or
// the MIME form when the message carries headers Graph's JSON form cannot (it takes only `X-`
// headers in internetMessageHeaders; List-Unsubscribe needs MIME).
// @see https://learn.microsoft.com/en-us/graph/api/user-sendmail
// @see https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 (client credentials grant)
import type Mail from 'nodemailer/lib/mailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { GraphTransportConfig } from '../core/transports.js';
import type { MailTransport, SendOutcome } from './transport.js';

/** Token lifetime kept in reserve, so a token does not expire between the check and the call. */
const EXPIRY_SKEW_MS = 60_000;
const TIMEOUT_MS = 30_000;

interface GraphOptions {
  config: GraphTransportConfig;
  /** The clock (tests move it); default Date.now. */
  now?: () => number;
}

/** compose.ts gives every address as `{name, address}`; a bare string is taken as the address. */
interface Address {
  name: string;
  address: string;
}
const recipient = (a: Address) => ({ emailAddress: { address: a.address, ...(a.name ? { name: a.name } : {}) } });
const list = (v: Mail.Options['to']): Address[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'string' ? { name: '', address: x } : { name: String((x as Address).name ?? ''), address: String((x as Address).address) }));
const headerPairs = (h: Mail.Options['headers']): [string, string][] => Object.entries((h ?? {}) as Record<string, string>).map(([k, v]) => [k, String(v)]);

/** Graph's JSON form takes only custom headers named `X-…` (internetMessageHeaders). */
const needsMime = (m: Mail.Options) => headerPairs(m.headers).some(([k]) => !/^x-/i.test(k));

/** The sendMail JSON body: the HTML part when there is one, else the text part. */
function graphMessage(m: Mail.Options): Record<string, unknown> {
  const html = typeof m.html === 'string' ? m.html : undefined;
  const attachments = (m.attachments ?? []).map((a) => ({
    '@odata.type': '#microsoft.graph.fileAttachment',
    name: a.filename,
    contentType: a.contentType ?? 'application/octet-stream',
    contentBytes: String(a.content),
  }));
  const headers = headerPairs(m.headers);
  return {
    message: {
      subject: m.subject ?? '',
      body: html !== undefined ? { contentType: 'HTML', content: html } : { contentType: 'Text', content: typeof m.text === 'string' ? m.text : '' },
      from: recipient(list(m.from as Mail.Options['to'])[0]!),
      toRecipients: list(m.to).map(recipient),
      ccRecipients: list(m.cc).map(recipient),
      bccRecipients: list(m.bcc).map(recipient),
      ...(m.replyTo ? { replyTo: list(m.replyTo).map(recipient) } : {}),
      ...(headers.length > 0 ? { internetMessageHeaders: headers.map(([name, value]) => ({ name, value })) } : {}),
      ...(attachments.length > 0 ? { attachments } : {}),
    },
    saveToSentItems: false,
  };
}

/** The MIME form: the RFC 5322 message, Bcc kept (Graph takes recipients from the headers), base64. */
async function mimeBody(m: Mail.Options): Promise<string> {
  const node = new MailComposer(m).compile();
  node.keepBcc = true;
  const raw = await new Promise<Buffer>((resolve, reject) => node.build((err, out) => (err ? reject(err) : resolve(out))));
  return raw.toString('base64');
}

/** Retry-After in delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function retryAfterMs(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Graph's error body `{error: {code, message}}` (or the token endpoint's `{error, error_description}`), shortened. */
async function reasonOf(res: Response, where: string): Promise<string> {
  const text = await res.text().catch(() => '');
  let detail = text;
  try {
    const j = JSON.parse(text) as { error?: { code?: string; message?: string } | string; error_description?: string };
    if (typeof j.error === 'object' && j.error) detail = `${j.error.code ?? ''}: ${j.error.message ?? ''}`;
    else if (typeof j.error === 'string') detail = `${j.error}: ${j.error_description ?? ''}`;
  } catch {
    // not JSON: keep the text
  }
  return `${where} ${res.status}: ${detail}`.slice(0, 500);
}

/** 429 and 5xx may pass (Graph throttling, outages); any other failure will not by itself. */
const temporaryStatus = (s: number) => s === 429 || s >= 500;

class TokenFailure extends Error {
  readonly outcome: SendOutcome;
  constructor(outcome: SendOutcome) {
    super(outcome.kind === 'sent' ? 'sent' : outcome.reason);
    this.outcome = outcome;
  }
}

export function createGraphTransport(opts: GraphOptions): MailTransport {
  const c = opts.config;
  const now = opts.now ?? Date.now;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: c.clientId,
      client_secret: c.clientSecret,
      // The app's application permissions (Mail.Send) on the Graph resource of that cloud.
      scope: `${new URL(c.graphUrl).origin}/.default`,
    });
    let res: Response;
    try {
      res = await fetch(c.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new TokenFailure({ kind: 'temporary', reason: `token endpoint unreachable: ${(err as Error).message}`.slice(0, 500), code: undefined });
    }
    if (!res.ok) {
      const reason = await reasonOf(res, 'token endpoint');
      // A wrong client id or secret (400 invalid_client, 401) does not heal by waiting.
      throw new TokenFailure(temporaryStatus(res.status) ? { kind: 'temporary', reason, code: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after'), now()) } : { kind: 'permanent', reason, code: res.status, refused: [] });
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    if (typeof body.access_token !== 'string' || !/^bearer$/i.test(String(body.token_type ?? 'Bearer'))) {
      throw new TokenFailure({ kind: 'temporary', reason: 'token endpoint answered without a bearer access_token', code: res.status });
    }
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    cached = { token: body.access_token, expiresAt: now() + (Number.isFinite(lifetime) ? lifetime : 3600) * 1000 - EXPIRY_SKEW_MS };
    return body.access_token;
  }

  /** One token request at a time; the others wait for it. */
  function token(): Promise<string> {
    if (cached && cached.expiresAt > now()) return Promise.resolve(cached.token);
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    async send(message) {
      let bearer: string;
      try {
        bearer = await token();
      } catch (err) {
        if (err instanceof TokenFailure) return err.outcome;
        throw err;
      }
      const mime = needsMime(message);
      const url = `${c.graphUrl}/users/${encodeURIComponent(c.sender)}/sendMail`;
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': mime ? 'text/plain' : 'application/json' },
          body: mime ? await mimeBody(message) : JSON.stringify(graphMessage(message)),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
      } catch (err) {
        return { kind: 'temporary', reason: `Graph unreachable: ${(err as Error).message}`.slice(0, 500), code: undefined };
      }
      // 202 Accepted: Graph took the message; it reports no per-recipient outcome.
      if (res.status === 202) {
        await res.body?.cancel();
        const rid = res.headers.get('request-id');
        return { kind: 'sent', response: `202 Accepted${rid ? ` request-id ${rid}` : ''}${mime ? ' (MIME)' : ''}`, accepted: [...list(message.to), ...list(message.cc), ...list(message.bcc)].map((a) => a.address), refused: [] };
      }
      const reason = await reasonOf(res, 'Graph sendMail');
      // A token Graph no longer takes is dropped, so the next attempt asks for a new one.
      if (res.status === 401) cached = undefined;
      if (temporaryStatus(res.status)) return { kind: 'temporary', reason, code: res.status, retryAfterMs: retryAfterMs(res.headers.get('retry-after'), now()) };
      return { kind: 'permanent', reason, code: res.status, refused: [] };
    },
    close() {
      cached = undefined;
    },
  };
}
