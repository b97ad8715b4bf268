import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compile } from '../engine/compile.js';
import { gateway, resources, route, service, to } from '../engine/fixtures.test-support.js';
import type { Binding } from './context.js';
import { problemBody, rawProblem } from './local-reply.js';
import { refusalFormat, refusalFormatOfHead } from './refusal-format.js';

describe('error format per route (ingress.zenokube.io/error-format)', () => {
  const gw = gateway('gw', [{ allowedRoutes: { namespaces: { from: 'All' } } }]);
  const vault = route('vault', [{ matches: [{ path: { type: 'PathPrefix', value: '/vault/v1' } }], ...to('a') }]);
  vault.metadata.annotations = { 'ingress.zenokube.io/error-format': 'vault' };
  const odd = route('odd', [{ matches: [{ path: { type: 'PathPrefix', value: '/odd' } }], ...to('a') }]);
  odd.metadata.annotations = { 'ingress.zenokube.io/error-format': 'xml' };
  const plain = route('plain', [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], ...to('a') }]);
  const { gateways } = compile(resources({ gateways: [gw], services: [service('a')], routes: [vault, odd, plain] }));
  const binding: Binding = { tables: [gateways[0]!.ports.get(80)!], scheme: 'http' };

  it("takes the matched route's format, problem+json for an unknown value or none", () => {
    assert.equal(refusalFormat(binding, 'GET', 'example.com', '/vault/v1/secret/data/x?list=true'), 'vault');
    assert.equal(refusalFormat(binding, 'GET', 'example.com', '/odd/x'), 'problem');
    assert.equal(refusalFormat(binding, 'GET', 'example.com', '/auth/x'), 'problem');
    assert.equal(refusalFormat(binding, 'GET', undefined, '/vault/v1/x'), 'problem');
    assert.equal(refusalFormat(binding, 'GET', 'example.com', 'vault/v1/x'), 'problem');
  });

  it('reads the request line and Host of a head the parser refused, problem+json when they are not there', () => {
    const head = (s: string) => Buffer.from(s, 'latin1');
    assert.equal(refusalFormatOfHead(binding, head('GET /vault/v1/sys/health HTTP/1.1\r\nHost: example.com\r\nx-big: bbbb')), 'vault');
    assert.equal(refusalFormatOfHead(binding, head('GET /other HTTP/1.1\r\nhost: example.com\r\n')), 'problem');
    assert.equal(refusalFormatOfHead(binding, head('x-big: bbbbbbbb\r\nmore: b')), 'problem');
    assert.equal(refusalFormatOfHead(binding, undefined), 'problem');
  });

  it("renders Vault's shape as application/json and keeps the code header", () => {
    assert.deepEqual(JSON.parse(problemBody(414, 'uri_too_long', 'vault').toString()), { errors: ['request URI too long'] });
    assert.deepEqual(JSON.parse(problemBody(414, 'uri_too_long').toString()), { type: 'about:blank', title: 'URI Too Long', status: 414, code: 'uri_too_long' });
    const raw = rawProblem(431, 'headers_too_large', 'vault');
    assert.match(raw, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\ncontent-type: application\/json\r\n/);
    assert.match(raw, /\r\nx-zeno-ingress: headers_too_large\r\n/);
    assert.ok(raw.endsWith('\r\n\r\n{"errors":["request header fields too large"]}'));
  });
});
