// A real SMTP receiver for tests (smtp-server from npm), parsing what it gets with mailparser.
// Its `script` decides each reply, so tests make it fail temporarily or reject permanently.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface Received {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
}

/** A scripted reply: undefined accepts; an Error with `responseCode` refuses with that code. */
export interface ReceiverScript {
  rcpt?(address: string): Error | undefined;
  data?(count: number): Error | undefined;
}

export interface SmtpReceiver {
  port: number;
  url: string;
  received: Received[];
  /** Sessions opened so far (pooled senders reuse them). */
  connections: number;
  script: ReceiverScript;
  /** Users who logged in (AUTH PLAIN or LOGIN), one entry per session. */
  logins: string[];
  /** Transactions in their DATA phase now, and at most so far, per recipient domain. */
  inFlight: Map<string, number>;
  maxInFlight: Map<string, number>;
  /** While set, every DATA reply waits for it: tests hold transactions open to count them. */
  gate: Promise<void> | undefined;
  close(): Promise<void>;
}

interface ReceiverOptions {
  /** Require AUTH with these credentials (over plain TCP: the test peer offers no TLS). */
  auth?: { user: string; pass: string };
}

/** An SMTP error reply with `code`. */
export function smtpReply(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

export async function startSmtpReceiver(port = 0, opts: ReceiverOptions = {}): Promise<SmtpReceiver> {
  let dataCount = 0;
  const state: SmtpReceiver = {
    port: 0,
    url: '',
    received: [],
    connections: 0,
    script: {},
    logins: [],
    inFlight: new Map(),
    maxInFlight: new Map(),
    gate: undefined,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = new SMTPServer({
    authOptional: opts.auth === undefined,
    disabledCommands: opts.auth === undefined ? ['STARTTLS', 'AUTH'] : ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, cb) {
      const ok = opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass;
      if (!ok) return cb(smtpReply(535, '5.7.8 Authentication credentials invalid'));
      state.logins.push(auth.username ?? '');
      cb(null, { user: auth.username });
    },
    logger: false,
    size: 20 * 1024 * 1024,
    // Close ends open (pooled) sessions at once instead of waiting for the client to quit.
    closeTimeout: 100,
    onConnect(_session, cb) {
      state.connections++;
      cb();
    },
    onRcptTo(address, _session, cb) {
      cb(state.script.rcpt?.(address.address) ?? undefined);
    },
    onData(stream, session, cb) {
      const domains = [...new Set(session.envelope.rcptTo.map((r) => r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase()))];
      for (const d of domains) {
        const n = (state.inFlight.get(d) ?? 0) + 1;
        state.inFlight.set(d, n);
        state.maxInFlight.set(d, Math.max(n, state.maxInFlight.get(d) ?? 0));
      }
      const reply = cb;
      cb = (err?: Error | null) => {
        void (state.gate ?? Promise.resolve()).then(() => {
          for (const d of domains) state.inFlight.set(d, state.inFlight.get(d)! - 1);
          reply(err ?? null);
        });
      };
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const refusal = state.script.data?.(++dataCount);
        if (refusal) return cb(refusal);
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            state.received.push({ envelope: { from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) }, raw, parsed });
            cb(null);
          },
          (err: Error) => cb(err),
        );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  state.port = (server.server.address() as AddressInfo).port;
  state.url = `smtp://127.0.0.1:${state.port}`;
  return state;
}
