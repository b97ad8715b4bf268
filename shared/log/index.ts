// One JSON line per log record, with secrets redacted by key name before anything is written.
type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys whose values never reach a log line. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|private|shard|credential|^key$|^keys$/i;

/**
 * The verdict of SECRET_KEY per key name: the same few names come back on every record (the
 * access log line has six). Bounded, since a logged object may bring names of its own.
 */
const secretKeyVerdicts = new Map<string, boolean>();

function isSecretKey(key: string): boolean {
  let secret = secretKeyVerdicts.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (secretKeyVerdicts.size < 1024) secretKeyVerdicts.set(key, secret);
  }
  return secret;
}

/** Copies the fields of `from` into `out`, secret-looking keys replaced by "[redacted]". */
function redactInto(out: Record<string, unknown>, from: object, depth: number): Record<string, unknown> {
  for (const k of Object.keys(from)) {
    const v = (from as Record<string, unknown>)[k];
    out[k] = isSecretKey(k) ? '[redacted]' : v === null || typeof v !== 'object' ? v : redact(v, depth + 1);
  }
  return out;
}

/** Returns a copy of `value` with every secret-looking key replaced by "[redacted]". */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return serializeError(value, depth);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return redactInto({}, value, depth);
}

function serializeError(err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack) out.stack = err.stack.split('\n').slice(0, 8).join('\n');
  if (err.cause !== undefined) out.cause = redact(err.cause, depth + 1);
  return out;
}

type LogSink = (line: string) => void;

let isoMs = NaN;
let isoText = '';

/** The current time in ISO 8601, formatted once per millisecond however many records share it. */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** Creates a logger writing JSON lines to `sink` (stdout by default). */
export function createLogger(
  opts: { level?: LogLevel; base?: LogFields; sink?: LogSink } = {},
): Logger {
  const min = order[opts.level ?? 'info'];
  const base = opts.base ?? {};
  const sink = opts.sink ?? ((line: string) => process.stdout.write(line + '\n'));
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (order[level] < min) return;
    // Built in place, in the order (and with the precedence) of { time, level, msg, ...base, ...fields }.
    const record: Record<string, unknown> = { time: isoNow(), level, msg };
    for (const k of Object.keys(base)) record[k] = base[k];
    if (fields) {
      if (fields instanceof Error || Array.isArray(fields)) Object.assign(record, redact(fields));
      else redactInto(record, fields, 0);
    }
    sink(JSON.stringify(record));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger({ level: opts.level ?? 'info', base: { ...base, ...fields }, sink }),
  };
}

/** A logger that drops everything (tests that do not assert on logs). */
export const silentLogger: Logger = createLogger({ sink: () => {} , level: 'error' });
