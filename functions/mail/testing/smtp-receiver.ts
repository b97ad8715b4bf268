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
  close(): Promise<void>;
}

/** An SMTP error reply with `code`. */
export function smtpReply(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

export async function startSmtpReceiver(port = 0): Promise<SmtpReceiver> {
  let dataCount = 0;
  const state: SmtpReceiver = {
    port: 0,
    url: '',
    received: [],
    connections: 0,
    script: {},
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
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
