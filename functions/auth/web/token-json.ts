// The JSON answer of the endpoints that hand out tokens or credentials (token, PAR, registration):
// never stored by a cache on the way.
// @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1

/** RFC 6749 §5.1: "Cache-Control: no-store" on every response carrying tokens. */
export function tokenJson(body: object, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' },
  });
}
