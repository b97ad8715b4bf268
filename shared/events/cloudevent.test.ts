// The CloudEvents HTTP codec, with the `cloudevents` SDK producing and consuming the messages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CloudEvent, HTTP } from 'cloudevents';
import { AppError } from '#shared/http/errors';
import { jsonData, jsonEvent, parseCloudEvent, percentEncode, toBinaryHeaders } from './cloudevent.js';

const enc = (s: string) => new TextEncoder().encode(s);

function parse(msg: { headers: Record<string, unknown>; body: unknown }) {
  return parseCloudEvent(new Headers(msg.headers as Record<string, string>), enc(String(msg.body ?? '')));
}

describe('parseCloudEvent (HTTP binding §3)', () => {
  const ev = new CloudEvent({
    id: 'e-1',
    source: '/auth/token',
    type: 'io.zenokube.auth.token.issued',
    subject: 'user 42',
    time: '2026-01-02T03:04:05.678Z',
    tenantid: 'acme',
    data: { a: [1, 2], b: 'ü' },
  });

  for (const mode of ['binary', 'structured'] as const) {
    it(`reads every attribute and the data of an SDK ${mode}-mode message`, () => {
      const wire = parse(HTTP[mode](ev) as { headers: Record<string, unknown>; body: unknown });
      assert.equal(wire.attributes.id, 'e-1');
      assert.equal(wire.attributes.source, '/auth/token');
      assert.equal(wire.attributes.type, 'io.zenokube.auth.token.issued');
      assert.equal(wire.attributes.specversion, '1.0');
      assert.equal(wire.attributes.subject, 'user 42');
      assert.equal(wire.attributes.tenantid, 'acme');
      assert.deepEqual(jsonData(wire), { a: [1, 2], b: 'ü' });
    });
  }

  it('reads data_base64 in structured mode as bytes', () => {
    const body = JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: 't', datacontenttype: 'application/octet-stream', data_base64: Buffer.from([0, 255, 7]).toString('base64') });
    const wire = parseCloudEvent(new Headers({ 'content-type': 'application/cloudevents+json; charset=utf-8' }), enc(body));
    assert.deepEqual([...wire.data!], [0, 255, 7]);
  });

  it('percent-decodes binary-mode header values', () => {
    const wire = parseCloudEvent(
      new Headers({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s', 'ce-type': 't', 'ce-subject': percentEncode('a "b" 100% ü') }),
      new Uint8Array(),
    );
    assert.equal(wire.attributes.subject, 'a "b" 100% ü');
    assert.equal(wire.data, undefined);
  });

  it('rejects a missing required attribute with the invalid_cloudevent code', () => {
    assert.throws(
      () => parseCloudEvent(new Headers({ 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': '/s' }), new Uint8Array()),
      (e: unknown) => e instanceof AppError && e.status === 400 && e.code === 'invalid_cloudevent',
    );
  });
});

describe('jsonData', () => {
  it('refuses data that is not UTF-8 as malformed_json, and reads the next event normally', () => {
    const event = (bytes: number[]) => ({ attributes: { datacontenttype: 'application/json' }, data: new Uint8Array(bytes) });
    assert.throws(
      () => jsonData(event([0x22, 0xc3, 0x22])),
      (e: unknown) => e instanceof AppError && e.status === 400 && e.code === 'malformed_json',
    );
    assert.equal(jsonData(event([0x22, 0xc3, 0xa9, 0x22])), 'é');
  });
});

describe('percentEncode', () => {
  it('keeps printable ASCII as is and encodes space, double-quote, percent, controls and non-ASCII', () => {
    assert.equal(percentEncode('/fixture/producer'), '/fixture/producer');
    assert.equal(percentEncode('2026-01-02T03:04:05.123456Z'), '2026-01-02T03:04:05.123456Z');
    assert.equal(percentEncode(''), '');
    assert.equal(percentEncode('!#$&~'), '!#$&~');
    assert.equal(percentEncode('a b"c%d\u007fé'), 'a%20b%22c%25d%7F%C3%A9');
  });
});

describe('toBinaryHeaders', () => {
  it('produces a message the SDK reads back as the same event', () => {
    const wire = jsonEvent({ id: 'x-1', source: '/lms/sign', type: 'io.zenokube.lms.license.signed', subject: 'ключ "7"', time: '2026-01-02T03:04:05Z' }, { n: 1 });
    const headers = toBinaryHeaders(wire);
    for (const v of Object.values(headers)) assert.match(v, /^[\x21-\x7e ;=/]*$/, 'header values are printable ASCII');
    const back = HTTP.toEvent({ headers, body: Buffer.from(wire.data!).toString() }) as CloudEvent<{ n: number }>;
    assert.equal(back.id, 'x-1');
    assert.equal(back.type, 'io.zenokube.lms.license.signed');
    assert.deepEqual(back.data, { n: 1 });
    assert.equal(decodeURIComponent(String(back.subject)), 'ключ "7"');
  });
});

describe('malformed events are a 400, never a 500', () => {
  const structured = () => new Headers({ 'content-type': 'application/cloudevents+json' });
  const rejects = (fn: () => unknown, code: string, detail: RegExp) =>
    assert.throws(fn, (err: unknown) => err instanceof AppError && err.status === 400 && err.code === code && detail.test(String(err.detail)));
  const binary = (over: Record<string, string>) => new Headers({ 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/s', 'ce-type': 't', ...over });

  it('refuses an id over 256 bytes (the inbox and broker keys are btree-indexed)', () => {
    rejects(() => parseCloudEvent(binary({ 'ce-id': 'a'.repeat(3_000) }), enc('{}')), 'invalid_cloudevent', /"id" is longer than 256 bytes/);
    rejects(() => parseCloudEvent(binary({ 'ce-id': percentEncode('é'.repeat(129)) }), enc('{}')), 'invalid_cloudevent', /256 bytes/);
    assert.equal(parseCloudEvent(binary({ 'ce-id': 'a'.repeat(256) }), enc('{}')).attributes.id, 'a'.repeat(256));
  });

  it('refuses a lone surrogate in a structured-mode attribute, escaped or not, and keeps a surrogate pair', () => {
    const doc = (id: string) => `{"specversion":"1.0","source":"/s","type":"t","id":"${id}"}`;
    rejects(() => parseCloudEvent(structured(), enc(doc('\\ud800'))), 'malformed_json', /unpaired UTF-16 surrogate/);
    rejects(() => parseCloudEvent(structured(), enc(doc('a\\udc00b'))), 'malformed_json', /unpaired UTF-16 surrogate/);
    rejects(() => parseCloudEvent(structured(), enc(doc('\\ud800\\u0041'))), 'malformed_json', /unpaired UTF-16 surrogate/);
    assert.equal(parseCloudEvent(structured(), enc(doc('\\ud83d\\ude00'))).attributes.id, '😀');
    assert.equal(parseCloudEvent(structured(), enc(doc('😀 \\\\ud800'))).attributes.id, '😀 \\ud800', 'an escaped backslash is no escape');
  });

  it('refuses bytes that are not UTF-8 in structured mode', () => {
    const bytes = Buffer.concat([enc('{"specversion":"1.0","source":"/s","type":"t","id":"'), Buffer.from([0xed, 0xa0, 0x80]), enc('"}')]);
    rejects(() => parseCloudEvent(structured(), bytes), 'malformed_json', /not valid JSON/);
  });

  it('refuses 200,000 levels of nesting before parsing, in structured mode and in binary data', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    rejects(() => parseCloudEvent(structured(), enc(`{"specversion":"1.0","source":"/s","type":"t","id":"d","data":${deep}}`)), 'malformed_json', /deeper than 64 levels/);
    const wire = parseCloudEvent(binary({}), enc(deep));
    rejects(() => jsonData(wire), 'malformed_json', /deeper than 64 levels/);
    const ok = '{"a":'.repeat(63) + '1' + '}'.repeat(63);
    assert.ok(jsonData(parseCloudEvent(binary({}), enc(ok))));
    assert.ok(jsonData(parseCloudEvent(binary({}), enc('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}'))), 'brackets inside strings do not count');
  });
});
