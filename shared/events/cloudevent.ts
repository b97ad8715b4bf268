// CloudEvents v1.0 over HTTP: parse binary and structured mode requests, encode binary mode.
// Written against the spec; the `cloudevents` npm SDK is the peer the tests use.
// @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
// @see https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
import { AppError } from '#shared/http/errors';
import { isWellFormedText, unsafeJsonText } from './json-text.js';

/** A CloudEvent as it travels: context attributes as strings, data as raw bytes. */
export interface WireEvent {
  /** Every context attribute (required, optional and extensions), in canonical string form. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The event data as sent (`datacontenttype` says how to read it); absent when there is none. */
  readonly data: Uint8Array | undefined;
}

/** The four attributes every event MUST carry (spec §3.1 "Required Attributes"). */
const REQUIRED_ATTRIBUTES = ['id', 'source', 'specversion', 'type'] as const;

/**
 * "CloudEvents attribute names MUST consist of lower-case letters ('a' to 'z') or digits
 * ('0' to '9') from the ASCII character set" (spec §3.1.1); we also bound the length.
 */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,40}$/;
/** RFC 3339 date-time, as `time` requires. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const MAX_ATTRIBUTE_LENGTH = 4096;
/**
 * UTF-8 bytes allowed for the attributes that are keys. The spec sets no size (it only asks
 * producers to keep an event under 64 KiB, §"Size Limits"), but (source, id) is unique in every
 * inbox and (broker, source, id) in the broker's events: a PostgreSQL btree entry must stay under
 * about 2.7 KB, so a longer key is refused here with a 400 rather than by the index with a 500.
 */
const MAX_KEY_ATTRIBUTE_BYTES: Readonly<Record<string, number>> = { id: 256, source: 1024, type: 256 };

const invalid = (detail: string) => new AppError(400, 'invalid_cloudevent', 'Bad Request', { detail });

const STRUCTURED_TYPE = 'application/cloudevents+json';
const BATCH_TYPE = 'application/cloudevents-batch+json';

/** Strict UTF-8 (invalid bytes throw); decode() without streaming keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON.parse behind the depth and surrogate check of `unsafeJsonText`: what passes it can be
 * stringified, schema-checked and stored without a stack overflow or an encoding error.
 */
function parseJsonText(text: string): unknown {
  const unsafe = unsafeJsonText(text);
  if (unsafe) throw new AppError(400, 'malformed_json', 'Bad Request', { detail: `The JSON is not accepted: ${unsafe}.` });
  return JSON.parse(text);
}

/** The media type of a Content-Type header value, lower-cased, without parameters. */
function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/** True for `application/json`, any `+json` suffix and `text/json`. */
function isJsonType(contentType: string | undefined): boolean {
  const t = mediaType(contentType);
  return t === 'application/json' || t === 'text/json' || t.endsWith('+json');
}

/** Checks the required attributes and the typed optional ones; throws `invalid_cloudevent`. */
function checkAttributes(attributes: Record<string, string>): void {
  for (const name of REQUIRED_ATTRIBUTES) {
    // "MUST be a non-empty string" for id, source (URI-reference) and type (spec §3.1).
    if (!attributes[name]) throw invalid(`The required attribute "${name}" is missing or empty.`);
  }
  // Consumers MUST reject specversions they do not know; 1.0 is the only one we implement.
  if (attributes.specversion !== '1.0') {
    throw invalid(`specversion "${attributes.specversion}" is not supported; use "1.0".`);
  }
  for (const [name, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_NAME.test(name)) throw invalid(`"${name}" is not a valid CloudEvents attribute name.`);
    if (value.length > MAX_ATTRIBUTE_LENGTH) throw invalid(`The attribute "${name}" is longer than ${MAX_ATTRIBUTE_LENGTH} characters.`);
    const maxBytes = MAX_KEY_ATTRIBUTE_BYTES[name];
    if (maxBytes !== undefined && Buffer.byteLength(value, 'utf8') > maxBytes) {
      throw invalid(`The attribute "${name}" is longer than ${maxBytes} bytes (UTF-8).`);
    }
    // "Strings ... MUST be a sequence of Unicode characters" (spec §3.1.1 type system): a lone
    // UTF-16 surrogate is none (and PostgreSQL refuses to store one).
    if (!isWellFormedText(value)) throw invalid(`The attribute "${name}" contains an unpaired UTF-16 surrogate.`);
    if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(`The attribute "${name}" contains control characters.`);
  }
  if (attributes.time !== undefined && !(RFC3339.test(attributes.time) && !Number.isNaN(Date.parse(attributes.time)))) {
    throw invalid('The attribute "time" is not an RFC 3339 timestamp.');
  }
  if (attributes.source !== undefined && /\s/.test(attributes.source)) {
    throw invalid('The attribute "source" is not a URI-reference.');
  }
  if (attributes.dataschema !== undefined && !URL.canParse(attributes.dataschema)) {
    throw invalid('The attribute "dataschema" is not an absolute URI.');
  }
}

/**
 * Decodes a binary-mode header value: "the receiver MUST percent-decode" it
 * (HTTP binding §3.1.3.2). A malformed escape is a 400.
 */
function percentDecode(value: string, name: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalid(`The header ce-${name} has a malformed percent-encoding.`);
  }
}

/** Printable ASCII other than space, double-quote and percent. */
const NOTHING_TO_ENCODE = /^[\x21\x23\x24\x26-\x7e]*$/;

/**
 * Encodes a binary-mode header value: characters outside printable ASCII, space,
 * double-quote and percent MUST be percent-encoded (HTTP binding §3.1.3.2).
 */
