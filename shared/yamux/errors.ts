// The errors a session and its streams fail with; each carries a stable `code`.

export type YamuxErrorCode =
  | 'ERR_YAMUX_PROTOCOL' // the peer broke the spec; the session sent GoAway(protocol error)
  | 'ERR_YAMUX_REMOTE_GOAWAY' // the peer sent GoAway with an error code, or refuses new streams
  | 'ERR_YAMUX_GOAWAY' // this side has sent GoAway and opens no more streams
  | 'ERR_YAMUX_SESSION_CLOSED' // the session (or its socket) closed under an open stream
  | 'ERR_YAMUX_STREAM_RESET' // the peer reset the stream (RST), or refused it
  | 'ERR_YAMUX_STREAMS_EXHAUSTED' // no stream id left, or the per-session stream limit reached
  | 'ERR_YAMUX_KEEPALIVE_TIMEOUT' // a keepalive ping went unanswered
  | 'ERR_YAMUX_WRITE_BACKLOG'; // the peer stopped reading while we owed it control frames

export class YamuxError extends Error {
  readonly code: YamuxErrorCode;
  constructor(code: YamuxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'YamuxError';
    this.code = code;
  }
}
