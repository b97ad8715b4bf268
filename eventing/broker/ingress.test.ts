// The broker ingress in memory (no database: the acceptor is a stub): who may publish, and what
// it answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '#shared/db/index';
import { silentLogger } from '#shared/log/index';
import type { AcceptEvent } from './accept.js';
import { createBrokerIngress } from './ingress.js';

const stored: Record<string, string>[] = [];
const accept: AcceptEvent = async (_broker, attributes) => {
  stored.push(attributes);
  return { duplicate: false, deliveries: 1 };
};
const app = createBrokerIngress({ database: {} as Database, triggers: [], log: silentLogger, bodyLimitBytes: 1024, accept });
const headers = { 'ce-specversion': '1.0', 'ce-id': 'i-1', 'ce-source': '/t', 'ce-type': 'io.zenokube.t.thing.done', 'content-type': 'application/json' };
const from = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });

describe('POST /_broker/:namespace/:broker', () => {
  it('accepts an event from a loopback caller with 202 after storing it', async () => {
    for (const addr of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const res = await app.request('/_broker/default/default', { method: 'POST', headers, body: '{}' }, from(addr));
      assert.equal(res.status, 202, addr);
    }
    assert.equal(stored.length, 3);
  });
  it('refuses callers from the network with 403 problem+json and stores nothing', async () => {
    const before = stored.length;
    for (const addr of ['10.0.0.7', '192.168.1.2', '::ffff:10.0.0.7']) {
      const res = await app.request('/_broker/default/default', { method: 'POST', headers, body: '{}' }, from(addr));
      assert.equal(res.status, 403, addr);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
    }
    const res = await app.request('/_broker/default/default', { method: 'POST', headers, body: '{}' });
    assert.equal(res.status, 403, 'an unknown caller is refused too');
    assert.equal(stored.length, before);
  });
  it('answers 404 for paths outside the broker routes', async () => {
    const res = await app.request('/_broker/default', { method: 'POST', headers, body: '{}' }, from('127.0.0.1'));
    assert.equal(res.status, 404);
  });
});