export function percentEncode(value: string): string {
  // Most values (ids, types, sources, times) have nothing to encode.
  if (NOTHING_TO_ENCODE.test(value)) return value;
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (code > 0x20 && code < 0x7f && ch !== '"' && ch !== '%') out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Reads binary mode: attributes from `ce-*` headers, the body is the data (HTTP binding §3.1). */
function fromBinary(headers: Headers, body: Uint8Array): WireEvent {
  const attributes: Record<string, string> = {};
  headers.forEach((value, key) => {
    if (!key.startsWith('ce-')) return;
    const name = key.slice(3);
    attributes[name] = percentDecode(value, name);
  });
  if (Object.keys(attributes).length === 0) {
    throw new AppError(415, 'unsupported_media_type', 'Unsupported Media Type', {
      detail: `Send a CloudEvent in binary mode (ce-* headers) or structured mode (${STRUCTURED_TYPE}).`,
    });
  }
  // "datacontenttype ... MUST be mapped to the HTTP Content-Type header" (§3.1.1).
  const contentType = headers.get('content-type');
  if (contentType) attributes.datacontenttype = contentType;
  else delete attributes.datacontenttype;
  checkAttributes(attributes);
  return { attributes, data: body.byteLength > 0 ? body : undefined };
}

/** Canonical string form of an attribute value from JSON (spec §3.1.1 type system). */
function attributeString(name: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  throw invalid(`The attribute "${name}" has a type CloudEvents does not allow.`);
}

/** Reads structured mode: one JSON object holding attributes and `data`/`data_base64` (JSON format §3). */
function fromStructured(body: Uint8Array): WireEvent {
  let doc: unknown;
  try {
    doc = parseJsonText(UTF8.decode(body));
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(400, 'malformed_json', 'Bad Request', {
      detail: `The structured CloudEvent is not valid JSON: ${(err as Error).message}`,
    });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalid('A structured CloudEvent must be a JSON object.');
  }
  const attributes: Record<string, string> = {};
  let data: Uint8Array | undefined;
  const record = doc as Record<string, unknown>;
  if ('data' in record && 'data_base64' in record) throw invalid('"data" and "data_base64" are mutually exclusive.');
  for (const [name, value] of Object.entries(record)) {
    if (name === 'data' || name === 'data_base64' || value === null) continue;
    attributes[name] = attributeString(name, value);
  }
  if (typeof record.data_base64 === 'string') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(record.data_base64)) throw invalid('"data_base64" is not base64.');
    data = new Uint8Array(Buffer.from(record.data_base64, 'base64'));
  } else if (record.data_base64 !== undefined && record.data_base64 !== null) {
    throw invalid('"data_base64" must be a string.');
  } else if (record.data !== undefined && record.data !== null) {
    // JSON format §3.1: with a JSON datacontenttype (or none), `data` is the JSON value itself;
    // otherwise it is a string holding the data.
    const ct = attributes.datacontenttype;
    if (ct === undefined || isJsonType(ct)) {
      data = new TextEncoder().encode(JSON.stringify(record.data));
      attributes.datacontenttype ??= 'application/json';
    } else if (typeof record.data === 'string') {
      data = new TextEncoder().encode(record.data);
    } else {
      throw invalid(`"data" must be a string when datacontenttype is ${ct}.`);
    }
  }
  checkAttributes(attributes);
  return { attributes, data };
}

/**
 * Parses an HTTP request carrying one CloudEvent. Structured mode is recognised by its media
 * type; everything else is binary mode. Batch mode is refused with 415 (Knative senders
 * deliver one event per request).
 */
export function parseCloudEvent(headers: Headers, body: Uint8Array): WireEvent {
  const type = mediaType(headers.get('content-type'));
  if (type === BATCH_TYPE) {
    throw new AppError(415, 'unsupported_media_type', 'Unsupported Media Type', {
      detail: 'Batched CloudEvents are not accepted; send one event per request.',
    });
  }
  if (type === STRUCTURED_TYPE) return fromStructured(body);
  if (type.startsWith('application/cloudevents')) {
    throw new AppError(415, 'unsupported_media_type', 'Unsupported Media Type', {
      detail: `Only the JSON event format (${STRUCTURED_TYPE}) is supported in structured mode.`,
    });
  }
  return fromBinary(headers, body);
}

/** Encodes an event in binary mode: `ce-*` headers plus the data as the body (HTTP binding §3.1). */
export function toBinaryHeaders(event: WireEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.attributes)) {
    if (name === 'datacontenttype') headers['content-type'] = value;
    else headers[`ce-${name}`] = percentEncode(value);
  }
  return headers;
}


/** Reads the data as JSON; a body that is not JSON is a 400 (the event is unparsable, not retried). */
export function jsonData(event: WireEvent): unknown {
  if (event.data === undefined) return undefined;
  const ct = event.attributes.datacontenttype;
  if (ct !== undefined && !isJsonType(ct)) {
    throw new AppError(415, 'unsupported_media_type', 'Unsupported Media Type', {
      detail: `Event data must be JSON; got ${mediaType(ct)}.`,
    });
  }
  try {
    return parseJsonText(UTF8.decode(event.data));
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError(400, 'malformed_json', 'Bad Request', {
      detail: `The event data is not valid JSON: ${(err as Error).message}`,
    });
  }
}

/** Builds a wire event from a JSON payload (producers: the relay, the ping source). */
export function jsonEvent(attributes: Record<string, string>, data: unknown): WireEvent {
  return {
    attributes: { specversion: '1.0', datacontenttype: 'application/json', ...attributes },
    data: data === undefined ? undefined : new TextEncoder().encode(JSON.stringify(data)),
  };
}
