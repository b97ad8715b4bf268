// Test support: polls a condition until it holds. Bounded in attempts, not in wall-clock time, so a
// loaded machine stretches the wait instead of failing it; a condition that never holds still fails.

/** Polls `probe` until it gives a defined value; fails after `attempts` tries `intervalMs` apart. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, attempts = 1000, intervalMs = 20): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Polls `check` until it is true. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  await waitFor(what, async () => ((await check()) ? true : undefined));
}
