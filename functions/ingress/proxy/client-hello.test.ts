// The ClientHello reader of TLS passthrough: real hellos of node's TLS client, hellos split over
// reads and records, and the malformed, oversized and hostile ones, which it refuses without throwing.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { parseClientHello } from './client-hello.js';

const MAX = 16_384;

/** The first flight node's TLS client sends to a server that never answers. */
async function capturedHello(servername: string | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const server = createServer((s) => {
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (parseClientHello(Buffer.concat(chunks), MAX).state !== 'incomplete') s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...(servername ? { servername } : {}), rejectUnauthorized: false });
  await new Promise<void>((r) => client.once('close', () => r()).once('error', () => {}));
  await new Promise((r) => server.close(r));
  return Buffer.concat(chunks);
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 255, n & 255]);

/** An extension: type, length, data. */
const ext = (type: number, data: Buffer) => Buffer.concat([u16(type), u16(data.length), data]);

/** A server_name extension with these (name_type, name) entries. */
function sni(...names: [number, string][]): Buffer {
  const list = Buffer.concat(names.map(([t, n]) => Buffer.concat([Buffer.from([t]), u16(Buffer.byteLength(n)), Buffer.from(n, 'latin1')])));
  return ext(0, Buffer.concat([u16(list.length), list]));
}

/** A ClientHello body (TLS 1.2 layout) with these extensions; `undefined` leaves the block out. */
function body(extensions: Buffer[] | undefined, opts: { sessionId?: number; suites?: number } = {}): Buffer {
  const sid = opts.sessionId ?? 0;
  const suites = opts.suites ?? 2;
  const parts = [Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([sid]), Buffer.alloc(sid, 1), u16(suites), Buffer.alloc(suites, 0x13), Buffer.from([1, 0])];
  if (extensions) {
    const block = Buffer.concat(extensions);
    parts.push(u16(block.length), block);
  }
  return Buffer.concat(parts);
}

const handshake = (b: Buffer, type = 1) => Buffer.concat([Buffer.from([type]), u24(b.length), b]);

/** Frames a handshake message into records of at most `size` bytes. */
function records(message: Buffer, size = 16_384): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const frag = message.subarray(at, at + size);
    out.push(Buffer.concat([Buffer.from([22, 3, 1]), u16(frag.length), frag]));
  }
  return Buffer.concat(out);
}

const hello = (extensions: Buffer[] | undefined, opts?: { sessionId?: number; suites?: number }) => records(handshake(body(extensions, opts)));

