// A product's 32-byte root key: from its configured variable (base64 or base64url; a Secret in a
// cluster) or, on one machine only, generated once under the data dir with mode 0600.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface KeySource {
  /** The configured value, and the variable it came from (named in errors). */
  configured: string | undefined;
  variable: string;
  dataDir: string;
  /** Where the generated key lives under the data dir: a folder of its own and the file's name. */
  file: [dir: string, name: string];
  /** In a cluster a generated key would differ per pod: refuse instead. */
  allowGenerate: boolean;
}

function decode(value: string, where: string): Buffer {
  const key = Buffer.from(value.trim(), value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new TypeError(`${where} must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

export async function resolveKey(src: KeySource): Promise<Buffer> {
  if (src.configured) return decode(src.configured, src.variable);
  if (!src.allowGenerate) throw new TypeError(`${src.variable} is required when running in a cluster`);
  const dir = join(src.dataDir, src.file[0]);
  const file = join(dir, src.file[1]);
  try {
    return decode(await readFile(file, 'utf8'), file);
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
    return decode(await readFile(file, 'utf8'), file);
  }
}
