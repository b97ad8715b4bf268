// Cuts a byte stream into Yamux frames without copying payloads: headers are read in place (or
// gathered when split across chunks), and a Data frame's payload is handed on piece by piece as
// it arrives, so a frame is never held whole in memory here.
import { decodeHeader, FrameType, HEADER_SIZE } from './frame.js';
import type { FrameHeader } from './frame.js';

interface FrameSink {
  /** A header; for a Data frame its Length bytes of payload follow through `payload`. */
  header(h: FrameHeader): void;
  payload(piece: Buffer): void;
  /** The end of a Data frame (right after `header` for an empty one). */
  frameEnd(): void;
}

export class FrameReader {
  readonly #sink: FrameSink;
  readonly #head = Buffer.alloc(HEADER_SIZE);
  #headFill = 0;
  #remaining = 0;
  #inPayload = false;
  #stopped = false;

  constructor(sink: FrameSink) {
    this.#sink = sink;
  }

  /** Stops reading for good (after a protocol error). */
  stop(): void {
    this.#stopped = true;
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && !this.#stopped) {
      if (this.#inPayload) {
        const n = Math.min(this.#remaining, chunk.length - off);
        // A small piece of a large chunk is copied, so it does not pin the whole chunk.
        const piece = n * 4 < chunk.length ? Buffer.from(chunk.subarray(off, off + n)) : chunk.subarray(off, off + n);
        off += n;
        this.#remaining -= n;
        this.#sink.payload(piece);
        if (this.#remaining === 0) this.#endPayload();
        continue;
      }
      let h: FrameHeader;
      if (this.#headFill === 0 && chunk.length - off >= HEADER_SIZE) {
        h = decodeHeader(chunk, off);
        off += HEADER_SIZE;
      } else {
        const n = Math.min(HEADER_SIZE - this.#headFill, chunk.length - off);
        chunk.copy(this.#head, this.#headFill, off, off + n);
        this.#headFill += n;
        off += n;
        if (this.#headFill < HEADER_SIZE) return;
        this.#headFill = 0;
        h = decodeHeader(this.#head);
      }
      const isData = h.type === FrameType.Data;
      this.#sink.header(h);
      if (this.#stopped || !isData) continue;
      if (h.length === 0) this.#sink.frameEnd();
      else {
        this.#inPayload = true;
        this.#remaining = h.length;
      }
    }
  }

  #endPayload(): void {
    this.#inPayload = false;
    this.#sink.frameEnd();
  }
}
