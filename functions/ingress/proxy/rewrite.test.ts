import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redirectLocation, rewritePath } from './rewrite.js';
import type { Candidate } from '../engine/table.js';

const prefix = (value: string) => ({ pathType: 'PathPrefix', pathValue: value }) as Candidate;

describe('URLRewrite and RequestRedirect paths (HTTPPathModifier)', () => {
  it('replaces a matched prefix on element boundaries', () => {
    const mod = { type: 'ReplacePrefixMatch' as const, value: '/new' };
    assert.equal(rewritePath('/old/a/b', mod, prefix('/old')), '/new/a/b');
    assert.equal(rewritePath('/old', mod, prefix('/old/')), '/new');
    assert.equal(rewritePath('/old/', mod, prefix('/old')), '/new/');
    assert.equal(rewritePath('/x', { type: 'ReplacePrefixMatch', value: '/' }, prefix('/x')), '/');
    assert.equal(rewritePath('/x/y', { type: 'ReplacePrefixMatch', value: '/' }, prefix('/x')), '/y');
    assert.equal(rewritePath('/any', { type: 'ReplacePrefixMatch', value: '/p' }, prefix('/')), '/p/any');
  });

  it('omits well-known ports and keeps the query', () => {
    const r = { scheme: 'https', hostname: undefined, port: undefined, path: undefined, statusCode: 301 };
    assert.equal(redirectLocation(r, { host: 'a.com', path: '/p', query: 'q=1' }, { scheme: 'http', port: 80 }, prefix('/')), 'https://a.com/p?q=1');
    assert.equal(redirectLocation({ ...r, scheme: undefined }, { host: 'a.com', path: '/p', query: '' }, { scheme: 'http', port: 8080 }, prefix('/')), 'http://a.com:8080/p');
    assert.equal(redirectLocation({ ...r, port: 8443 }, { host: 'a.com', path: '/', query: '' }, { scheme: 'http', port: 80 }, prefix('/')), 'https://a.com:8443/');
  });
});
