// ISO 8601 durations as policies give them (`P30D`, `P1Y`, `PT12H`), in seconds.
// Calendar units are fixed lengths here (a year 365 days, a month 30 days): a license term is
// a span of time, not a calendar date.
// @see https://www.rfc-editor.org/rfc/rfc3339#appendix-A (the duration grammar)

const PATTERN = /^P(?!$)(?:(\d{1,4})Y)?(?:(\d{1,5})M)?(?:(\d{1,5})W)?(?:(\d{1,6})D)?(?:T(?!$)(?:(\d{1,7})H)?(?:(\d{1,9})M)?(?:(\d{1,10})S)?)?$/;
const UNITS = [365 * 86_400, 30 * 86_400, 7 * 86_400, 86_400, 3_600, 60, 1];

/** Seconds in `value`, or undefined when it is not a positive duration of at most 100 years. */
export function parseDuration(value: string): number | undefined {
  const m = PATTERN.exec(value);
  if (!m) return undefined;
  let seconds = 0;
  for (let i = 0; i < UNITS.length; i++) seconds += Number(m[i + 1] ?? 0) * UNITS[i]!;
  return seconds > 0 && seconds <= 100 * 365 * 86_400 ? seconds : undefined;
}
