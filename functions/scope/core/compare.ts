// Drift detection: whether an object as read still holds every field we apply. The API server adds
// fields (defaults, status, other managers' labels), so "holds" is a deep subset, lists compared
// element by element at the same length.

/** True when every field of `want` is in `have` with the same value (objects recursively). */
export function holds(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => holds(w, have[i]));
  if (want !== null && typeof want === 'object') {
    if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want).every(([k, v]) => holds(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}
