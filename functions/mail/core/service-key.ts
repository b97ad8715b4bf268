// The service key that seals subject keys: from ZENO_MAIL_SERVICE_KEY (base64, 32 bytes; ZenoVault
// provides it in a cluster) or, on one machine only, generated once under the data dir.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ServiceKeySource {
  configured: string | undefined;
  dataDir: string;
  /** In a cluster a generated key would differ per pod: refuse instead. */
  allowGenerate: boolean;
}

function decode(value: string, where: string): Buffer {
  const key = Buffer.from(value.trim(), value.includes('-') || value.includes('_') ? 'base64url' : 'base64');
  if (key.length !== 32) throw new TypeError(`${where} must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

/** Resolves the service key; on one machine creates `<dataDir>/mail/service.key` (mode 0600) once. */
export async function resolveServiceKey(src: ServiceKeySource): Promise<Buffer> {
  if (src.configured) return decode(src.configured, 'ZENO_MAIL_SERVICE_KEY');
  if (!src.allowGenerate) throw new TypeError('ZENO_MAIL_SERVICE_KEY is required when running in a cluster');
  const file = join(src.dataDir, 'mail', 'service.key');
  try {
    return decode(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(join(src.dataDir, 'mail'), { recursive: true, mode: 0o700 });
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
