// ZenoIngress under malformed and hostile requests over real sockets, each with a legitimate
// client beside the attacker that must keep >= 99.9% of its requests answered: request framing
// that node's parser refuses mid-body (never a crash, never a truncated body completed upstream),
// request smuggling probes, a client reset mid-upload, slowloris heads, and uploads dropped
// mid-body, which must not count against the backend's circuit.
// @see https://www.rfc-editor.org/rfc/rfc9112#section-11.2 (request smuggling)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Ingress } from '#functions/ingress/index';
import type { RecordingBackend } from './ingress-traffic.js';
import { assertServed, ended, exchange, ingressFor, legitimate, open, recordingBackend } from './ingress-traffic.js';

const GUARD = { timeout: 120_000 };

/** Valid body bytes sent before bad framing: more than the proxy buffers before going upstream. */
const PREFIX_BYTES = 9 * 8 * 1024;

/** `bytes` of valid chunked body, in 8 KB chunks. */
function chunks(bytes: number): string {
  const chunk = 'a'.repeat(8 * 1024);
  return `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(bytes / chunk.length);
}

/** Parses the status and the problem code of the one response a refused connection got. */
function refusal(text: string): { status: number; code: string | undefined } {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  assert.ok(m, `a response: ${JSON.stringify(text.slice(0, 200))}`);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  assert.equal(text.indexOf('HTTP/1.1', 1), -1, 'one response only');
  return { status: Number(m[1]), code: body ? (JSON.parse(body) as { code: string }).code : undefined };
}

describe('ingress under attack: malformed framing, smuggling, slowloris, dropped uploads', GUARD, () => {
  let backend: RecordingBackend;
  let ingress: Ingress;
  let port = 0;
  let key = '';
  /** Failures charged to the recording backend's circuit. */
  let charged = 0;

  before(async () => {
    backend = await recordingBackend();
    ({ ingress, port } = await ingressFor(
      { record: backend.port },
      { circuit: { failureThreshold: 3, openMs: 60_000 }, limits: { headersTimeoutMs: 500, requestTimeoutMs: 2_000, upstreamIdleMs: 5_000 } },
    ));
    key = `127.0.0.1:${backend.port}`;
    const breakers = ingress.context.breakers;
    const failure = breakers.failure.bind(breakers);
    breakers.failure = (k) => {
      if (k === key) charged++;
      failure(k);
    };
  });
  after(async () => {
    await ingress.close();
    await backend.close();
  });

  const traffic = () => legitimate(`http://127.0.0.1:${port}/record/legit`, { min: 200, max: 5_000, expect: 'ok /record/legit' });
  const reached = (path: string) => backend.seen.filter((s) => s.path === path);

  /** Each bad framing as a head (and the valid start of a body) and the bad part that follows. */
  const framing: [string, (path: string) => [string, string]][] = [
    ['Transfer-Encoding: identity', (p) => [`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n`, 'hello']],
    ['Transfer-Encoding: xchunked', (p) => [`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n`, '5\r\nhello\r\n0\r\n\r\n']],
    ['a chunk size that overflows', (p) => [`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, 'FFFFFFFFFFFFFFFFF1\r\nhello\r\n0\r\n\r\n']],
    ['a bare LF in chunk framing', (p) => [`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, '5\nhello\r\n0\r\n\r\n']],
    ['a LF in a chunk extension', (p) => [`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, '5;a=b\nc\r\nhello\r\n0\r\n\r\n']],
    ['chunk data without its CRLF', (p) => [`POST ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`, '5\r\nhelloXX0\r\n\r\n']],
  ];

  it('refuses bad request framing with 400 and sends nothing upstream of a body that had not filled the buffer', async () => {
    const legit = traffic();
    for (const [i, [what, parts]] of framing.entries()) {
      const path = `/record/framing-small-${i}`;
      const got = refusal(await exchange(port, parts(path).join('')));
      assert.deepEqual(got, { status: 400, code: 'bad_request' }, what);
      assert.equal(reached(path).length, 0, `${what}: something went upstream`);
    }
    assertServed(await legit.stop(), 200);
    assert.equal(charged, 0, 'none of it was charged to the backend');
  });

  it('refuses bad chunk framing with 400 after 72 KB of the body went upstream, and never lets the upstream see that body end', async () => {
    const legit = traffic();
    for (const [i, [what, parts]] of framing.entries()) {
      if (what.startsWith('Transfer-Encoding')) continue;
      const path = `/record/framing-big-${i}`;
      const [head, bad] = parts(path);
      const s = await open(port);
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString('latin1')));
      const closed = ended(s);
      s.write(head + chunks(PREFIX_BYTES));
      // Bounded wait until the request is under way upstream.
      for (let n = 0; n < 400 && reached(path).length === 0; n++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(reached(path).length, 1, `${what}: the request went upstream`);
      s.write(bad);
      await closed;
      s.destroy();
      assert.deepEqual(refusal(out), { status: 400, code: 'bad_request' }, what);
      // One more exchange with the backend, so that the cut has reached it.
      assert.match(await exchange(port, `GET /record/after-${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200 /);
      const [seen] = reached(path);
      assert.equal(seen!.complete, false, `${what}: the upstream saw the body end`);
      // At most the valid part, and the data of a chunk whose missing CRLF is seen only after it.
      assert.ok(seen!.bytes <= PREFIX_BYTES + 5, `${what}: ${seen!.bytes} bytes reached the upstream`);
    }
    assertServed(await legit.stop(), 200);
    assert.equal(charged, 0, 'none of it was charged to the backend');
  });

  it('refuses request smuggling probes with 400 and never forwards the request hidden behind them', async () => {
    const legit = traffic();
    const probes: [string, string][] = [
      ['Content-Length and Transfer-Encoding', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['two different Content-Lengths', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\n'],
      ['two equal Content-Lengths', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n'],
      ['a Content-Length list', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 0\r\n\r\n'],
      ['Transfer-Encoding twice', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['chunked, then identity', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
      ['Transfer-Encoding folded onto a second line', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
      ['a space before the colon', 'POST /record/probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
      ['HTTP/1.0 with Transfer-Encoding', 'POST /record/probe HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
      ['two Host headers', 'GET /record/probe HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'],
      ['a bare CR in a header value', 'GET /record/probe HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
      ['a NUL in a header value', 'GET /record/probe HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
    ];
    for (const [i, [what, probe]] of probes.entries()) {
      const hidden = `/record/smuggled-${i}`;
      const got = refusal(await exchange(port, probe + `GET ${hidden} HTTP/1.1\r\nHost: x\r\n\r\n`));
      assert.deepEqual(got, { status: 400, code: 'bad_request' }, what);
      assert.equal(reached(hidden).length, 0, `${what}: the hidden request was forwarded`);
    }
    assert.equal(reached('/record/probe').filter((s) => s.complete).length, 0, 'no probe was forwarded whole');
    assertServed(await legit.stop(), 200);
  });

  it('answers heads trickled past the head deadline with 408 (slowloris) while serving others', async () => {
    const legit = traffic();
    const slow = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const s = await open(port);
        let out = '';
        s.on('data', (d: Buffer) => (out += d.toString('latin1')));
        s.write(`GET /record/slowloris-${i} HTTP/1.1\r\nHost: x\r\n`);
        // Bounded: 200 header lines at most, one every 20 ms, until the proxy closes the connection.
        for (let n = 0; n < 200 && !s.destroyed && s.writable && !s.readableEnded; n++) {
          await new Promise((r) => setTimeout(r, 20));
          if (s.writable) s.write(`x-slow-${n}: y\r\n`);
        }
        await ended(s);
        s.destroy();
        return out;
      }),
    );
    for (const out of slow) assert.deepEqual(refusal(out), { status: 408, code: 'request_timeout' });
    assert.equal(backend.seen.filter((s) => s.path.startsWith('/record/slowloris')).length, 0);
    assertServed(await legit.stop(), 200);
  });

  it('cuts a partial POST whose client resets, without crashing or completing it upstream', async () => {
    const legit = traffic();
    for (let i = 0; i < 20; i++) {
      const path = `/record/reset-${i}`;
      const s = await open(port);
      s.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
      // Past the proxy's buffer on some, so that part of them is on its way upstream when the client goes.
      s.write(Buffer.alloc(i % 2 === 0 ? 1_000 : 100_000, 1));
      await new Promise((r) => setTimeout(r, 10));
      s.resetAndDestroy();
    }
    const after = await exchange(port, 'GET /record/after-resets HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(after, /^HTTP\/1\.1 200 /);
    for (const s of backend.seen.filter((x) => x.path.startsWith('/record/reset-'))) assert.equal(s.complete, false, s.path);
    assertServed(await legit.stop(), 200);
    assert.equal(charged, 0);
  });

  it('does not charge uploads dropped mid-body to the backend: its circuit stays closed for everyone', async () => {
    const legit = traffic();
    const before = charged;
    // Three times the failure threshold: each would open the circuit if it were blamed on the backend.
    for (let i = 0; i < 9; i++) {
      const s = await open(port);
      s.write(`PUT /record/dropped-${i} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
      s.write(Buffer.alloc(200_000, 2));
      // Until the upload is under way upstream, then the client goes.
      for (let n = 0; n < 200 && backend.seen.every((x) => x.path !== `/record/dropped-${i}`); n++) await new Promise((r) => setTimeout(r, 5));
      if (i % 2 === 0) s.destroy();
      else s.resetAndDestroy();
    }
    assert.equal(charged - before, 0, 'a dropped upload counted as a backend failure');
    assert.equal(ingress.context.breakers.state(key), 'closed');
    assert.ok(backend.seen.some((x) => x.path.startsWith('/record/dropped-')), 'the uploads reached the backend before they were dropped');
    assertServed(await legit.stop(), 200);
  });
});
