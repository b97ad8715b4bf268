import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PlatformServerResponse, type HeaderList } from './platform-response.js';

const DEFAULTS: HeaderList = [
  ['x-frame-options', 'SAMEORIGIN'],
  ['x-content-type-options', 'nosniff'],
];

/** Each way a handler may write its head, after the platform asked for its defaults. */
const handlers: Record<string, (res: PlatformServerResponse) => void> = {
  object: (res) => res.writeHead(200, { 'content-type': 'text/plain', 'X-Frame-Options': 'DENY' }).end('object'),
  reason: (res) => res.writeHead(201, 'Made', { 'content-type': 'text/plain' }).end('reason'),
  array: (res) => res.writeHead(200, ['content-type', 'text/plain', 'x-frame-options', 'DENY']).end('array'),
  implicit: (res) => res.end('implicit'),
  'set-before': (res) => {
    res.setHeader('X-Content-Type-Options', 'custom');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('set-before');
  },
  'own-request-id': (res) => res.writeHead(200, { 'X-Request-Id': 'mine' }).end('own'),
  none: (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('none'),
};

function get(port: number, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    })
      .on('error', reject)
      .end();
  });
}

/** Every value of a header as sent (raw, so a duplicate shows). */
const sent = (res: IncomingMessage, name: string) => res.rawHeaders.filter((_, i) => i % 2 === 1 && res.rawHeaders[i - 1]!.toLowerCase() === name);

describe('PlatformServerResponse over a real socket', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer({ ServerResponse: PlatformServerResponse }, (req, res) => {
      const name = req.url!.slice(1);
      const platformRes = res as PlatformServerResponse;
      if (name !== 'none') platformRes.addDefaultHeaders('req-1', DEFAULTS);
      handlers[name]!(platformRes);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('adds the defaults to a header object, keeping a handler value in any case, once', async () => {
    const res = await get(port, '/object');
    assert.deepEqual(sent(res, 'x-frame-options'), ['DENY']);
    assert.deepEqual(sent(res, 'x-content-type-options'), ['nosniff']);
    assert.deepEqual(sent(res, 'x-request-id'), ['req-1']);
    assert.deepEqual(sent(res, 'content-type'), ['text/plain']);
  });

  it('keeps a status message, the raw-array form and an implicit head', async () => {
    const reason = await get(port, '/reason');
    assert.equal(reason.statusCode, 201);
    assert.equal(reason.statusMessage, 'Made');
    assert.deepEqual(sent(reason, 'x-frame-options'), ['SAMEORIGIN']);
    const array = await get(port, '/array');
    assert.deepEqual(sent(array, 'x-frame-options'), ['DENY']);
    assert.deepEqual(sent(array, 'x-content-type-options'), ['nosniff']);
    assert.deepEqual(sent(array, 'x-request-id'), ['req-1']);
    const implicit = await get(port, '/implicit');
    assert.deepEqual(sent(implicit, 'x-frame-options'), ['SAMEORIGIN']);
    assert.deepEqual(sent(implicit, 'x-request-id'), ['req-1']);
  });

  it('never overrides a header set with setHeader, nor a handler\'s own request id', async () => {
    const set = await get(port, '/set-before');
    assert.deepEqual(sent(set, 'x-content-type-options'), ['custom']);
    assert.deepEqual(sent(set, 'x-frame-options'), ['SAMEORIGIN']);
    const own = await get(port, '/own-request-id');
    assert.deepEqual(sent(own, 'x-request-id'), ['mine']);
  });

  it('adds nothing unless asked', async () => {
    const res = await get(port, '/none');
    assert.deepEqual(sent(res, 'x-frame-options'), []);
    assert.deepEqual(sent(res, 'x-request-id'), []);
  });
});
