// Gateway API Duration (GEP-2257): a subset of Go durations, e.g. `1h`, `1m30s`, `500ms`.
// @see https://gateway-api.sigs.k8s.io/geps/gep-2257/

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** Milliseconds, or undefined when the value is not a valid Duration. `0s` means "no timeout" for timeouts. */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^([0-9]{1,5}(h|m|s|ms)){1,4}$/.test(value)) return undefined;
  let total = 0;
  for (const m of value.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}
