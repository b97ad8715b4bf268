// `zenokube migrate`: applies pending migrations to the configured database and exits.
import { loadConfig } from '#shared/config/index';
import { openDatabase } from '#shared/db/index';
import { migrate } from '#shared/db/migrate';

export async function main(): Promise<number> {
  const config = loadConfig();
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, max: 1 });
  try {
    const applied = await migrate(database);
    process.stdout.write(applied.length ? `applied:\n  ${applied.join('\n  ')}\n` : 'nothing to apply\n');
    return 0;
  } finally {
    await database.close();
  }
}
