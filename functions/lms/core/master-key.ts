// The master key that seals product signing keys at rest: LMS_MASTER_KEY (base64, 32 bytes; from a
// Secret in a cluster) or, on one machine only, generated once under the data dir.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeMasterKey } from './crypto.js';

export async function resolveMasterKey(src: { configured: string | undefined; dataDir: string; allowGenerate: boolean }): Promise<Buffer> {
  if (src.configured) return decodeMasterKey(src.configured);
  if (!src.allowGenerate) throw new TypeError('LMS_MASTER_KEY is required when running in a cluster');
  const dir = join(src.dataDir, 'lms');
  const file = join(dir, 'master.key');
  try {
    return decodeMasterKey(await readFile(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    // `wx`: a concurrent first start loses the race and reads the winner's key.
    await writeFile(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    await chmod(file, 0o600);
    return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return decodeMasterKey(await readFile(file, 'utf8'));
  }
}
