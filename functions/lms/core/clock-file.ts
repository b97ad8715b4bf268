// A clock-rollback store kept in a file: the latest time (seconds) the verifier has seen. Written
// atomically (a new file renamed over the old), so a crash never leaves a torn value behind.
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ClockStore } from './verifier.js';

export function fileClockStore(path: string): ClockStore {
  return {
    async read() {
      try {
        const n = Number((await readFile(path, 'utf8')).trim());
        return Number.isSafeInteger(n) && n > 0 ? n : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async write(seconds) {
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, `${seconds}\n`, { mode: 0o600 });
      await rename(tmp, path);
    },
  };
}
