// Request ids: taken from W3C traceparent or X-Request-Id when well-formed, minted otherwise.
import { randomUUID } from 'node:crypto';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** @see https://www.w3.org/TR/trace-context/#traceparent-header-field-values */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Picks the request id for a request's headers. Hostile values are ignored, never echoed. */
export function resolveRequestId(headers: Headers): string {
  const given = headers.get('x-request-id');
  if (given && REQUEST_ID.test(given)) return given;
  const tp = headers.get('traceparent');
  const m = tp ? TRACEPARENT.exec(tp.trim()) : null;
  if (m && m[1] !== 'ff' && !/^0+$/.test(m[2]!) && !/^0+$/.test(m[3]!)) return m[2]!;
  return randomUUID();
}
