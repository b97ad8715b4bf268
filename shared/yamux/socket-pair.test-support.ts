// Test support: two ends of a real TCP connection on the loopback, and a raw peer that reads and
// writes Yamux frames byte by byte, for tests that play a conforming or a hostile other side.
import { once } from 'node:events';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { decodeHeader, HEADER_SIZE } from './frame.js';
import type { FrameHeader } from './frame.js';

export async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = await accepted;
  server.close();
  return [client, peer];
}

interface RawFrame extends FrameHeader {
  payload: Buffer;
}

/** The other end, driven by hand: frames in, bytes out. */
export class RawPeer {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #ended = false;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    const end = () => {
      this.#ended = true;
      this.#wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => {});
  }

  write(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes.replace(/\s+/g, ''), 'hex') : bytes);
  }

  /** The next `n` bytes; rejects if the connection ends first. */
  async bytes(n: number): Promise<Buffer> {
    while (this.#buf.length < n) {
      if (this.#ended) throw new Error(`connection ended with ${this.#buf.length} of ${n} bytes`);
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async frame(): Promise<RawFrame> {
    const h = decodeHeader(await this.bytes(HEADER_SIZE));
    const payload = h.type === 0 ? Buffer.from(await this.bytes(h.length)) : Buffer.alloc(0);
    return { ...h, payload };
  }

  /** Resolves once the connection has ended (the bytes before it stay readable). */
  async ended(): Promise<void> {
    while (!this.#ended) await new Promise<void>((resolve) => (this.#wake = resolve));
  }

  get buffered(): number {
    return this.#buf.length;
  }
}

/** Hex of a buffer, grouped as the header's fields are: `vv tt ffff iiiiiiii llllllll`. */
export function headerHex(b: Buffer): string {
  const h = b.subarray(0, HEADER_SIZE).toString('hex');
  return `${h.slice(0, 2)} ${h.slice(2, 4)} ${h.slice(4, 8)} ${h.slice(8, 16)} ${h.slice(16, 24)}`;
}
