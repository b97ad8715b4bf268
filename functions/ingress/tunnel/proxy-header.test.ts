import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { encodeProxyHeader, parseProxyHeader, readProxyHeader } from './proxy-header.js';

describe('PROXY protocol v1 header (proxy-protocol.txt 2.1)', () => {
  it('writes TCP4 and TCP6 lines, and IPv4 clients of a dual-stack socket as TCP4', () => {
    assert.equal(encodeProxyHeader({ address: '192.0.2.1', port: 5555 }, { address: '198.51.100.2', port: 443 }).toString(), 'PROXY TCP4 192.0.2.1 198.51.100.2 5555 443\r\n');
    assert.equal(encodeProxyHeader({ address: '::ffff:192.0.2.1', port: 5555 }, { address: '::ffff:127.0.0.1', port: 80 }).toString(), 'PROXY TCP4 192.0.2.1 127.0.0.1 5555 80\r\n');
    assert.equal(encodeProxyHeader({ address: '2001:db8::1', port: 1 }, { address: '::1', port: 8080 }).toString(), 'PROXY TCP6 2001:db8::1 ::1 1 8080\r\n');
  });

  it('writes UNKNOWN when an address is missing or the families differ', () => {
    assert.equal(encodeProxyHeader({}, { address: '127.0.0.1', port: 80 }).toString(), 'PROXY UNKNOWN\r\n');
    assert.equal(encodeProxyHeader({ address: '192.0.2.1', port: 1 }, { address: '::1', port: 80 }).toString(), 'PROXY UNKNOWN\r\n');
  });

  it('parses what it writes and refuses anything else', () => {
    assert.deepEqual(parseProxyHeader('PROXY TCP4 192.0.2.1 198.51.100.2 5555 443'), { address: '192.0.2.1', port: 5555 });
    assert.equal(parseProxyHeader('PROXY UNKNOWN'), null);
    assert.equal(parseProxyHeader('PROXY UNKNOWN ignored stuff'), null);
    for (const bad of ['GET / HTTP/1.1', 'PROXY TCP4 192.0.2.1 198.51.100.2 5555', 'PROXY TCP4 ::1 ::1 1 2', 'PROXY TCP6 1.2.3.4 ::1 1 2', 'PROXY TCP4 1.2.3.4 1.2.3.4 0 80', 'PROXY TCP4 1.2.3.4 1.2.3.4 65536 80', 'PROXY TCP4 1.2.3.4 1.2.3.4 080 80', 'PROXY TCP5 1.2.3.4 1.2.3.4 1 80']) {
      assert.equal(parseProxyHeader(bad), undefined, bad);
    }
  });

  it('reads the header off a stream and leaves the bytes after it, even split across reads', async () => {
    const s = new PassThrough();
    const read = readProxyHeader(s);
    s.write('PROXY TCP4 192.0.2.1 ');
    s.write('198.51.100.2 5555 443\r\nGET / HTTP/1.1\r\n');
    assert.deepEqual(await read, { address: '192.0.2.1', port: 5555 });
    s.end();
    const rest: Buffer[] = [];
    for await (const c of s) rest.push(c as Buffer);
    assert.equal(Buffer.concat(rest).toString(), 'GET / HTTP/1.1\r\n');
  });

  it('refuses a stream that sends no header, a header too long, or ends first', async () => {
    const http = new PassThrough();
    const a = readProxyHeader(http);
    http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await assert.rejects(a, /malformed PROXY header/);
    const long = new PassThrough();
    const b = readProxyHeader(long);
    long.write('PROXY ' + 'x'.repeat(200));
    await assert.rejects(b, /too long/);
    const ended = new PassThrough();
    const c = readProxyHeader(ended);
    ended.end('PROXY TCP4');
    await assert.rejects(c, /ended before/);
  });
});
