// The internal paths: the caller as the ingress saw it (the last X-Forwarded-For hop), and
// /_fn/<name>/ for loopback callers only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import type { HostedFunction } from '#shared/function/host';
import { callerAddress, isLoopback, serveInternal } from './internal.js';

const env = (remoteAddress: string) => ({ incoming: { socket: { remoteAddress } } });
const req = (xff?: string) => new Request('http://x/', { headers: xff ? { 'x-forwarded-for': xff } : {} });

describe('callerAddress', () => {
  it('is the last X-Forwarded-For hop when the connection comes from loopback (the ingress)', () => {
    assert.equal(callerAddress(req('127.0.0.1, 203.0.113.9'), env('127.0.0.1')), '203.0.113.9');
    assert.equal(callerAddress(req('203.0.113.9, 127.0.0.1'), env('127.0.0.1')), '127.0.0.1', 'a client cannot claim loopback: the ingress appends its address');
    assert.equal(callerAddress(req('::1'), env('::ffff:127.0.0.1')), '::1');
  });

  it('is the peer otherwise', () => {
    assert.equal(callerAddress(req(), env('127.0.0.1')), '127.0.0.1');
    assert.equal(callerAddress(req('127.0.0.1'), env('198.51.100.4')), '198.51.100.4');
    assert.equal(callerAddress(req(), undefined), undefined);
  });
});

describe('serveInternal', () => {
  const app = new Hono();
  app.all('*', (c) => c.text(`fn ${c.req.path}`));
  const byName = new Map([['fn-a', { declaration: { name: 'fn-a' }, app } as unknown as HostedFunction]]);

  it('serves /_fn/<name>/... to loopback callers with the prefix stripped', async () => {
    assert.equal(await (await serveInternal(byName, new Request('http://x/_fn/fn-a/_events?x=1', { method: 'POST', body: 'e' }), env('127.0.0.1')))!.text(), 'fn /_events');
    assert.equal(await (await serveInternal(byName, new Request('http://x/_fn/fn-a'), env('::1')))!.text(), 'fn /');
  });

  it('declines remote callers and unknown functions', () => {
    assert.equal(serveInternal(byName, new Request('http://x/_fn/fn-a/_events'), env('203.0.113.9')), undefined);
    assert.equal(serveInternal(byName, new Request('http://x/_fn/fn-b/_events'), env('127.0.0.1')), undefined);
    assert.ok(isLoopback('127.8.0.1') && !isLoopback('128.0.0.1') && !isLoopback(undefined));
  });
});
