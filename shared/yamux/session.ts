// A Yamux session over one reliable byte stream (hashicorp/yamux spec.md). The client opens odd
// stream ids, the server even ones ("StreamID Field"); id 0 is the session's own, for Ping and
// GoAway. A peer that breaks the spec gets GoAway(protocol error) and the session ends: nothing it
// sends can crash the process or make this side buffer without bound (data is bounded by the
// windows we grant, control replies by `maxControlBuffer`).
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { Flag, FrameType, GoAwayCode, HEADER_SIZE, INITIAL_WINDOW, MAX_UINT32, VERSION, writeHeader } from './frame.js';
import type { FrameHeader } from './frame.js';
import { FrameReader } from './frame-reader.js';
import { YamuxError } from './errors.js';
import { YamuxStream } from './stream.js';
import type { StreamHost } from './stream.js';
import { Keepalive } from './keepalive.js';

/** Frames are written into slabs of this size, handed to the socket as one buffer per tick. */
const SLAB_SIZE = 64 * 1024;
/** A Data payload up to this size is copied into the slab (and may join its stream's previous frame); larger ones go out as they are. */
const SMALL_PAYLOAD = 16 * 1024;

export interface SessionOptions {
  /** The client opens odd stream ids, the server even ones. */
  side: 'client' | 'server';
  /** The receive window granted per stream (>= 256 KiB, the spec's initial window). */
  maxStreamWindow?: number;
  /** Incoming streams held for `accept()` before new ones are refused with RST (default 256). */
  acceptBacklog?: number;
  /** Open streams per session, both directions (default 4096); more are refused with RST. */
  maxStreams?: number;
  /** Milliseconds between keepalive pings; 0 turns them off (default 30 000). */
  keepAliveInterval?: number;
  /** Milliseconds a keepalive ping may go unanswered before the session ends (default 30 000). */
  keepAliveTimeout?: number;
  /** Bytes of control frames owed to a peer that does not read before the session ends (default 1 MiB). */
  maxControlBuffer?: number;
}

export interface SessionStats {
  streams: number;
  streamsOpened: number;
  streamsAccepted: number;
  streamsRefused: number;
  bytesIn: number;
  bytesOut: number;
  /** Times a stream had data to send and no window left. */
  windowStalls: number;
  /** Round-trip time of the last answered ping, in milliseconds. */
  rttMs: number | undefined;
}

interface Waiter {
  resolve(stream: YamuxStream): void;
  reject(error: Error): void;
}

export class YamuxSession extends EventEmitter implements StreamHost {
  readonly side: 'client' | 'server';
  readonly #socket: Duplex;
  readonly #reader: FrameReader;
  readonly #streams = new Map<number, YamuxStream>();
  readonly #backlog: YamuxStream[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #drainWaiters = new Set<YamuxStream>();
  readonly #keepalive: Keepalive;
  readonly #maxWindow: number;
  readonly #acceptBacklog: number;
  readonly #maxStreams: number;
  readonly #maxControlBuffer: number;
  #nextId: number;
  #lastRemoteId = 0;
  /** The stream the Data frame being read belongs to (undefined: discard its payload). */
  #frameStream: YamuxStream | undefined;
  #frameFin = false;
  #goAwaySent = false;
  #remoteGoAway = false;
  #closing: (() => void) | undefined;
  #closed = false;
  #closeError: Error | null = null;
  #corked = false;
  /**
   * Outgoing frames of this tick: written one after another into a slab, the part not yet handed
   * to the socket (`#slabStart` to `#slabUsed`) handed over as one buffer at the end of the tick
   * (or before a large payload, or when the slab is full). The slab is never rewritten below
   * `#slabUsed`, so what the socket holds stays intact.
   */
  #slab = Buffer.allocUnsafe(SLAB_SIZE);
  #slabUsed = 0;
  #slabStart = 0;
  /** Offset in the slab of the last frame if it is a small Data frame that may still grow (-1: none), and its stream. */
  #openFrame = -1;
  #openStream = 0;
  readonly stats: SessionStats = {
    streams: 0, streamsOpened: 0, streamsAccepted: 0, streamsRefused: 0, bytesIn: 0, bytesOut: 0, windowStalls: 0, rttMs: undefined,
  };

