// createInMemoryGateway routes as the generated HTTPRoutes do (precedence, methods, regular
// expressions) and serves /_fn/<name>/ to loopback callers only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import type { HostedFunction } from '#shared/function/host';
import type { RouteDeclaration } from '#shared/function/define';
import { createInMemoryGateway } from './in-memory-gateway.js';

function fake(name: string, routes: RouteDeclaration[]): HostedFunction {
  const app = new Hono();
  app.all('*', (c) => c.text(`${name} ${c.req.path}`));
  const declaration = { name, product: name.split('-')[0]!, routes, scaling: { timeoutSeconds: 30 } };
  return { declaration, app } as unknown as HostedFunction;
}

const fallback = () => new Response('fallback', { status: 404 });
const loopback = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
const remote = { incoming: { socket: { remoteAddress: '203.0.113.9' } } };

describe('createInMemoryGateway (the engine over the generated HTTPRoutes, in memory)', () => {
  const dispatch = createInMemoryGateway(
    [
      fake('a-wide', [{ path: '/a' }]),
      fake('a-narrow', [{ path: '/a/b' }]),
      fake('a-exact', [{ path: '/a/b/c', match: 'Exact' }]),
      fake('t-token', [{ path: '/t/[^/]+/token', match: 'RegularExpression' }]),
      fake('m-get', [{ path: '/m', methods: ['GET'] }]),
    ],
    fallback,
  );
  const text = async (path: string, init?: RequestInit, env: unknown = remote) =>
    (await dispatch(new Request(`http://x${path}`, init), env)).text();

  it('prefers Exact, then the longest prefix, on segment boundaries', async () => {
    assert.equal(await text('/a/b/c'), 'a-exact /a/b/c');
    assert.equal(await text('/a/b/c/d'), 'a-narrow /a/b/c/d');
    assert.equal(await text('/a/z'), 'a-wide /a/z');
    assert.equal(await text('/ab'), 'fallback');
  });

  it('matches a regular expression against the whole path', async () => {
    assert.equal(await text('/t/acme/token'), 't-token /t/acme/token');
    assert.equal(await text('/t/acme/token/extra'), 'fallback');
    assert.equal(await text('/t/a/b/token'), 'fallback');
  });

  it('honours declared methods', async () => {
    assert.equal(await text('/m/x'), 'm-get /m/x');
    assert.equal(await text('/m/x', { method: 'POST' }), 'fallback');
  });

  it('leaves the stack paths to the fallback', async () => {
    assert.equal(await text('/healthz'), 'fallback');
  });

  it('serves a function at /_fn/<name>/ to loopback callers only, with the prefix stripped', async () => {
    assert.equal(await text('/_fn/a-wide/_events', { method: 'POST', body: 'x' }, loopback), 'a-wide /_events');
    assert.equal(await text('/_fn/a-wide/_events', { method: 'POST', body: 'x' }, remote), 'fallback');
    assert.equal(await text('/_fn/unknown/x', undefined, loopback), 'fallback');
  });
});
