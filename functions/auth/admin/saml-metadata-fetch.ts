// Reads an SP's metadata from the URL an admin gave, as a request the IdP makes on someone else's
// word: https (or http on a loopback host), no credentials in the URL, no redirects, a deadline
// for the whole exchange and a cap on the bytes read (the body is streamed and cut there).
import { SamlError } from '../core/saml/saml-error.js';

const METADATA_MAX_BYTES = 256 * 1024;
const TIMEOUT_MS = 10_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The URL if it is one metadata may be read from, else a refusal that says why. */
function checkMetadataUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SamlError('invalid_metadata_url', 'metadata_url is not an absolute URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SamlError('invalid_metadata_url', 'metadata_url must be https (or http on a loopback host).');
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) throw new SamlError('invalid_metadata_url', 'metadata_url must be https: the certificates it carries are trusted.');
  if (url.username || url.password) throw new SamlError('invalid_metadata_url', 'metadata_url must not carry credentials.');
  if (value.length > 2000) throw new SamlError('invalid_metadata_url', 'metadata_url is too long.');
  return url;
}

/** The metadata document at `value`, or a SamlError (code `metadata_unavailable`, 422) with the reason. */
export async function fetchSpMetadata(value: string, opts: { timeoutMs?: number; maxBytes?: number } = {}): Promise<string> {
  const url = checkMetadataUrl(value);
  const maxBytes = opts.maxBytes ?? METADATA_MAX_BYTES;
  const signal = AbortSignal.timeout(opts.timeoutMs ?? TIMEOUT_MS);
  const failed = (reason: string, cause?: unknown) => new SamlError('metadata_unavailable', `The SP metadata could not be read: ${reason}.`, 400, { cause });
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'manual', headers: { accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8' } });
  } catch (err) {
    throw failed(signal.aborted ? 'no answer in time' : 'the host is unreachable', err);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw failed(`the URL redirects (${res.status}); give the final URL`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw failed(`the server answered ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw failed(`the document is larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.byteLength;
      // Leaving the loop by a throw cancels the stream: nothing more is read.
      if (size > maxBytes) throw failed(`the document is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof SamlError) throw err;
    throw failed(signal.aborted ? 'no complete answer in time' : 'the connection failed', err);
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(chunks));
}
