import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { catalog, createCatalog, defineEventType, productOf } from './catalog.js';

const created = defineEventType({ type: 'io.zenokube.demo.thing.created', version: '1', description: 'd', schema: z.object({ id: z.string() }) });

describe('event catalog', () => {
  it('holds only well-named, versioned types', () => {
    for (const t of catalog.types) {
      assert.match(t.type, /^io\.zenokube\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/);
      assert.ok(t.version);
    }
  });
  it('refuses names outside io.zenokube.<product>.<noun>.<past-verb>', () => {
    for (const type of ['com.example.thing.created', 'io.zenokube.demo.created', 'io.zenokube.Demo.thing.created']) {
      assert.throws(() => defineEventType({ type, version: '1', description: 'd', schema: z.object({}) }), TypeError);
    }
  });
  it('refuses a type listed twice', () => {
    assert.throws(() => createCatalog([created, created]), TypeError);
  });
  it('checks outgoing payloads and rejects unknown types', () => {
    const c = createCatalog([created]);
    c.checkOutgoing({ type: created.type, data: { id: 'a' } });
    assert.throws(() => c.checkOutgoing({ type: created.type, data: { id: 1 } }), /does not match the catalog/);
    assert.throws(() => c.checkOutgoing({ type: 'io.zenokube.demo.thing.deleted', data: {} }), /not in the event catalog/);
  });
  it('parses received payloads and lists every problem', () => {
    const c = createCatalog([created]);
    assert.deepEqual(c.parse(created.type, { id: 'a' }), { ok: true, data: { id: 'a' } });
    const bad = c.parse(created.type, {});
    assert.equal(bad.ok, false);
    assert.equal(productOf(created.type), 'demo');
  });
});
