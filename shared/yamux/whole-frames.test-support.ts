// Test support for the interop tests: yamux-js 0.2.0's parser (Session._transform) drops the
// bytes of a frame that a read splits (it handles only reads that hold whole frames), which TCP
// does not promise. This Transform hands it one whole frame per chunk. It reads only the 12-byte
// header's Type and Length, written here from the spec rather than with this module's reader, so
// that the peer's view of the bytes stays independent of ours.
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

export function wholeFrames(): Transform {
  let buf: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (buf.length < 12) break;
        const size = 12 + (buf[1] === 0 ? buf.readUInt32BE(8) : 0);
        if (buf.length < size) break;
        this.push(buf.subarray(0, size));
        buf = buf.subarray(size);
      }
      callback();
    },
  });
}
