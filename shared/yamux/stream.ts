// A Yamux stream as a Node Duplex. Writes go out as Data frames no larger than the peer's window
// ("Flow Control"), and wait for the socket's 'drain' when it is full, so that a slow peer never
// makes this side buffer more than the socket's high-water mark plus one frame. Reads are credited
// back to the peer with WindowUpdate frames only once the reader has taken them, so a slow reader
// holds the sender at one window.
import { Duplex } from 'node:stream';
import { Flag, FrameType, INITIAL_WINDOW } from './frame.js';
import { YamuxError } from './errors.js';

/** Largest payload of one Data frame we send: keeps one stream from holding the socket long. */
const MAX_FRAME_PAYLOAD = 64 * 1024;

/** What a stream needs of its session. */
export interface StreamHost {
  sendControl(type: FrameType, flags: number, streamId: number, length: number): void;
  sendData(flags: number, streamId: number, payload: Buffer): void;
  /** False while the socket waits for 'drain'. */
  canWrite(): boolean;
  /** Calls `stream.flush()` on the socket's next 'drain'. */
  waitDrain(stream: YamuxStream): void;
  /** The stream is done: forget its id. */
  release(stream: YamuxStream): void;
  windowStalled(): void;
}

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: (error?: Error | null) => void;
}

export class YamuxStream extends Duplex {
  readonly id: number;
  readonly #host: StreamHost;
  /** Bytes we may still send before the peer's next WindowUpdate. */
  #sendWindow = INITIAL_WINDOW;
  /** Bytes the peer may still send us (the credit it holds). */
  #recvWindow = INITIAL_WINDOW;
  /** The receive window we grant: 256 KiB until an incoming stream is accepted, then the configured size. */
  #windowCap: number;
  readonly #maxWindow: number;
  /** SYN or ACK still to send with the next frame of this stream. */
  #pendingFlags = 0;
  #pending: PendingWrite | undefined;
  #stalled = false;
  #finSent = false;
  #finReceived = false;
  #resetReceived = false;
  #sessionGone = false;

  constructor(host: StreamHost, id: number, maxWindow: number, outbound: boolean) {
    super({ allowHalfOpen: true });
    this.#host = host;
    this.id = id;
    this.#maxWindow = maxWindow;
    this.#windowCap = outbound ? maxWindow : INITIAL_WINDOW;
    if (outbound) {
      // "Opening a stream": a WindowUpdate with SYN, carrying the extra window at once.
      this.#pendingFlags = Flag.SYN;
      this.#updateWindow(true);
    }
  }

  /** The credit the peer holds for this stream (for the session's length check). */
  get receiveCredit(): number {
    return this.#recvWindow;
  }

  /** An incoming stream handed to the application: ACK it, with the extra window. */
  accept(): void {
    this.#windowCap = this.#maxWindow;
    this.#pendingFlags |= Flag.ACK;
    this.#updateWindow(true);
  }

  // --- from the session -------------------------------------------------------------------

  receiveData(piece: Buffer): void {
    this.#recvWindow -= piece.length;
    if (this.destroyed) return;
    if (this.#finReceived) {
      // Data after the peer's FIN: the peer broke the stream, not the session.
      this.#fail(new YamuxError('ERR_YAMUX_PROTOCOL', `data on stream ${this.id} after FIN`));
      return;
    }
    this.push(piece);
    this.#updateWindow(false);
  }

  receiveWindowUpdate(delta: number): void {
    this.#sendWindow += delta;
    if (delta > 0 && this.#stalled) {
      this.#stalled = false;
      this.flush();
    }
  }

  receiveFin(): void {
    if (this.#finReceived || this.destroyed) return;
    this.#finReceived = true;
    this.push(null);
  }

  receiveReset(): void {
    this.#resetReceived = true;
    this.#fail(new YamuxError('ERR_YAMUX_STREAM_RESET', `stream ${this.id} reset by the peer`));
  }

  /** The session ended under this stream. */
  abort(error: Error | null): void {
    this.#sessionGone = true;
    if (error) this.#fail(error);
    else this.destroy();
  }

  /**
   * Ends the stream for a cause the peer or the connection brought about. It is emitted as
   * 'error' to whoever listens; a stream nobody listens to closes quietly rather than take the
   * process down (the session reports its own end on 'close').
   */
  #fail(error: YamuxError | Error): void {
    if (this.listenerCount('error') > 0) this.destroy(error);
    else this.destroy();
  }

  // --- writing ----------------------------------------------------------------------------

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pending = { chunk, offset: 0, callback };
    this.flush();
  }

  /** Sends what the window and the socket allow of the pending write. */
  flush(): void {
    const p = this.#pending;
    if (!p || this.destroyed) return;
    while (p.offset < p.chunk.length) {
      if (this.#sendWindow <= 0) {
        if (!this.#stalled) {
          this.#stalled = true;
          this.#host.windowStalled();
        }
        return;
      }
      if (!this.#host.canWrite()) {
        this.#host.waitDrain(this);
        return;
      }
      const n = Math.min(p.chunk.length - p.offset, this.#sendWindow, MAX_FRAME_PAYLOAD);
      const flags = this.#pendingFlags;
      this.#pendingFlags = 0;
      this.#host.sendData(flags, this.id, p.chunk.subarray(p.offset, p.offset + n));
      p.offset += n;
      this.#sendWindow -= n;
    }
    this.#pending = undefined;
    p.callback();
  }

  /**
   * end() on a stream whose writable side has finished does nothing, as Node's end() does, but
   * without making the ERR_STREAM_ALREADY_FINISHED it would throw away: node's http server ends
   * its socket again when the peer's FIN arrives after its answer (every tunnel stream), and the
   * error's stack trace cost a few per cent of the tunnel's CPU.
   */
  override end(...args: unknown[]): this {
    if (this.writableFinished && args.length === 0) return this;
    return (super.end as (...a: unknown[]) => this)(...args);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // "Closing a stream": a WindowUpdate with FIN, a half-close.
    const flags = this.#pendingFlags | Flag.FIN;
    this.#pendingFlags = 0;
    this.#host.sendControl(FrameType.WindowUpdate, flags, this.id, 0);
    this.#finSent = true;
    callback();
  }

  // --- reading ----------------------------------------------------------------------------

  override _read(): void {
    this.#updateWindow(false);
  }

  /**
   * Every way of consuming (flowing 'data', read(), the async iterator) goes through read(); _read
   * alone is not enough, as Node calls it again only after a push.
   */
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    if (chunk !== null) this.#updateWindow(false);
    return chunk;
  }

  /**
   * Credits the peer with what the reader has taken since the last update: at once when
   * `force` (SYN/ACK), otherwise once it reaches half the window (as hashicorp/yamux does).
   */
  #updateWindow(force: boolean): void {
    if (this.destroyed || (this.#finReceived && !force)) return;
    const delta = Math.max(0, this.#windowCap - this.#recvWindow - this.readableLength);
    if (!force && (delta === 0 || delta < this.#windowCap / 2)) return;
    const flags = this.#pendingFlags;
    this.#pendingFlags = 0;
    this.#recvWindow += delta;
    this.#host.sendControl(FrameType.WindowUpdate, flags, this.id, delta);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const clean = this.#finSent && this.#finReceived;
    if (!clean && !this.#resetReceived && !this.#sessionGone) {
      // "Closing a stream": RST closes it at once.
      this.#host.sendControl(FrameType.WindowUpdate, Flag.RST, this.id, 0);
    }
    // A write held for window or drain is dropped with the stream (Node ignores its callback).
    this.#pending = undefined;
    this.#host.release(this);
    callback(error);
  }
}
