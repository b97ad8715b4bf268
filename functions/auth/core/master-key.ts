// The master key that seals signing keys at rest: from ZENO_AUTH_MASTER_KEY (base64, 32 bytes;
// ZenoVault provides it in a cluster) or, on one machine only, generated once under the data dir.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

class MasterKeyError extends Error {
  override readonly name = 'MasterKeyError';
}

interface MasterKeySource {
  /** The configured value (base64 or base64url of 32 bytes). */
  configured: string | undefined;
  dataDir: string;
  /** In a cluster a generated key would differ per pod: refuse instead. */
  allowGenerate: boolean;
}

function decode(value: string, where: string): Buffer {
  const key = Buffer.from(value.trim(), value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new MasterKeyError(`${where} must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

/** Path of the generated key on one machine. */
const masterKeyPath = (dataDir: string) => join(dataDir, 'auth', 'master.key');

/** Resolves the master key; on one machine creates `<dataDir>/auth/master.key` (mode 0600) once. */
export async function resolveMasterKey(src: MasterKeySource): Promise<Buffer> {
  if (src.configured) return decode(src.configured, 'ZENO_AUTH_MASTER_KEY');
  if (!src.allowGenerate) throw new MasterKeyError('ZENO_AUTH_MASTER_KEY is required when running in a cluster');
  const file = masterKeyPath(src.dataDir);
  try {
    return decode(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(join(src.dataDir, 'auth'), { recursive: true, mode: 0o700 });
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
