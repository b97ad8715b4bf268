import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyHeaderOps, endToEnd, forwardedNode, requestFields, responseHeaders } from './headers.js';

describe('proxy headers (RFC 9110 §7.6.1)', () => {
  it('drops hop-by-hop fields and the ones Connection lists', () => {
    const out = endToEnd(['Host', 'x', 'Connection', 'keep-alive, X-Secret-Hop', 'Keep-Alive', 'timeout=5', 'X-Secret-Hop', '1', 'TE', 'trailers', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'X-Kept', 'yes']);
    assert.deepEqual(out, ['Host', 'x', 'X-Kept', 'yes']);
  });

  it('drops the same fields from upstream response headers, Connection-listed ones too', () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'keep-alive, X-Hop', 'X-Hop', 'secret', 'Transfer-Encoding', 'chunked', 'x-hop', 'again', 'Set-Cookie', 'a=1'];
    assert.deepEqual(responseHeaders(raw), ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1']);
    assert.deepEqual(responseHeaders(['Connection', 'close', 'X-Kept', '\u00e9t\u00e9']), ['X-Kept', '\u00e9t\u00e9']);
  });

  it("takes undici's raw header bytes as they came, one character per byte, dropping the same fields", () => {
    const raw = ['Content-Type', 'text/plain', 'Connection', 'keep-alive, X-Hop', 'X-Hop', 'secret', 'X-Kept', '\u00e9t\u00e9'].map((f) => Buffer.from(f, 'latin1'));
    assert.deepEqual(responseHeaders(raw), ['Content-Type', 'text/plain', 'X-Kept', '\u00e9t\u00e9']);
  });

  it('reads the fields the proxy needs in one pass: the first Host and how many, repeated ones joined as node joins them', () => {
    const f = requestFields(['Host', 'a.test', 'X-Request-Id', '1', 'HOST', 'b.test', 'x-request-id', '2', 'X-Forwarded-For', '10.0.0.1', 'x-forwarded-for', '10.0.0.2', 'Forwarded', 'for=x', 'Content-Length', '5', 'Transfer-Encoding', 'chunked']);
    assert.deepEqual(f, { host: 'a.test', hosts: 2, requestId: '1, 2', forwardedFor: '10.0.0.1, 10.0.0.2', forwarded: 'for=x', contentLength: '5', transferEncoding: 'chunked' });
    assert.deepEqual(requestFields([]), { host: undefined, hosts: 0, requestId: undefined, forwardedFor: undefined, forwarded: undefined, contentLength: undefined, transferEncoding: undefined });
  });

  it('drops the caller-owned names in any case, whatever their length', () => {
    const drop = new Set(['host', 'x-forwarded-for', 'x-a-name-longer-than-thirty-one-chars']);
    const raw = ['HOST', 'a', 'X-Forwarded-For', '1.2.3.4', 'X-A-Name-Longer-Than-Thirty-One-Chars', 'v', 'X-Another-Long-Name-Beyond-Thirty-Two', 'kept', 'Accept', '*/*', 'TRAILER', 'x'];
    assert.deepEqual(endToEnd(raw, drop), ['X-Another-Long-Name-Beyond-Thirty-Two', 'kept', 'Accept', '*/*']);
    // A Connection-listed name of any length is dropped too.
    assert.deepEqual(endToEnd(['Connection', 'X-Listed-Name-Longer-Than-Thirty-Two-Chars', 'x-listed-name-longer-than-thirty-two-chars', '1', 'Accept', '*/*'], drop), ['Accept', '*/*']);
  });

  it('applies set, add and remove in order, case-insensitively', () => {
    const ops = { set: [['x-a', '1'] as [string, string]], add: [['x-b', '2'] as [string, string]], remove: ['x-c'] };
    assert.deepEqual(applyHeaderOps(['X-A', 'old', 'X-B', 'first', 'X-C', 'gone', 'X-D', 'kept'], ops), ['X-B', 'first,2', 'X-D', 'kept', 'x-a', '1']);
  });

  it('quotes IPv6 nodes in Forwarded (RFC 7239 §6)', () => {
    assert.equal(forwardedNode('::1'), '"[::1]"');
    assert.equal(forwardedNode('::ffff:10.0.0.1'), '10.0.0.1');
    assert.equal(forwardedNode('10.0.0.1'), '10.0.0.1');
  });
});
