// The message flow of hashicorp/yamux spec.md, section by section, against a raw peer that writes
// and reads the bytes by hand (so the wire is checked byte for byte) or against a second session.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { createSession, encodeHeader, Flag, FrameType } from './index.js';
import type { SessionOptions, YamuxSession, YamuxStream } from './index.js';
import { headerHex, RawPeer, socketPair } from './socket-pair.test-support.js';

const sockets: Socket[] = [];
after(() => sockets.forEach((s) => s.destroy()));

/** A session on one end and a raw peer on the other. */
async function withRaw(options: SessionOptions): Promise<{ session: YamuxSession; raw: RawPeer }> {
  const [a, b] = await socketPair();
  sockets.push(a, b);
  return { session: createSession(a, { keepAliveInterval: 0, ...options }), raw: new RawPeer(b) };
}

async function sessions(client: Partial<SessionOptions> = {}, server: Partial<SessionOptions> = {}): Promise<{ client: YamuxSession; server: YamuxSession }> {
  const [a, b] = await socketPair();
  sockets.push(a, b);
  return {
    client: createSession(a, { side: 'client', keepAliveInterval: 0, ...client }),
    server: createSession(b, { side: 'server', keepAliveInterval: 0, ...server }),
  };
}

async function readAll(stream: YamuxStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  // destroyOnReturn: false keeps the writable side open after the read side ends (half-close)
  for await (const d of stream.iterator({ destroyOnReturn: false })) parts.push(d as Buffer);
  return Buffer.concat(parts);
}

/** Lets queued I/O callbacks run (no clock involved). */
const settle = async (rounds = 20) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
};

describe('yamux spec "StreamID Field"', () => {
  it('gives the client odd ids and the server even ids, from 1 and 2', async () => {
    const { client, server } = await sessions();
    assert.deepEqual([client.open().id, client.open().id, client.open().id], [1, 3, 5]);
    assert.deepEqual([server.open().id, server.open().id], [2, 4]);
  });
});

describe('yamux spec "Opening a stream"', () => {
  it('sends a WindowUpdate with SYN for the new id, and the receiver ACKs it', async () => {
    const { session, raw } = await withRaw({ side: 'client' });
    session.open();
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0001 00000001 00000000');
    raw.write('00 01 0001 00000002 00000000'); // the raw peer opens stream 2
    const accepted = await session.accept();
    assert.equal(accepted.id, 2);
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0002 00000002 00000000');
  });

  it('lets the opener send data before the ACK arrives', async () => {
    const { session, raw } = await withRaw({ side: 'client' });
    const s = session.open();
    s.write('hello');
    await raw.bytes(12);
    const f = await raw.frame();
    assert.deepEqual([f.type, f.flags, f.streamId, f.payload.toString()], [0, 0, 1, 'hello']);
  });

  it('takes a SYN on a Data frame with its payload', async () => {
    const { session, raw } = await withRaw({ side: 'server' });
    raw.write('00 00 0001 00000001 00000002 6869');
    const s = await session.accept();
    const [chunk] = await once(s, 'data');
    assert.equal(chunk.toString(), 'hi');
  });

  it('carries a larger window in the SYN when configured', async () => {
    const { session, raw } = await withRaw({ side: 'client', maxStreamWindow: 1024 * 1024 });
    session.open();
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0001 00000001 000c0000');
  });

  it('rejects with RST when the accept backlog is full, and the opener sees a reset', async () => {
    const { session, raw } = await withRaw({ side: 'server', acceptBacklog: 1 });
    raw.write('00 01 0001 00000001 00000000 00 01 0001 00000003 00000000');
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0008 00000003 00000000');
    assert.equal(session.stats.streamsRefused, 1);
    assert.equal((await session.accept()).id, 1);

    const { client, server } = await sessions({}, { acceptBacklog: 0 });
    const s = client.open();
    s.write('x');
    const [err] = await once(s, 'error');
    assert.equal(err.code, 'ERR_YAMUX_STREAM_RESET');
    assert.equal(server.stats.streamsRefused, 1);
  });

  it('refuses streams past the per-session limit with RST', async () => {
    const { session, raw } = await withRaw({ side: 'server', maxStreams: 2 });
    session.on('stream', () => {});
    raw.write('00 01 0001 00000001 00000000 00 01 0001 00000003 00000000 00 01 0001 00000005 00000000');
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0002 00000001 00000000');
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0002 00000003 00000000');
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0008 00000005 00000000');
    assert.throws(() => session.open(), { code: 'ERR_YAMUX_STREAMS_EXHAUSTED' });
  });
});

