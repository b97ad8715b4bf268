// Byte-exact fixtures written from hashicorp/yamux spec.md: each hex string is the header as the
// spec lays it out (Version 8 bits, Type 8, Flags 16, StreamID 32, Length 32, big endian).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeHeader, encodeHeader, Flag, FrameType, GoAwayCode, HEADER_SIZE, INITIAL_WINDOW } from './frame.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const FIXTURES: [string, FrameType, number, number, number, string][] = [
  // name, type, flags, stream id, length, bytes
  ['Opening a stream: client SYN on stream 1', FrameType.WindowUpdate, Flag.SYN, 1, 0, '00 01 0001 00000001 00000000'],
  ['Opening a stream: server ACK of stream 1', FrameType.WindowUpdate, Flag.ACK, 1, 0, '00 01 0002 00000001 00000000'],
  ['Opening a stream: SYN on a Data frame from the server (even id 2)', FrameType.Data, Flag.SYN, 2, 5, '00 00 0001 00000002 00000005'],
  ['Opening a stream: RST rejects stream 3', FrameType.WindowUpdate, Flag.RST, 3, 0, '00 01 0008 00000003 00000000'],
  ['Closing a stream: FIN half-close of stream 1', FrameType.WindowUpdate, Flag.FIN, 1, 0, '00 01 0004 00000001 00000000'],
  ['Closing a stream: FIN with the last Data', FrameType.Data, Flag.FIN, 1, 3, '00 00 0004 00000001 00000003'],
  ['Flow Control: a window update of 256 KiB', FrameType.WindowUpdate, 0, 1, INITIAL_WINDOW, '00 01 0000 00000001 00040000'],
  ['Flow Control: SYN with a larger window (16 MiB - 256 KiB)', FrameType.WindowUpdate, Flag.SYN, 1, 16 * 1024 * 1024 - INITIAL_WINDOW, '00 01 0001 00000001 00fc0000'],
  ['Ping: outbound, opaque value 0x2a', FrameType.Ping, Flag.SYN, 0, 0x2a, '00 02 0001 00000000 0000002a'],
  ['Ping: response echoes the value', FrameType.Ping, Flag.ACK, 0, 0x2a, '00 02 0002 00000000 0000002a'],
  ['Session termination: GoAway normal', FrameType.GoAway, 0, 0, GoAwayCode.Normal, '00 03 0000 00000000 00000000'],
  ['Session termination: GoAway protocol error', FrameType.GoAway, 0, 0, GoAwayCode.ProtocolError, '00 03 0000 00000000 00000001'],
  ['Session termination: GoAway internal error', FrameType.GoAway, 0, 0, GoAwayCode.InternalError, '00 03 0000 00000000 00000002'],
  ['StreamID Field: the largest id and length', FrameType.Data, 0, 0xffffffff, 0xffffffff, '00 00 0000 ffffffff ffffffff'],
];

describe('yamux frame header (spec.md "Framing")', () => {
  it('is 12 bytes', () => assert.equal(HEADER_SIZE, 12));

  it('uses the spec\'s type and flag values', () => {
    assert.deepEqual(FrameType, { Data: 0, WindowUpdate: 1, Ping: 2, GoAway: 3 });
    assert.deepEqual(Flag, { SYN: 1, ACK: 2, FIN: 4, RST: 8 });
    assert.deepEqual(GoAwayCode, { Normal: 0, ProtocolError: 1, InternalError: 2 });
    assert.equal(INITIAL_WINDOW, 262144);
  });

  for (const [name, type, flags, id, length, bytes] of FIXTURES) {
    it(`encodes and decodes byte for byte: ${name}`, () => {
      assert.deepEqual(encodeHeader(type, flags, id, length), hex(bytes));
      assert.deepEqual(decodeHeader(hex(bytes)), { version: 0, type, flags, streamId: id, length });
    });
  }

  it('decodes a header at an offset inside a larger buffer', () => {
    const b = Buffer.concat([hex('ffff'), hex('00 00 0001 00000003 00000002'), hex('6869')]);
    assert.deepEqual(decodeHeader(b, 2), { version: 0, type: 0, flags: 1, streamId: 3, length: 2 });
  });
});
