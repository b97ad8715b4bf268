// A hostile or broken peer: every malformed frame ends the session with GoAway(protocol error)
// ("Session termination"), frames that may legitimately be in flight are dropped, and nothing
// the peer sends throws out of the session or grows this side's buffers without bound.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { createSession } from './index.js';
import type { SessionOptions, YamuxSession } from './index.js';
import { headerHex, RawPeer, socketPair } from './socket-pair.test-support.js';

const sockets: Socket[] = [];
after(() => sockets.forEach((s) => s.destroy()));

const PROTOCOL_ERROR = '00 03 0000 00000000 00000001';

async function withRaw(options: Partial<SessionOptions> = {}): Promise<{ session: YamuxSession; raw: RawPeer }> {
  const [a, b] = await socketPair();
  sockets.push(a, b);
  return { session: createSession(a, { side: 'server', keepAliveInterval: 0, ...options }), raw: new RawPeer(b) };
}

/** Sends `bytes` and expects GoAway(protocol error), the session's end, and the connection's. */
async function expectProtocolError(bytes: string, options: Partial<SessionOptions> = {}, skip = 0): Promise<void> {
  const { session, raw } = await withRaw(options);
  const closed = once(session, 'close');
  raw.write(bytes);
  for (let i = 0; i < skip; i++) await raw.frame();
  assert.equal(headerHex(await raw.bytes(12)), PROTOCOL_ERROR);
  const [err] = await closed;
  assert.equal(err.code, 'ERR_YAMUX_PROTOCOL');
  await raw.ended();
  assert.equal(session.closed, true);
}

