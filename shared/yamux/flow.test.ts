// Flow control under load ("Flow Control"): a slow reader holds the sender to one window, so
// neither side buffers without bound; and a thousand streams share one session at once.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Socket } from 'node:net';
import { createSession, INITIAL_WINDOW } from './index.js';
import type { YamuxSession, YamuxStream } from './index.js';
import { socketPair } from './socket-pair.test-support.js';

const sockets: Socket[] = [];
after(() => sockets.forEach((s) => s.destroy()));

async function sessions(): Promise<{ client: YamuxSession; server: YamuxSession; clientSocket: Socket }> {
  const [a, b] = await socketPair();
  sockets.push(a, b);
  return {
    client: createSession(a, { side: 'client', keepAliveInterval: 0 }),
    server: createSession(b, { side: 'server', keepAliveInterval: 0 }),
    clientSocket: a,
  };
}

const tick = () => new Promise((r) => setImmediate(r));
const CHUNK = 64 * 1024;
const TOTAL = 32 * 1024 * 1024;

/**
 * Reads at most 16 KiB per event-loop turn; `onStep(bytesReadSoFar)` after each read. It reads
 * what is buffered rather than asking for a full 16 KiB: read(n) of more than is buffered returns
 * null, and a 'readable' listener added while data is buffered fires at once (next tick), so
 * waiting for it would spin on the microtask queue and starve the socket of the bytes it waits for.
 */
async function slowRead(stream: YamuxStream, onStep: (bytes: number) => void): Promise<{ bytes: number; sha: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const ended = once(stream, 'end');
  for (;;) {
    const buffered = stream.readableLength;
    const chunk = (buffered > 0 ? stream.read(Math.min(16 * 1024, buffered)) : stream.read()) as Buffer | null;
    if (chunk) {
      hash.update(chunk);
      bytes += chunk.length;
      onStep(bytes);
      await tick();
      continue;
    }
    if (stream.readableEnded) break;
    await Promise.race([once(stream, 'readable'), ended]);
    if (stream.readableEnded) break;
  }
  return { bytes, sha: hash.digest('hex') };
}

function source(total: number, onChunk: (chunk: Buffer) => void): Readable {
  let made = 0;
  return Readable.from(
    (function* () {
      for (let i = 0; made < total; i++) {
        const chunk = Buffer.alloc(CHUNK, i % 251);
        made += chunk.length;
        onChunk(chunk);
        yield chunk;
      }
    })(),
    { objectMode: false, highWaterMark: CHUNK },
  );
}

describe('yamux flow control under a slow reader ("Flow Control")', () => {
  it('holds the sender within one window of what the reader took (32 MiB, backpressure respected)', async () => {
    const { client, server, clientSocket } = await sessions();
    const accepted = server.accept();
    const s = client.open();
    let produced = 0;
    const sent = createHash('sha256');
    const writing = pipeline(source(TOTAL, (c) => { produced += c.length; sent.update(c); }), s);
    const peer = await accepted;
    let maxAhead = 0;
    let maxReadBuffer = 0;
    let maxSocketBuffer = 0;
    const got = await slowRead(peer, (read) => {
      maxAhead = Math.max(maxAhead, produced - read);
      maxReadBuffer = Math.max(maxReadBuffer, peer.readableLength);
      maxSocketBuffer = Math.max(maxSocketBuffer, clientSocket.writableLength);
    });
    await writing;
    assert.equal(got.bytes, TOTAL);
    assert.equal(got.sha, sent.digest('hex'));
    // produced but unread: the window, the stream's write buffer and the source's, one chunk each
    const bound = INITIAL_WINDOW + s.writableHighWaterMark + 3 * CHUNK;
    assert.ok(maxAhead <= bound, `sender ran ${maxAhead} bytes ahead of the reader (bound ${bound})`);
    assert.ok(maxReadBuffer <= INITIAL_WINDOW, `reader buffered ${maxReadBuffer}`);
    assert.ok(maxSocketBuffer <= INITIAL_WINDOW + CHUNK, `socket buffered ${maxSocketBuffer}`);
    assert.ok(client.stats.windowStalls > 0, 'the sender waited for the window');
  });

  it('keeps the socket buffer bounded when one write hands it 16 MiB at once', async () => {
    const { client, server, clientSocket } = await sessions();
    const accepted = server.accept();
    const s = client.open();
    s.end(Buffer.alloc(16 * 1024 * 1024, 7));
    const peer = await accepted;
    let maxSocketBuffer = 0;
    let maxReadBuffer = 0;
    const got = await slowRead(peer, () => {
      maxSocketBuffer = Math.max(maxSocketBuffer, clientSocket.writableLength);
      maxReadBuffer = Math.max(maxReadBuffer, peer.readableLength);
    });
    assert.equal(got.bytes, 16 * 1024 * 1024);
    assert.ok(maxSocketBuffer <= INITIAL_WINDOW + CHUNK, `socket buffered ${maxSocketBuffer}`);
    assert.ok(maxReadBuffer <= INITIAL_WINDOW, `reader buffered ${maxReadBuffer}`);
  });
});

describe('yamux sessions with many streams', () => {
  it('carries 1,000 concurrent streams, each with its own request and answer', async () => {
    const { client, server } = await sessions();
    server.on('stream', (st: YamuxStream) => {
      const parts: Buffer[] = [];
      st.on('data', (d: Buffer) => parts.push(d));
      st.on('end', () => st.end(Buffer.concat(parts).reverse()));
    });
    const streams = Array.from({ length: 1000 }, () => client.open());
    assert.equal(client.stats.streams, 1000);
    const answers = streams.map(async (st, i) => {
      const body = Buffer.from(`request ${i} `.repeat(100));
      st.end(body);
      const parts: Buffer[] = [];
      for await (const d of st) parts.push(d as Buffer);
      assert.deepEqual(Buffer.concat(parts), Buffer.from(body).reverse());
    });
    await Promise.all(answers);
    assert.equal(server.stats.streamsAccepted, 1000);
    assert.equal(server.stats.streamsRefused, 0);
    while (client.stats.streams || server.stats.streams) await tick();
  });
});
