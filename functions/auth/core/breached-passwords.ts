// The breach-list check against a local copy of Have I Been Pwned's Pwned Passwords: one sorted
// text file, a line per breached password, `<SHA-1 hex>:<count>` (the 5-hex prefix and 35-hex
// suffix of the range API joined, as haveibeenpwned-downloader writes its single file). The check
// asks the file for the range of the password's prefix, the way a client asks the range API, and
// compares suffixes itself. The file is searched by bisection: it may be tens of gigabytes.
import { createHash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';

/** The longest line the format allows (40 hex, a colon, a count, CRLF), with room to spare. */
const MAX_LINE = 128;
/** A range's lines are read in chunks of this size (a prefix has about 1,000 lines of the full list). */
const CHUNK = 64 * 1024;

export interface BreachList {
  /** True when the password's SHA-1 is in the list. */
  isBreached(password: string): Promise<boolean>;
}

/** Error of a list file that is not in the expected format. */
export class BreachListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BreachListError';
  }
}

/**
 * The list at `path`; checks at once that it is a readable file (called at boot). The file is
 * opened per check, so that a replaced file is picked up and nothing is held open between checks.
 * @see https://haveibeenpwned.com/API/v3#SearchingPwnedPasswordsByRange
 */
export async function openBreachList(path: string): Promise<BreachList> {
  const s = await stat(path);
  if (!s.isFile()) throw new BreachListError(`${path} is not a file`);
  return {
    async isBreached(password) {
      const hash = createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
      const fh = await open(path, 'r');
      try {
        const suffixes = await rangeOf(fh, hash.slice(0, 5));
        return suffixes.has(hash.slice(5));
      } finally {
        await fh.close();
      }
    },
  };
}

/** The suffixes listed under `prefix` (5 upper-case hex digits), as the range API answers them. */
async function rangeOf(fh: FileHandle, prefix: string): Promise<Set<string>> {
  const { size } = await fh.stat();
  // Smallest offset whose next line has a key >= prefix: every line before it sorts below.
  let lo = 0;
  let hi = size;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const line = await lineFrom(fh, mid, size);
    if (line && line.text.slice(0, 5).toUpperCase() < prefix) lo = mid + 1;
    else hi = mid;
  }
  const first = await lineFrom(fh, lo, size);
  const out = new Set<string>();
  if (!first) return out;
  let pos = first.start;
  let rest = '';
  for (;;) {
    const buf = Buffer.alloc(CHUNK);
    const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const lines = (rest + buf.toString('latin1', 0, bytesRead)).split('\n');
    rest = pos < size ? lines.pop()! : '';
    for (const raw of lines) {
      const key = raw.trim().toUpperCase();
      if (key === '') continue;
      const head = key.slice(0, 5);
      if (head > prefix) return out;
      if (head === prefix) out.add(entryHash(key).slice(5));
    }
  }
  if (rest.trim().slice(0, 5).toUpperCase() === prefix) out.add(entryHash(rest.trim().toUpperCase()).slice(5));
  return out;
}

/** The first whole line that starts at or after `offset`, or undefined past the last one. */
async function lineFrom(fh: FileHandle, offset: number, size: number): Promise<{ start: number; text: string } | undefined> {
  let start = offset;
  if (offset > 0) {
    const buf = Buffer.alloc(MAX_LINE);
    const { bytesRead } = await fh.read(buf, 0, MAX_LINE, offset - 1);
    const nl = buf.subarray(0, bytesRead).indexOf(10);
    if (nl < 0) {
      if (offset - 1 + bytesRead >= size) return undefined;
      throw new BreachListError('a line of the breach list is longer than the format allows');
    }
    start = offset + nl;
  }
  if (start >= size) return undefined;
  const buf = Buffer.alloc(MAX_LINE);
  const { bytesRead } = await fh.read(buf, 0, MAX_LINE, start);
  const nl = buf.subarray(0, bytesRead).indexOf(10);
  return { start, text: buf.toString('latin1', 0, nl < 0 ? bytesRead : nl).trim() };
}

function entryHash(line: string): string {
  const hash = line.split(':', 1)[0]!;
  if (!/^[0-9A-F]{40}$/.test(hash)) throw new BreachListError('a line of the breach list is not `<SHA-1 hex>:<count>`');
  return hash;
}