describe('yamux spec "Closing a stream"', () => {
  it('half-closes with FIN: the other side reads to the end and can still answer', async () => {
    const { client, server } = await sessions();
    server.on('stream', async (s: YamuxStream) => {
      const got = await readAll(s);
      s.end(`echo:${got.toString()}`);
    });
    const s = client.open();
    s.end('ping');
    assert.equal((await readAll(s)).toString(), 'echo:ping');
    if (!s.destroyed) await once(s, 'close');
    await settle();
    assert.equal(client.stats.streams, 0);
    assert.equal(server.stats.streams, 0);
  });

  it('sends FIN as a WindowUpdate with the FIN flag', async () => {
    const { session, raw } = await withRaw({ side: 'client' });
    session.open().end();
    await raw.bytes(12);
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0004 00000001 00000000');
  });

  it('closes hard with RST: destroy() resets the peer\'s stream', async () => {
    const { client, server } = await sessions();
    const accepted = server.accept();
    const s = client.open();
    s.write('x');
    const peer = await accepted;
    s.destroy();
    const [err] = await once(peer, 'error');
    assert.equal(err.code, 'ERR_YAMUX_STREAM_RESET');
  });

  it('sends RST when a stream is destroyed before both sides closed', async () => {
    const { session, raw } = await withRaw({ side: 'client' });
    session.open().destroy();
    await raw.bytes(12);
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0008 00000001 00000000');
  });
});

describe('yamux spec "Flow Control"', () => {
  it('stops at the 256 KiB initial window and goes on by exactly the update\'s delta', async () => {
    const { session, raw } = await withRaw({ side: 'client' });
    const s = session.open();
    s.write(Buffer.alloc(1024 * 1024, 1));
    await raw.bytes(12); // SYN
    let data = 0;
    while (data < 256 * 1024) {
      const f = await raw.frame();
      assert.equal(f.type, 0);
      data += f.length;
    }
    assert.equal(data, 256 * 1024);
    await settle();
    assert.equal(raw.buffered, 0, 'nothing past the window');
    assert.equal(session.stats.windowStalls, 1);
    raw.write('00 01 0000 00000001 000003e8'); // window update of 1000
    const f = await raw.frame();
    assert.equal(f.length, 1000);
    await settle();
    assert.equal(raw.buffered, 0);
  });

  it('counts Data bytes only: a FIN or empty Data frame does not use the window', async () => {
    const { session, raw } = await withRaw({ side: 'server' });
    raw.write('00 01 0001 00000001 00000000');
    const s = await session.accept();
    await raw.bytes(12); // ACK
    raw.write('00 00 0000 00000001 00000000 00 01 0004 00000001 00000000');
    s.resume();
    await once(s, 'end');
    assert.equal(s.receiveCredit, 256 * 1024);
  });

  it('credits the peer only once the reader has taken the data', async () => {
    const { session, raw } = await withRaw({ side: 'server' });
    raw.write('00 01 0001 00000001 00000000');
    const s = await session.accept();
    await raw.bytes(12); // ACK
    const payload = Buffer.alloc(200 * 1024, 2);
    raw.write(Buffer.concat([Buffer.from('000000000000000100032000', 'hex'), payload]));
    await settle();
    assert.equal(raw.buffered, 0, 'no update while unread');
    assert.equal(s.receiveCredit, 56 * 1024);
    let read = 0;
    s.on('data', (d: Buffer) => (read += d.length));
    const f = await raw.frame();
    assert.deepEqual([f.type, f.flags, f.streamId], [1, 0, 1]);
    assert.ok(f.length >= 128 * 1024, 'an update of at least half the window');
    assert.ok(f.length <= read, 'never credits unread bytes');
    assert.equal(s.receiveCredit, 56 * 1024 + f.length);
  });
});

