// Yamux framing (hashicorp/yamux spec.md, "Framing"): a 12-byte header in network order,
// Version (8) · Type (8) · Flags (16) · StreamID (32) · Length (32), then Length bytes of payload
// for a Data frame only.

/** "Version Field": always 0. */
export const VERSION = 0;
export const HEADER_SIZE = 12;

/** "Type Field". */
export const FrameType = { Data: 0, WindowUpdate: 1, Ping: 2, GoAway: 3 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** "Flag Field". */
export const Flag = { SYN: 0x1, ACK: 0x2, FIN: 0x4, RST: 0x8 } as const;

/** "Session termination": the GoAway error codes. */
export const GoAwayCode = { Normal: 0, ProtocolError: 1, InternalError: 2 } as const;
export type GoAwayCode = (typeof GoAwayCode)[keyof typeof GoAwayCode];

/** "Flow Control": every stream starts with a 256 KiB window. */
export const INITIAL_WINDOW = 256 * 1024;

/** The largest value of the 32-bit StreamID and Length fields. */
export const MAX_UINT32 = 0xffff_ffff;

export interface FrameHeader {
  version: number;
  type: number;
  flags: number;
  streamId: number;
  length: number;
}

/** Writes a header into `into` at `offset` (12 bytes). */
export function writeHeader(into: Buffer, offset: number, type: FrameType, flags: number, streamId: number, length: number): void {
  into[offset] = VERSION;
  into[offset + 1] = type;
  into.writeUInt16BE(flags, offset + 2);
  into.writeUInt32BE(streamId >>> 0, offset + 4);
  into.writeUInt32BE(length >>> 0, offset + 8);
}

/** A header as a fresh 12-byte buffer. */
export function encodeHeader(type: FrameType, flags: number, streamId: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(b, 0, type, flags, streamId, length);
  return b;
}

/** Reads the 12 bytes at `offset`; checks nothing (the session judges the fields). */
export function decodeHeader(from: Buffer, offset = 0): FrameHeader {
  return {
    version: from[offset]!,
    type: from[offset + 1]!,
    flags: from.readUInt16BE(offset + 2),
    streamId: from.readUInt32BE(offset + 4),
    length: from.readUInt32BE(offset + 8),
  };
}
