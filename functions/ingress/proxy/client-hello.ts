// Reads the server name (SNI) of a TLS ClientHello from the first bytes of a connection, without
// terminating TLS, for passthrough routing. Every length is checked against what is left before it
// is read; a hello larger than the bound, or malformed anywhere, is refused, never guessed at.
//
// Byte layout (RFC 8446 §5.1, §4.1.2; RFC 5246 §6.2.1, §7.4.1.2; RFC 6066 §3):
//   record:      type(1)=22 handshake | legacy_version(2)=0x03xx | length(2) ≤ 2^14 | fragment
//   handshake:   msg_type(1)=1 client_hello | length(3) | body        (may span several records)
//   body:        legacy_version(2) | random(32) | session_id<0..32> (1-byte length)
//                | cipher_suites<2..2^16-2> (2-byte length, even) | compression_methods<1..2^8-1>
//                | extensions<0..2^16-1> (2-byte length; absent in a hello without extensions)
//   extension:   type(2) | length(2) | data; server_name is type 0:
//                server_name_list length(2) | name_type(1)=0 host_name | length(2) | name
// @see https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
// @see https://www.rfc-editor.org/rfc/rfc6066#section-3

/** Why a ClientHello was refused; stable codes for logs and tests. */
export type HelloErrorCode = 'not_tls' | 'not_client_hello' | 'too_large' | 'malformed' | 'bad_server_name';

type HelloResult =
  | { state: 'incomplete' }
  | { state: 'done'; serverName: string | undefined }
  | { state: 'refused'; code: HelloErrorCode };

const RECORD_HEADER = 5;
/** "The length MUST NOT exceed 2^14" (RFC 8446 §5.1). */
const MAX_RECORD = 16_384;
/**
 * Records a hello may span. Clients send it in one record (up to 16 KiB); more, in tiny records,
 * would only make every read parse again what came before.
 */
const MAX_RECORDS = 8;
const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const SERVER_NAME = 0;
const HOST_NAME = 0;

/** A DNS hostname as SNI carries it: "Literal IPv4 and IPv6 addresses are not permitted in HostName" (RFC 6066 §3). */
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^[0-9.]+$/;

const refused = (code: HelloErrorCode): HelloResult => ({ state: 'refused', code });

/**
 * Parses the ClientHello at the start of `data` (the bytes received so far). `maxHelloBytes`
 * bounds the handshake message: a client announcing more is refused at once, before its bytes
 * arrive. Incomplete until the whole handshake message is there.
 */
export function parseClientHello(data: Buffer, maxHelloBytes: number): HelloResult {
  if (data.length === 0) return { state: 'incomplete' };
  // An SSL 2.0-style hello (first bit set) or anything that is not a handshake record.
  if (data[0] !== HANDSHAKE) return refused('not_tls');
  // Gather the handshake message from as many handshake records as it spans; the records of a
  // client's first flight carry the ClientHello alone, so they must end where it ends.
  const message: Buffer[] = [];
  let gathered = 0;
  let declared = 0;
  let need = -1;
  let at = 0;
  while (need < 0 || gathered < need + 4) {
    if (data.length - at < RECORD_HEADER) return progress(data, at);
    if (data[at] !== HANDSHAKE) return refused(at === 0 ? 'not_tls' : 'malformed');
    if (data[at + 1] !== 3) return refused('not_tls');
    if (message.length === MAX_RECORDS) return refused('too_large');
    const length = data.readUInt16BE(at + 3);
    if (length === 0 || length > MAX_RECORD) return refused('malformed');
    declared += length;
    const end = at + RECORD_HEADER + Math.min(length, data.length - at - RECORD_HEADER);
    message.push(data.subarray(at + RECORD_HEADER, end));
    gathered += end - at - RECORD_HEADER;
    if (need < 0 && gathered >= 4) {
      const head = message.length === 1 ? message[0]! : Buffer.concat(message);
      if (head[0] !== CLIENT_HELLO) return refused('not_client_hello');
      need = head.readUIntBE(1, 3);
      if (need > maxHelloBytes) return refused('too_large');
      if (need < 38) return refused('malformed');
    }
    if (need >= 0 && declared > need + 4) return refused('malformed');
    // A message longer than the bound is refused above; records that never tell its length are bounded too.
    if (need < 0 && declared > maxHelloBytes) return refused('too_large');
    if (end - at - RECORD_HEADER < length) return { state: 'incomplete' };
    at = end;
  }
  const whole = message.length === 1 ? message[0]! : Buffer.concat(message);
  return readBody(whole.subarray(4, 4 + need));
}

/** Incomplete while the next record header is not all here (a record header of 5 bytes). */
function progress(data: Buffer, at: number): HelloResult {
  if (data.length > at && data[at] !== HANDSHAKE) return refused(at === 0 ? 'not_tls' : 'malformed');
  if (data.length > at + 1 && data[at + 1] !== 3) return refused('not_tls');
  return { state: 'incomplete' };
}

function readBody(b: Buffer): HelloResult {
  let p = 2 + 32; // legacy_version, random
  const sessionId = b[p]!;
  if (sessionId > 32) return refused('malformed');
  p += 1 + sessionId;
  if (p + 2 > b.length) return refused('malformed');
  const suites = b.readUInt16BE(p);
  if (suites < 2 || suites % 2 !== 0) return refused('malformed');
  p += 2 + suites;
  if (p + 1 > b.length) return refused('malformed');
  const compression = b[p]!;
  if (compression < 1) return refused('malformed');
  p += 1 + compression;
  if (p > b.length) return refused('malformed');
  // A hello without extensions (TLS 1.2 and older) carries no server name.
  if (p === b.length) return { state: 'done', serverName: undefined };
  if (p + 2 > b.length) return refused('malformed');
  const extEnd = p + 2 + b.readUInt16BE(p);
  if (extEnd !== b.length) return refused('malformed');
  p += 2;
  const seen = new Set<number>();
  let serverName: string | undefined;
  while (p < extEnd) {
    if (p + 4 > extEnd) return refused('malformed');
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > extEnd) return refused('malformed');
    // "There MUST NOT be more than one extension of the same type in a given extension block" (RFC 8446 §4.2).
    if (seen.has(type)) return refused('malformed');
    seen.add(type);
    if (type === SERVER_NAME) {
      const name = readServerName(b.subarray(p, p + len));
      if (typeof name !== 'string') return name;
      serverName = name;
    }
    p += len;
  }
  return { state: 'done', serverName };
}

function readServerName(ext: Buffer): string | HelloResult {
  if (ext.length < 2 || ext.readUInt16BE(0) !== ext.length - 2) return refused('malformed');
  let p = 2;
  let host: string | undefined;
  while (p < ext.length) {
    if (p + 3 > ext.length) return refused('malformed');
    const type = ext[p]!;
    const len = ext.readUInt16BE(p + 1);
    p += 3;
    if (len === 0 || p + len > ext.length) return refused('malformed');
    if (type === HOST_NAME) {
      // "The ServerNameList MUST NOT contain more than one name of the same name_type" (RFC 6066 §3).
      if (host !== undefined) return refused('bad_server_name');
      host = ext.toString('latin1', p, p + len).toLowerCase();
    }
    p += len;
  }
  if (host === undefined) return refused('bad_server_name');
  // A trailing dot is not part of the name (RFC 6066 §3: "without a trailing dot").
  if (!HOSTNAME.test(host) || IPV4.test(host)) return refused('bad_server_name');
  return host;
}