describe('yamux spec "Ping"', () => {
  it('echoes a Ping SYN\'s opaque value with ACK on stream 0', async () => {
    const { raw } = await withRaw({ side: 'server' });
    raw.write('00 02 0001 00000000 12345678');
    assert.equal(headerHex(await raw.bytes(12)), '00 02 0002 00000000 12345678');
  });

  it('measures the round trip', async () => {
    const { client, server } = await sessions();
    const rtt = await client.ping();
    assert.ok(rtt >= 0);
    assert.equal(client.stats.rttMs, rtt);
    assert.ok((await server.ping()) >= 0);
  });

  it('sends keepalive pings on its own and records the RTT', async () => {
    const { session, raw } = await withRaw({ side: 'client', keepAliveInterval: 1 });
    const f = await raw.frame();
    assert.deepEqual([f.type, f.flags, f.streamId], [2, 1, 0]);
    raw.write(encodeHeader(FrameType.Ping, Flag.ACK, 0, f.length));
    while (session.stats.rttMs === undefined) await settle(1);
    assert.ok(session.stats.rttMs >= 0);
    session.destroy();
  });
});

describe('yamux spec "Session termination"', () => {
  it('sends GoAway(normal) on close and ends the connection once streams finish', async () => {
    const { client, server } = await sessions();
    const serverSeen = new Promise<YamuxStream>((resolve) => server.on('stream', resolve));
    const s = client.open();
    s.write('in flight');
    const peer = await serverSeen;
    const goaway = once(server, 'goaway');
    const closed = client.close();
    assert.deepEqual(await goaway, [0]);
    assert.throws(() => server.open(), { code: 'ERR_YAMUX_REMOTE_GOAWAY' });
    assert.throws(() => client.open(), { code: 'ERR_YAMUX_SESSION_CLOSED' });
    // the stream in flight finishes both ways
    peer.end('done');
    const [d] = await once(s, 'data');
    assert.equal(d.toString(), 'done');
    s.end();
    s.resume();
    peer.resume();
    await closed;
    await once(server, 'close');
  });

  it('refuses a new stream after its own GoAway', async () => {
    const { session, raw } = await withRaw({ side: 'server' });
    session.goAway();
    assert.equal(headerHex(await raw.bytes(12)), '00 03 0000 00000000 00000000');
    raw.write('00 01 0001 00000001 00000000');
    assert.equal(headerHex(await raw.bytes(12)), '00 01 0008 00000001 00000000');
  });

  it('ends the session on GoAway(protocol error) or GoAway(internal error) from the peer', async () => {
    for (const code of ['00000001', '00000002']) {
      const { session, raw } = await withRaw({ side: 'client' });
      const s = session.open();
      s.on('error', () => {});
      raw.write(`00 03 0000 00000000 ${code}`);
      const [err] = await once(session, 'close');
      assert.equal(err.code, 'ERR_YAMUX_REMOTE_GOAWAY');
      assert.ok(s.destroyed);
    }
  });

  it('fails open streams when the connection drops', async () => {
    const { session, raw } = await withRaw({ side: 'client' });
    const s = session.open();
    const errored = once(s, 'error');
    const pending = session.accept();
    raw.socket.destroy();
    const [err] = await errored;
    assert.equal(err.code, 'ERR_YAMUX_SESSION_CLOSED');
    await assert.rejects(pending, { code: 'ERR_YAMUX_SESSION_CLOSED' });
  });
});