describe('yamux hostile frames (spec "Framing", "Session termination")', () => {
  it('answers a bad version with GoAway(protocol error) ("Version Field")', async () => {
    await expectProtocolError('01 01 0001 00000001 00000000');
  });

  it('answers an unknown type with GoAway(protocol error) ("Type Field")', async () => {
    await expectProtocolError('00 04 0000 00000000 00000000');
  });

  it('refuses a Data frame longer than any window before reading its payload ("Flow Control")', async () => {
    await expectProtocolError('00 00 0001 00000001 ffffffff');
  });

  it('refuses Data beyond the stream\'s remaining window ("Flow Control")', async () => {
    const { session, raw } = await withRaw();
    session.on('stream', () => {});
    const closed = once(session, 'close');
    raw.write(Buffer.concat([Buffer.from('000000010000000100040000', 'hex'), Buffer.alloc(256 * 1024)]));
    raw.write('00 00 0000 00000001 00000001 ff');
    assert.equal((await raw.frame()).flags, 2); // the ACK
    assert.equal(headerHex(await raw.bytes(12)), PROTOCOL_ERROR);
    assert.equal((await closed)[0].code, 'ERR_YAMUX_PROTOCOL');
  });

  it('refuses a SYN for a stream id that is open ("Opening a stream")', async () => {
    await expectProtocolError('00 01 0001 00000001 00000000 00 01 0001 00000001 00000000', {}, 0);
  });

  it('refuses a SYN that reuses a closed stream id ("StreamID Field")', async () => {
    // stream 1 opened, reset by the peer, then opened again
    await expectProtocolError('00 01 0001 00000001 00000000 00 01 0008 00000001 00000000 00 01 0001 00000001 00000000', {}, 0);
  });

  it('refuses a SYN with an id of this side\'s parity ("StreamID Field")', async () => {
    await expectProtocolError('00 01 0001 00000002 00000000');
  });

  it('refuses Data or WindowUpdate on stream 0 ("StreamID Field")', async () => {
    await expectProtocolError('00 00 0000 00000000 00000000');
    await expectProtocolError('00 01 0000 00000000 00000010');
  });

  it('refuses Ping or GoAway on a stream id other than 0 ("StreamID Field")', async () => {
    await expectProtocolError('00 02 0001 00000001 00000000');
    await expectProtocolError('00 03 0000 00000001 00000000');
  });

  it('refuses a frame for a stream never opened', async () => {
    await expectProtocolError('00 00 0000 00000007 00000001 aa');
  });

  it('drops data on a closed stream (it may be in flight) and stays up', async () => {
    const { session, raw } = await withRaw();
    session.on('stream', (s) => s.destroy());
    raw.write('00 01 0001 00000001 00000000');
    const ack = await raw.frame();
    assert.equal(ack.flags, 2);
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0008 00000001 00000000');
    raw.write('00 00 0000 00000001 00000003 616263 00 01 0000 00000001 00001000 00 02 0001 00000000 00000009');
    assert.equal(headerHex(await raw.bytes(12)), '00 02 0002 00000000 00000009');
    assert.equal(session.closed, false);
  });

  it('resets a stream that gets data after the peer\'s FIN, and keeps the session', async () => {
    const { session, raw } = await withRaw();
    const got = new Promise<Error>((resolve) => session.on('stream', (s) => s.on('error', resolve).resume()));
    raw.write('00 00 0005 00000001 00000001 61 00 00 0000 00000001 00000001 62');
    assert.equal((await got as { code?: string }).code, 'ERR_YAMUX_PROTOCOL');
    assert.equal(session.closed, false);
  });

  it('survives a header cut short by the connection closing', async () => {
    const { session, raw } = await withRaw();
    const closed = once(session, 'close');
    raw.socket.end(Buffer.from('000100', 'hex'));
    assert.deepEqual(await closed, [null]);
  });

  it('never throws on random bytes', async () => {
    for (let i = 0; i < 200; i++) {
      const { session, raw } = await withRaw({ maxStreams: 8 });
      session.on('stream', (s) => s.on('error', () => {}).resume());
      const closed = once(session, 'close');
      // a valid header first half the time, so that random bytes reach deeper paths
      raw.write(Buffer.concat([i % 2 ? Buffer.from('000000010000000100000004', 'hex') : Buffer.alloc(0), randomBytes(1 + (i % 64))]));
      raw.socket.end();
      await closed;
    }
  });

  it('drops ping replies to a peer that does not read, so the write buffer stays bounded', async () => {
    const { session, raw } = await withRaw({ maxControlBuffer: 64 * 1024 });
    raw.socket.pause();
    const ping = Buffer.from('000200010000000000000001', 'hex');
    const flood = Buffer.concat(Array.from({ length: 50_000 }, () => ping)); // 600 KB of pings
    const socket = sockets.at(-2)!;
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, socket.writableLength)), 0);
    for (let i = 0; i < 20; i++) raw.write(flood);
    while (raw.socket.writableLength > 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    clearInterval(sample);
    peak = Math.max(peak, socket.writableLength);
    // 12 MB of pings in, at most the socket's buffer plus one read's worth of replies held
    assert.ok(peak < 1024 * 1024, `write buffer peaked at ${peak}`);
    assert.equal(session.closed, false);
  });

  it('ends the session when a non-reading peer makes it owe too many control frames', async () => {
    const { session, raw } = await withRaw({ maxControlBuffer: 16 * 1024, acceptBacklog: 0 });
    raw.socket.pause();
    const closed = once(session, 'close');
    // SYNs refused with RST, 12 bytes each, never read: sent until the session gives up
    let id = 1;
    while (!session.closed && id < 0x7fff_ffff) {
      const batch = Buffer.alloc(12 * 10_000);
      for (let i = 0; i < 10_000; i++, id += 2) {
        batch.writeUInt16BE(0x0001, i * 12);
        batch.writeUInt16BE(1, i * 12 + 2);
        batch.writeUInt32BE(id, i * 12 + 4);
      }
      if (!raw.socket.write(batch)) await Promise.race([once(raw.socket, 'drain'), closed]);
    }
    const [err] = await closed;
    assert.equal(err.code, 'ERR_YAMUX_WRITE_BACKLOG');
  });
});
