// Vault's durations: a number of seconds, or Go-style text ("90s", "1h30m", "768h", "7d").
const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const TEXT = /^(\d+(?:\.\d+)?[smhd])+$/;

/** Parses a duration to whole seconds; undefined for anything malformed or negative. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  if (!TEXT.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) total += Number(m[1]) * UNIT[m[2]!]!;
  return Number.isFinite(total) && total <= 10 * 365 * 86400 ? Math.floor(total) : undefined;
}

/** Formats seconds as Vault does in metadata ("0s", "1h0m0s"). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h${m}m${s}s` : m ? `${m}m${s}s` : `${s}s`;
}
