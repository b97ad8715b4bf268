import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Hono } from 'hono';
import { localRequest } from './local-request.js';

const URL_ = 'http://127.0.0.1/_events';
const bytes = () => new TextEncoder().encode('{"noteId":"n-1"}');
const headers = () => ({ 'ce-id': 'e-1', 'content-type': 'application/json', 'content-length': '16' });

describe('localRequest', () => {
  it('is a Request with the method, URL, headers and body it was given', async () => {
    const req = localRequest(URL_, headers(), bytes());
    assert.ok(req instanceof Request);
    assert.equal(req.method, 'POST');
    assert.equal(req.url, URL_);
    assert.equal(req.headers.get('ce-id'), 'e-1');
    assert.equal(req.bodyUsed, false);
    assert.equal(await req.text(), '{"noteId":"n-1"}');
    assert.equal(req.bodyUsed, true);
  });

  it('hands each body read a copy of the bytes', async () => {
    const data = bytes();
    const buf = await localRequest(URL_, headers(), data).arrayBuffer();
    new Uint8Array(buf)[0] = 0;
    assert.equal(data[0], '{'.charCodeAt(0));
    assert.deepEqual(await localRequest(URL_, headers(), bytes()).json(), { noteId: 'n-1' });
    const blob = await localRequest(URL_, headers(), bytes()).blob();
    assert.equal(blob.type, 'application/json');
    assert.equal(await blob.text(), '{"noteId":"n-1"}');
  });

  it('refuses a second read of the body, as a Request does', async () => {
    const req = localRequest(URL_, headers(), bytes());
    await req.arrayBuffer();
    await assert.rejects(req.text(), TypeError);
    await assert.rejects(req.formData(), TypeError);
    assert.throws(() => req.clone(), TypeError);
    // The stream of a body already read is a used one.
    assert.equal(req.body?.locked, true);
  });

  it('builds the real Request for any other member, which then owns the body', async () => {
    const req = localRequest(URL_, headers(), bytes());
    assert.equal(req.signal.aborted, false);
    assert.equal(req.mode, 'cors');
    const twin = req.clone();
    assert.equal(await twin.text(), '{"noteId":"n-1"}');
    assert.equal(await req.text(), '{"noteId":"n-1"}');
    assert.equal(req.bodyUsed, true);
    await assert.rejects(req.arrayBuffer(), TypeError);
  });

  it('answers every member of Request, the rarely used ones from the real Request', async () => {
    const real = new Request(URL_, { method: 'POST', headers: headers(), body: bytes() });
    for (let proto: object | null = Request.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
      for (const key of Object.getOwnPropertyNames(proto)) {
        if (key === 'constructor') continue;
        const member = Object.getOwnPropertyDescriptor(proto, key)!;
        if (typeof member.value === 'function') continue;
        const req = localRequest(URL_, headers(), bytes());
        const mine = (req as unknown as Record<string, unknown>)[key];
        const theirs = (real as unknown as Record<string, unknown>)[key];
        if (key === 'headers') assert.deepEqual([...(mine as Headers)], [...(theirs as Headers)]);
        else if (key === 'signal') assert.equal((mine as AbortSignal).aborted, false);
        else if (key === 'body') assert.ok(mine instanceof ReadableStream);
        else assert.deepEqual(mine, theirs, key);
      }
    }
    const req = localRequest(URL_, headers(), bytes()) as Request & { bytes(): Promise<Uint8Array> };
    assert.deepEqual(await req.bytes(), bytes());
    assert.match(inspect(localRequest(URL_, headers(), bytes())), /POST/);
  });

  it('has a null body when given none, and reads it as empty any number of times', async () => {
    const req = localRequest(URL_, { 'ce-id': 'e-2' }, undefined);
    assert.equal(req.body, null);
    assert.equal(await req.text(), '');
    assert.equal(await req.text(), '');
    assert.equal(req.bodyUsed, false);
    await assert.rejects(req.json(), SyntaxError);
  });

  it('refuses a header value a Request refuses, when it is built', () => {
    assert.throws(() => localRequest(URL_, { 'ce-id': 'a\nb' }, undefined), TypeError);
  });

  it('is read by a Hono app as the request it stands for', async () => {
    const app = new Hono();
    app.post('/_events', async (c) => c.json({ path: c.req.path, id: c.req.header('ce-id'), body: await c.req.json() }));
    const res = await app.fetch(localRequest(URL_, headers(), bytes()));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { path: '/_events', id: 'e-1', body: { noteId: 'n-1' } });
  });
});
