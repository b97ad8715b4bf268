// A linear pre-check of JSON text before JSON.parse: bounds the nesting depth (a body of
// 200,000 "[" parses, then overflows the stack of every recursive step after it: stringify,
// schema checks) and refuses \u escapes that leave a lone UTF-16 surrogate, which PostgreSQL
// will not store in text or jsonb. Whether the text is valid JSON is left to JSON.parse.
// @see https://www.rfc-editor.org/rfc/rfc8259#section-8.2 (unpaired surrogates: "unpredictable")

/** Deepest nesting of arrays and objects an event may carry; the catalog's payloads use a few. */
const MAX_JSON_DEPTH = 64;

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** The code unit a `\uXXXX` escape at `i` (the backslash) stands for, or NaN. */
function escapedUnit(text: string, i: number): number {
  if (text.charCodeAt(i + 1) !== 0x75 /* u */) return NaN;
  const hex = text.slice(i + 2, i + 6);
  return /^[0-9a-fA-F]{4}$/.test(hex) ? Number.parseInt(hex, 16) : NaN;
}

/**
 * Returns why `text` must not be parsed (too deep, or a lone surrogate, escaped or raw), or
 * undefined when it may be. One pass, no recursion.
 */
export function unsafeJsonText(text: string, maxDepth = MAX_JSON_DEPTH): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isHigh(c)) {
      if (!isLow(text.charCodeAt(i + 1))) return 'it contains an unpaired UTF-16 surrogate';
      i++;
      continue;
    }
    if (isLow(c)) return 'it contains an unpaired UTF-16 surrogate';
    if (inString) {
      if (c === 0x22 /* " */) inString = false;
      else if (c === 0x5c /* \ */) {
        const unit = escapedUnit(text, i);
        if (isHigh(unit)) {
          if (text.charCodeAt(i + 6) !== 0x5c || !isLow(escapedUnit(text, i + 6))) return 'it escapes an unpaired UTF-16 surrogate';
          i += 11;
        } else if (isLow(unit)) {
          return 'it escapes an unpaired UTF-16 surrogate';
        } else {
          i++;
        }
      }
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return `it nests deeper than ${maxDepth} levels`;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/** True when `value` holds no unpaired UTF-16 surrogate (what `String.prototype.isWellFormed` checks). */
export function isWellFormedText(value: string): boolean {
  return !/\p{Cs}/u.test(value);
}
