// A Microsoft Graph peer for tests, over real HTTP (node:http): an Entra token endpoint for the
// client-credentials grant and `POST /v1.0/users/{id}/sendMail`, checking the request as Graph
// does (bearer token, the JSON message schema, or the MIME form as base64 that mailparser reads)
// and answering as scripted: 202, 429 with Retry-After, 4xx with Graph's error body.
// @see https://learn.microsoft.com/en-us/graph/api/user-sendmail
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { z } from 'zod';

const emailAddress = z.strictObject({ emailAddress: z.strictObject({ address: z.email(), name: z.string().optional() }) });
/** The sendMail JSON body (the parts of microsoft.graph.message a sender sets). */
const sendMailJson = z.strictObject({
  message: z.strictObject({
    subject: z.string(),
    body: z.strictObject({ contentType: z.enum(['Text', 'HTML']), content: z.string() }),
    from: emailAddress.optional(),
    toRecipients: z.array(emailAddress),
    ccRecipients: z.array(emailAddress).optional(),
    bccRecipients: z.array(emailAddress).optional(),
    replyTo: z.array(emailAddress).optional(),
    internetMessageHeaders: z.array(z.strictObject({ name: z.string().regex(/^x-/i, 'Graph takes only X- headers here'), value: z.string() })).max(5).optional(),
    attachments: z.array(z.strictObject({ '@odata.type': z.literal('#microsoft.graph.fileAttachment'), name: z.string(), contentType: z.string(), contentBytes: z.base64() })).optional(),
  }),
  saveToSentItems: z.boolean().optional(),
});

export interface GraphSend {
  user: string;
  form: 'json' | 'mime';
  json?: z.infer<typeof sendMailJson>;
  parsed?: ParsedMail;
}

/** A scripted answer to the next sendMail: status, Retry-After, Graph error code. */
interface Answer {
  status: number;
  retryAfter?: string;
  code?: string;
}

export interface GraphPeer {
  /** http://127.0.0.1:port: the token URL is `${base}/tenant/oauth2/v2.0/token`, Graph `${base}/v1.0`. */
  base: string;
  clientId: string;
  clientSecret: string;
  /** Token requests answered so far. */
  tokens: number;
  /** Lifetime of the tokens it issues, in seconds. */
  expiresIn: number;
  /** Accepted (202) sendMail requests, in order. */
  sent: GraphSend[];
  /** Every sendMail request's outcome, in order (status and the refusal, if any). */
  log: { status: number; reason?: string }[];
  /** Answers for the next sendMail requests, taken in order; 202 when empty. */
  script: Answer[];
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

const graphError = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
};

export async function startGraphPeer(): Promise<GraphPeer> {
  const issued = new Set<string>();
  const peer: GraphPeer = {
    base: '',
    clientId: '0e6c1b0a-5f3c-4d1e-9a7b-2c4d6e8f0a1b',
    clientSecret: randomBytes(16).toString('base64url'),
    tokens: 0,
    expiresIn: 3600,
    sent: [],
    log: [],
    script: [],
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };

  async function token(req: IncomingMessage, res: ServerResponse) {
    const form = new URLSearchParams((await readBody(req)).toString());
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded' || form.get('grant_type') !== 'client_credentials' || form.get('scope') !== `${peer.base}/.default`) {
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: 'invalid_request', error_description: 'AADSTS900144: the request is not a client credentials request for this resource' }));
    }
    if (form.get('client_id') !== peer.clientId || form.get('client_secret') !== peer.clientSecret) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' }));
    }
    peer.tokens++;
    const t = randomBytes(24).toString('base64url');
    issued.add(t);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify({ token_type: 'Bearer', expires_in: peer.expiresIn, access_token: t }));
  }

  async function sendMail(user: string, req: IncomingMessage, res: ServerResponse) {
    const refuse = (status: number, code: string, message: string, headers?: Record<string, string>) => {
      peer.log.push({ status, reason: `${code}: ${message}` });
      graphError(res, status, code, message, headers);
    };
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const body = await readBody(req);
    if (!auth || !issued.has(auth[1]!)) return refuse(401, 'InvalidAuthenticationToken', 'Access token is empty or invalid.');
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    let send: GraphSend;
    if (type === 'application/json') {
      const r = sendMailJson.safeParse(JSON.parse(body.toString('utf8')));
      if (!r.success) return refuse(400, 'ErrorInvalidRequest', r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      send = { user, form: 'json', json: r.data };
    } else if (type === 'text/plain') {
      const text = body.toString('ascii').replace(/\s+/g, '');
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return refuse(400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
      send = { user, form: 'mime', parsed: await simpleParser(Buffer.from(text, 'base64')) };
      if (!send.parsed!.subject || !send.parsed!.from) return refuse(400, 'ErrorMimeContentInvalid', 'The MIME content is not a message.');
    } else {
      return refuse(415, 'UnsupportedMediaType', `Content-Type ${type} is not supported.`);
    }
    const answer = peer.script.shift() ?? { status: 202 };
    if (answer.status !== 202) return refuse(answer.status, answer.code ?? 'ErrorInternalServerError', 'Scripted refusal.', answer.retryAfter ? { 'retry-after': answer.retryAfter } : {});
    peer.sent.push(send);
    peer.log.push({ status: 202 });
    res.writeHead(202, { 'request-id': randomBytes(8).toString('hex') });
    res.end();
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const mail = /^\/v1\.0\/users\/([^/]+)\/sendMail$/.exec(path);
    const handle =
      req.method === 'POST' && path === '/tenant/oauth2/v2.0/token' ? token(req, res) : req.method === 'POST' && mail ? sendMail(decodeURIComponent(mail[1]!), req, res) : Promise.resolve(graphError(res, 404, 'NotFound', 'No such route.'));
    handle.catch((err: Error) => graphError(res, 500, 'InternalServerError', err.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  peer.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return peer;
}
