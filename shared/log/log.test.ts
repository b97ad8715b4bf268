import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger, redact } from './index.js';

describe('logger', () => {
  it('writes one JSON line per record with base fields', () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l), base: { fn: 'x' } });
    log.info('hello', { n: 1 });
    assert.equal(lines.length, 1);
    const rec = JSON.parse(lines[0]!);
    assert.equal(rec.msg, 'hello');
    assert.equal(rec.fn, 'x');
    assert.equal(rec.n, 1);
    assert.equal(rec.level, 'info');
  });

  it('drops records below the level', () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l), level: 'warn' });
    log.info('quiet');
    log.warn('loud');
    assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ['loud']);
  });

  it('never writes a secret-looking value, however deep', () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l) }).child({ request_id: 'r1' });
    log.error('oops', {
      password: 'hunter2',
      client: { client_secret: 's3cr3t', name: 'ok' },
      headers: [{ authorization: 'Bearer abc.def' }],
      err: Object.assign(new Error('bad'), { cause: { token: 'tok-123' } }),
    });
    const text = lines.join('\n');
    for (const secret of ['hunter2', 's3cr3t', 'abc.def', 'tok-123']) assert.ok(!text.includes(secret), secret);
    assert.ok(text.includes('"name":"ok"'));
    assert.ok(text.includes('"request_id":"r1"'));
  });

  it('keeps errors readable', () => {
    const out = redact({ err: new Error('boom') }) as { err: { message: string; name: string } };
    assert.equal(out.err.message, 'boom');
    assert.equal(out.err.name, 'Error');
  });
});
