import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { TOO_LARGE, bufferBody, hasBody, replayable } from './request-body.js';
import type { RequestBody } from './request-body.js';

/** A request body stream with the headers node would have parsed. */
function incoming(headers: Record<string, string>, chunks: Buffer[] = [], end = true): IncomingMessage {
  const stream = new Readable({ read() {} }) as unknown as IncomingMessage & Readable;
  Object.assign(stream, { headers });
  for (const c of chunks) stream.push(c);
  if (end) stream.push(null);
  return stream;
}

function buffered(req: IncomingMessage, limit: number, max = Infinity): Promise<RequestBody | typeof TOO_LARGE> {
  return new Promise((resolve) => bufferBody(req, limit, max, resolve));
}

describe('request bodies (RFC 9112 §6.3)', () => {
  it('counts a request as having a body only with Transfer-Encoding or a Content-Length above 0', () => {
    assert.equal(hasBody(incoming({})), false);
    assert.equal(hasBody(incoming({ 'content-length': '0' })), false);
    assert.equal(hasBody(incoming({ 'content-length': '12' })), true);
    assert.equal(hasBody(incoming({ 'transfer-encoding': 'chunked' })), true);
  });

  it('holds a body smaller than the buffer whole, as one Buffer that can be sent again', async () => {
    const body = await buffered(incoming({ 'content-length': '11' }, [Buffer.from('hello '), Buffer.from('world')]), 64);
    assert.ok(Buffer.isBuffer(body));
    assert.equal(body.toString(), 'hello world');
    assert.equal(replayable(body), true);
  });

  it('streams a body that fills the buffer: what was read, then the rest, paused until read', async () => {
    const chunks = Array.from({ length: 10 }, (_, i) => Buffer.alloc(10, 65 + i));
    const req = incoming({ 'transfer-encoding': 'chunked' }, chunks);
    const body = await buffered(req, 25);
    assert.ok(body !== null && body !== TOO_LARGE && !Buffer.isBuffer(body));
    assert.equal(replayable(body), false);
    assert.equal(Buffer.concat(body.head).length, 30, 'reading stopped once the buffer was full');
    assert.equal(body.rest.isPaused(), true);
    const rest: Buffer[] = [];
    for await (const c of body.rest) rest.push(c as Buffer);
    assert.deepEqual(Buffer.concat([...body.head, ...rest]), Buffer.concat(chunks));
  });

  it("refuses a body that grows past the route's limit before the buffer fills, and stops reading it", async () => {
    const req = incoming({ 'transfer-encoding': 'chunked' }, Array.from({ length: 10 }, () => Buffer.alloc(10, 1)));
    assert.equal(await buffered(req, 1_000, 35), TOO_LARGE);
    assert.equal(req.isPaused(), true);
    const exact = incoming({ 'content-length': '30' }, Array.from({ length: 3 }, () => Buffer.alloc(10, 1)));
    assert.equal(((await buffered(exact, 1_000, 30)) as Buffer).length, 30, 'a body of exactly the limit is taken');
  });

  it('never hands on a body whose client went away before it ended', async () => {
    const req = incoming({ 'content-length': '100' }, [Buffer.from('partial')], false);
    let done = false;
    bufferBody(req, 64, Infinity, () => (done = true));
    req.destroy();
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
  });
});
