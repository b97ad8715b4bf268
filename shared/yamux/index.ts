export { createSession, YamuxSession } from './session.js';
export type { SessionOptions, SessionStats } from './session.js';
export { YamuxStream } from './stream.js';
export { YamuxError } from './errors.js';
export type { YamuxErrorCode } from './errors.js';
export { encodeHeader, decodeHeader, Flag, FrameType, GoAwayCode, HEADER_SIZE, INITIAL_WINDOW, VERSION } from './frame.js';
export type { FrameHeader } from './frame.js';