  constructor(socket: Duplex, options: SessionOptions) {
    super();
    if (options.side !== 'client' && options.side !== 'server') throw new TypeError("side must be 'client' or 'server'");
    const maxWindow = options.maxStreamWindow ?? INITIAL_WINDOW;
    if (!Number.isInteger(maxWindow) || maxWindow < INITIAL_WINDOW || maxWindow > MAX_UINT32) {
      throw new TypeError(`maxStreamWindow must be an integer from ${INITIAL_WINDOW} to ${MAX_UINT32}`);
    }
    this.side = options.side;
    this.#socket = socket;
    this.#maxWindow = maxWindow;
    this.#acceptBacklog = options.acceptBacklog ?? 256;
    this.#maxStreams = options.maxStreams ?? 4096;
    this.#maxControlBuffer = options.maxControlBuffer ?? 1024 * 1024;
    this.#nextId = options.side === 'client' ? 1 : 2;
    this.#reader = new FrameReader({
      header: (h) => this.#onHeader(h),
      payload: (piece) => this.#onPayload(piece),
      frameEnd: () => this.#onFrameEnd(),
    });
    this.#keepalive = new Keepalive(this, options.keepAliveInterval ?? 30_000, options.keepAliveTimeout ?? 30_000);
    socket.on('data', (chunk: Buffer) => {
      this.stats.bytesIn += chunk.length;
      this.#reader.push(chunk);
    });
    socket.on('drain', () => this.#onDrain());
    socket.on('end', () => this.#terminate(this.#streams.size ? new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the peer closed the connection') : null));
    socket.on('error', (error: Error) => this.#terminate(new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the connection failed', { cause: error })));
    socket.on('close', () => this.#terminate(this.#streams.size ? new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the connection closed') : null));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Opens a stream; data may be written at once ("Opening a stream": no need to wait for ACK). */
  open(): YamuxStream {
    if (this.#closed || this.#closing) throw new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the session is closed');
    if (this.#goAwaySent) throw new YamuxError('ERR_YAMUX_GOAWAY', 'this side has sent GoAway');
    if (this.#remoteGoAway) throw new YamuxError('ERR_YAMUX_REMOTE_GOAWAY', 'the peer has sent GoAway');
    if (this.#nextId > MAX_UINT32) throw new YamuxError('ERR_YAMUX_STREAMS_EXHAUSTED', 'no stream id left in this session');
    if (this.#streams.size >= this.#maxStreams) throw new YamuxError('ERR_YAMUX_STREAMS_EXHAUSTED', `at most ${this.#maxStreams} streams per session`);
    const id = this.#nextId;
    this.#nextId += 2;
    const stream = new YamuxStream(this, id, this.#maxWindow, true);
    this.#track(stream);
    this.stats.streamsOpened++;
    return stream;
  }

  /** The next incoming stream (use this or the 'stream' event, not both). */
  accept(): Promise<YamuxStream> {
    const stream = this.#backlog.shift();
    if (stream) {
      stream.accept();
      return Promise.resolve(stream);
    }
    if (this.#closed || this.#closing) return Promise.reject(this.#closeError ?? new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the session is closed'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Measures the round trip with a Ping ("Ping - Used to measure RTT"), in milliseconds. */
  ping(): Promise<number> {
    return this.#keepalive.ping();
  }

  /** Sends GoAway once: the peer opens no more streams; ours go on. */
  goAway(code: GoAwayCode = GoAwayCode.Normal): void {
    if (this.#goAwaySent || this.#closed) return;
    this.#goAwaySent = true;
    this.#frame(FrameType.GoAway, 0, 0, code);
  }

  /** Graceful close: GoAway(normal), let open streams finish, then end the connection. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.goAway(GoAwayCode.Normal);
    for (const stream of this.#backlog.splice(0)) stream.destroy();
    return new Promise((resolve) => {
      this.once('close', () => resolve());
      this.#closing = () => this.#terminate(null);
      if (this.#streams.size === 0) this.#closing();
    });
  }

  /** Ends the session now: open streams fail with `error` (or ERR_YAMUX_SESSION_CLOSED). */
  destroy(error?: Error): void {
    this.goAway(error ? GoAwayCode.InternalError : GoAwayCode.Normal);
    this.#terminate(error ?? null);
  }

  // --- StreamHost ---------------------------------------------------------------------------

  sendControl(type: FrameType, flags: number, streamId: number, length: number): void {
    if (this.#closed) return;
    if (this.#socket.writableLength + this.#slabUsed - this.#slabStart > this.#maxControlBuffer) {
      this.#terminate(new YamuxError('ERR_YAMUX_WRITE_BACKLOG', 'the peer does not read what it is sent'));
      return;
    }
    // A FIN right after its stream's Data frame of this tick rides on that frame ("FIN ... may be
    // sent with a data or window update message").
    if (type === FrameType.WindowUpdate && flags === Flag.FIN && length === 0 && this.#openFrame >= 0 && this.#openStream === streamId) {
      const at = this.#openFrame + 2;
      this.#slab.writeUInt16BE(this.#slab.readUInt16BE(at) | Flag.FIN, at);
      this.#openFrame = -1;
      return;
    }
    this.#frame(type, flags, streamId, length);
  }

  sendData(flags: number, streamId: number, payload: Buffer): void {
    if (this.#closed) return;
    const n = payload.length;
    if (n <= SMALL_PAYLOAD) {
      // The stream's writes of one tick join its Data frame of this tick while they fit: one
      // frame, and one read on the far side, for a request head and its body.
      const open = this.#openFrame;
      if (open >= 0 && this.#openStream === streamId && flags === 0) {
        const length = this.#slab.readUInt32BE(open + 8);
        if (length + n <= SMALL_PAYLOAD && this.#slabUsed + n <= this.#slab.length) {
          payload.copy(this.#slab, this.#slabUsed);
          this.#slabUsed += n;
          this.#slab.writeUInt32BE(length + n, open + 8);
          return;
        }
      }
      this.#reserve(HEADER_SIZE + n);
      const at = this.#slabUsed;
      writeHeader(this.#slab, at, FrameType.Data, flags, streamId, n);
      payload.copy(this.#slab, at + HEADER_SIZE);
      this.#slabUsed += HEADER_SIZE + n;
      this.#openFrame = at;
      this.#openStream = streamId;
      this.#batch();
      return;
    }
    // A large payload is not copied: its header goes out with what the slab holds, then the payload.
    this.#frame(FrameType.Data, flags, streamId, n);
    this.#flushSlab();
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.stats.bytesOut += n;
    this.#socket.write(payload);
  }

  /** A frame without payload into the slab. */
  #frame(type: FrameType, flags: number, streamId: number, length: number): void {
    this.#reserve(HEADER_SIZE);
    writeHeader(this.#slab, this.#slabUsed, type, flags, streamId, length);
    this.#slabUsed += HEADER_SIZE;
    this.#openFrame = -1;
    this.#batch();
  }

  /** Room for `n` more bytes in the slab: a full slab is handed over and a new one started. */
  #reserve(n: number): void {
    if (this.#slabUsed + n <= this.#slab.length) return;
    this.#flushSlab();
    this.#slab = Buffer.allocUnsafe(Math.max(SLAB_SIZE, n));
    this.#slabUsed = this.#slabStart = 0;
  }

  /** Hands the socket what the slab holds that it does not have yet. */
  #flushSlab(): void {
    this.#openFrame = -1;
    if (this.#slabUsed === this.#slabStart) return;
    const out = this.#slab.subarray(this.#slabStart, this.#slabUsed);
    this.#slabStart = this.#slabUsed;
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    this.stats.bytesOut += out.length;
    this.#batch().write(out);
  }

  /**
   * The socket, corked until the end of this tick: the frames one turn of the event loop
   * produces (a SYN, its data and its FIN; the window updates of one read) go out in one write.
   */
  #batch(): Duplex {
    const socket = this.#socket;
    if (!this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#flushSlab();
        this.#corked = false;
        socket.uncork();
      });
    }
    return socket;
  }

  canWrite(): boolean {
    return !this.#socket.writableNeedDrain;
  }

  waitDrain(stream: YamuxStream): void {
    this.#drainWaiters.add(stream);
  }

  release(stream: YamuxStream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    this.#drainWaiters.delete(stream);
    this.stats.streams = this.#streams.size;
    if (this.#streams.size === 0 && this.#closing) this.#closing();
  }

  windowStalled(): void {
    this.stats.windowStalls++;
  }

  /** For the keepalive: a Ping frame, unless the peer is not reading (then it is dropped). */
  sendPing(flags: number, opaque: number): void {
    if (this.#closed || this.#socket.writableNeedDrain) return;
    this.#frame(FrameType.Ping, flags, 0, opaque);
  }

  /** For the keepalive: the peer stopped answering. */
  fail(error: YamuxError): void {
    this.goAway(GoAwayCode.InternalError);
    this.#terminate(error);
  }

  // --- reading frames ---------------------------------------------------------------------

  #onHeader(h: FrameHeader): void {
    this.#frameStream = undefined;
    this.#frameFin = false;
    if (h.version !== VERSION) return this.#protocolError(`unsupported version ${h.version}`);
    switch (h.type) {
      case FrameType.Data:
      case FrameType.WindowUpdate:
        return this.#onStreamFrame(h);
      case FrameType.Ping:
        if (h.streamId !== 0) return this.#protocolError('Ping on a stream id other than 0');
        if (h.flags & Flag.SYN) this.sendPing(Flag.ACK, h.length);
        else if (h.flags & Flag.ACK) this.#keepalive.answered(h.length);
        return;
      case FrameType.GoAway:
        if (h.streamId !== 0) return this.#protocolError('GoAway on a stream id other than 0');
        return this.#onGoAway(h.length);
      default:
        return this.#protocolError(`unknown frame type ${h.type}`);
    }
  }

  #onStreamFrame(h: FrameHeader): void {
    const { type, flags, streamId: id, length } = h;
    if (id === 0) return this.#protocolError('Data or WindowUpdate on stream id 0');
    if (type === FrameType.Data && length > this.#maxWindow) return this.#protocolError(`Data frame of ${length} bytes exceeds the window`);
    const local = this.#isLocalId(id);
    let stream = this.#streams.get(id);
    if (flags & Flag.SYN) {
      if (stream) return this.#protocolError(`SYN for stream ${id}, which is open`);
      if (local) return this.#protocolError(`SYN for stream ${id}, an id of this side`);
      if (id <= this.#lastRemoteId) return this.#protocolError(`SYN reuses stream id ${id}`);
      this.#lastRemoteId = id;
      stream = this.#incoming(id);
      if (!stream) return; // refused: its payload is discarded
    }
    if (!stream) {
      // A stream that has closed may still see frames in flight; one never opened may not.
      if (local ? id >= this.#nextId : id > this.#lastRemoteId) return this.#protocolError(`frame for stream ${id}, never opened`);
      return;
    }
    if (flags & Flag.RST) return stream.receiveReset();
    if (type === FrameType.WindowUpdate) {
      stream.receiveWindowUpdate(length);
      if (flags & Flag.FIN) stream.receiveFin();
      return;
    }
    if (length > stream.receiveCredit) return this.#protocolError(`Data frame of ${length} bytes exceeds stream ${id}'s window`);
    this.#frameStream = stream;
    this.#frameFin = (flags & Flag.FIN) !== 0;
  }

  #onPayload(piece: Buffer): void {
    this.#frameStream?.receiveData(piece);
  }

  #onFrameEnd(): void {
    if (this.#frameFin) this.#frameStream?.receiveFin();
    this.#frameStream = undefined;
    this.#frameFin = false;
  }

  #incoming(id: number): YamuxStream | undefined {
    const listening = this.listenerCount('stream') > 0;
    const full = this.#streams.size >= this.#maxStreams || (!listening && this.#waiters.length === 0 && this.#backlog.length >= this.#acceptBacklog);
    if (this.#goAwaySent || this.#closing || full) {
      this.stats.streamsRefused++;
      this.sendControl(FrameType.WindowUpdate, Flag.RST, id, 0);
      return undefined;
    }
    const stream = new YamuxStream(this, id, this.#maxWindow, false);
    this.#track(stream);
    this.stats.streamsAccepted++;
    const waiter = this.#waiters.shift();
    if (listening || waiter) {
      stream.accept();
      if (waiter) waiter.resolve(stream);
      else this.emit('stream', stream);
    } else this.#backlog.push(stream);
    return stream;
  }

  #onGoAway(code: number): void {
    this.#remoteGoAway = true;
    this.emit('goaway', code);
    if (code === GoAwayCode.Normal) return;
    const what = code === GoAwayCode.ProtocolError ? 'protocol error' : code === GoAwayCode.InternalError ? 'internal error' : `code ${code}`;
    this.#terminate(new YamuxError('ERR_YAMUX_REMOTE_GOAWAY', `the peer went away: ${what}`));
  }

  #protocolError(reason: string): void {
    this.#reader.stop();
    this.goAway(GoAwayCode.ProtocolError);
    this.#terminate(new YamuxError('ERR_YAMUX_PROTOCOL', reason));
  }

  // --- plumbing ---------------------------------------------------------------------------

  #isLocalId(id: number): boolean {
    return (id % 2 === 1) === (this.side === 'client');
  }

  #track(stream: YamuxStream): void {
    this.#streams.set(stream.id, stream);
    this.stats.streams = this.#streams.size;
  }

  #onDrain(): void {
    const waiting = [...this.#drainWaiters];
    this.#drainWaiters.clear();
    for (const stream of waiting) stream.flush();
  }

  #terminate(error: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#reader.stop();
    this.#keepalive.stop(error ?? new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the session closed'));
    const streamError = error ?? new YamuxError('ERR_YAMUX_SESSION_CLOSED', 'the session closed');
    for (const stream of this.#backlog.splice(0)) stream.abort(null);
    for (const stream of [...this.#streams.values()]) stream.abort(streamError);
    this.#streams.clear();
    this.#drainWaiters.clear();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(streamError);
    // What this tick queued (a GoAway) goes out before the end.
    this.#flushSlab();
    const socket = this.#socket;
    if (!socket.destroyed && socket.writableEnded) socket.destroy();
    else if (!socket.destroyed) {
      // Let the GoAway out, then close; a peer that does not read is not waited for long.
      const timer = setTimeout(() => socket.destroy(), 5_000);
      timer.unref();
      socket.end(() => {
        clearTimeout(timer);
        socket.destroy();
      });
    }
    this.emit('close', error);
  }
}

/** A Yamux session on `socket` (any reliable Duplex: a TCP or TLS socket). */
export function createSession(socket: Duplex, options: SessionOptions): YamuxSession {
  return new YamuxSession(socket, options);
}