describe('parseClientHello (RFC 8446 §4.1.2, RFC 6066 §3)', () => {
  let real: Buffer;
  let anonymous: Buffer;
  before(async () => {
    real = await capturedHello('Abc.Example.com');
    anonymous = await capturedHello(undefined);
  });

  it('reads the server name of a real client hello, lower-cased', () => {
    assert.deepEqual(parseClientHello(real, MAX), { state: 'done', serverName: 'abc.example.com' });
  });

  it('reads a hello without a server name as one without', () => {
    assert.deepEqual(parseClientHello(anonymous, MAX), { state: 'done', serverName: undefined });
    assert.deepEqual(parseClientHello(hello(undefined), MAX), { state: 'done', serverName: undefined });
  });

  it('waits for every byte of a hello that arrives a byte at a time', () => {
    for (let n = 0; n < real.length; n++) assert.equal(parseClientHello(real.subarray(0, n), MAX).state, 'incomplete', `at ${n}`);
  });

  it('reads a hello split over several records', () => {
    const message = real.subarray(5, 5 + real.readUInt16BE(3));
    // Three records, whatever the hello's size (post-quantum key shares make it about 1.8 KB).
    const split = records(message, Math.ceil(message.length / 3));
    assert.deepEqual(parseClientHello(split, MAX), { state: 'done', serverName: 'abc.example.com' });
    for (let n = 0; n < split.length; n += 37) assert.equal(parseClientHello(split.subarray(0, n), MAX).state, 'incomplete');
  });

  it('reads the hello and leaves what follows it (early data) alone', () => {
    const more = Buffer.concat([real, Buffer.from([23, 3, 3, 0, 3, 1, 2, 3])]);
    assert.deepEqual(parseClientHello(more, MAX), { state: 'done', serverName: 'abc.example.com' });
  });

  it('refuses what is not TLS from its first bytes', () => {
    assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n'), MAX), { state: 'refused', code: 'not_tls' });
    assert.deepEqual(parseClientHello(Buffer.from('PRI * HTTP/2.0'), MAX), { state: 'refused', code: 'not_tls' });
    // An SSL 2.0 hello, and a handshake record of another major version.
    assert.deepEqual(parseClientHello(Buffer.from([0x80, 0x2e, 1, 3, 1]), MAX), { state: 'refused', code: 'not_tls' });
    assert.deepEqual(parseClientHello(Buffer.from([22, 2]), MAX), { state: 'refused', code: 'not_tls' });
  });

  it('refuses a handshake that is not a client hello', () => {
    assert.deepEqual(parseClientHello(records(handshake(body([]), 2)), MAX), { state: 'refused', code: 'not_client_hello' });
  });

  it('refuses a hello announcing more than the bound from its first nine bytes', () => {
    const head = Buffer.concat([Buffer.from([22, 3, 1]), u16(16_384), Buffer.from([1]), u24(1 << 20)]);
    assert.deepEqual(parseClientHello(head, MAX), { state: 'refused', code: 'too_large' });
    assert.deepEqual(parseClientHello(real, 100), { state: 'refused', code: 'too_large' });
  });

  it('refuses a hello in more records than a client sends', () => {
    const message = real.subarray(5, 5 + real.readUInt16BE(3));
    assert.deepEqual(parseClientHello(records(message, 8), MAX), { state: 'refused', code: 'too_large' });
  });

  it('refuses records that are empty, over 2^14 bytes, or longer than the hello in them', () => {
    assert.deepEqual(parseClientHello(Buffer.from([22, 3, 1, 0, 0]), MAX), { state: 'refused', code: 'malformed' });
    assert.deepEqual(parseClientHello(Buffer.from([22, 3, 1, 0x40, 1]), MAX), { state: 'refused', code: 'malformed' });
    const message = handshake(body([sni([0, 'a.example.com'])]));
    const padded = Buffer.concat([Buffer.from([22, 3, 1]), u16(message.length + 3), message, Buffer.from([1, 0, 0])]);
    assert.deepEqual(parseClientHello(padded, MAX), { state: 'refused', code: 'malformed' });
    // A handshake record after the first that is of another type.
    const split = records(message, 20);
    split[25] = 23;
    assert.deepEqual(parseClientHello(split, MAX), { state: 'refused', code: 'malformed' });
  });

  it('refuses bodies whose lengths do not add up', () => {
    const cases: [string, Buffer][] = [
      ['a session id over 32 bytes', hello([], { sessionId: 33 })],
      ['an odd cipher suite list', hello([], { suites: 3 })],
      ['no cipher suite', hello([], { suites: 0 })],
      ['an extension running past the block', records(handshake(Buffer.concat([body(undefined), u16(8), u16(0), u16(10), Buffer.alloc(4)])))],
      ['an extension block shorter than said', records(handshake(Buffer.concat([body(undefined), u16(4), Buffer.alloc(2)])))],
      ['one stray byte after the compression methods', records(handshake(Buffer.concat([body(undefined), Buffer.from([0])])))],
      ['a repeated extension', hello([ext(10, Buffer.alloc(2)), ext(10, Buffer.alloc(2))])],
      ['a server name list of the wrong length', hello([ext(0, Buffer.concat([u16(9), Buffer.from([0]), u16(1), Buffer.from('a')]))])],
      ['an empty host name', hello([sni([0, ''])])],
    ];
    for (const [what, data] of cases) assert.deepEqual(parseClientHello(data, MAX), { state: 'refused', code: 'malformed' }, what);
  });

  it('refuses server names that are not one DNS host name', () => {
    const cases: [string, Buffer][] = [
      ['two host names', hello([sni([0, 'a.example.com'], [0, 'b.example.com'])])],
      ['an IPv4 literal', hello([sni([0, '10.0.0.1'])])],
      ['an IPv6 literal', hello([sni([0, '::1'])])],
      ['a trailing dot', hello([sni([0, 'a.example.com.'])])],
      ['a NUL byte', hello([sni([0, 'a.example.com\0.evil'])])],
      ['a label over 63 bytes', hello([sni([0, `${'a'.repeat(64)}.example.com`])])],
      ['a space', hello([sni([0, 'a b.example.com'])])],
      ['only a name of another type', hello([sni([1, 'a.example.com'])])],
    ];
    for (const [what, data] of cases) assert.deepEqual(parseClientHello(data, MAX), { state: 'refused', code: 'bad_server_name' }, what);
  });

  it('skips name types other than host_name beside it', () => {
    assert.deepEqual(parseClientHello(hello([sni([1, 'other'], [0, 'a.example.com'])]), MAX), { state: 'done', serverName: 'a.example.com' });
  });

  it('never throws on a mutated hello, and reads nothing past its input', () => {
    let seed = 0x2545f491;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
    for (let i = 0; i < 5_000; i++) {
      const m = Buffer.from(real);
      for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      const cut = m.subarray(0, Math.floor(rand() * (m.length + 1)));
      const r = parseClientHello(cut, MAX);
      assert.ok(['incomplete', 'done', 'refused'].includes(r.state));
    }
  });
});
