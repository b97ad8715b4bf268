// The request an in-process hop hands a function's app: a POST whose body is already in memory,
// built as any caller builds one, with Node's own `Request`.
// @see https://fetch.spec.whatwg.org/#request-class

/**
 * A POST of `bytes` (none when undefined) to `url` with `headers`. The constructor copies the
 * bytes (a BufferSource body is copied, Fetch §5 "extract a body"), so the caller may reuse them,
 * and refuses a header value a Request refuses, with a TypeError.
 * @see https://fetch.spec.whatwg.org/#concept-bodyinit-extract
 */
export function localRequest(url: string, headers: Record<string, string>, bytes: Uint8Array | undefined): Request {
  return new Request(url, { method: 'POST', headers, body: bytes ?? null });
}
