// Child process for vault-signal.test.ts: hosts the vault, unseals it, and on SIGTERM reports
// (after the unsealer's own listener ran) whether the keys were already gone.
import { openDatabase } from '#shared/db/index';
import { startVaultServer } from './vault-server.js';

const database = await openDatabase({ url: process.env.DATABASE_URL!, max: 4 });
const vs = await startVaultServer(database);
const call = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.json() as Promise<Record<string, any>>;
};
const init = await call('PUT', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
await call('PUT', 'sys/unseal', { key: init.keys[0] });
// Registered after the unsealer's listener, as the platform's drain handler is: runs second.
process.once('SIGTERM', async () => {
  const status = await call('GET', 'sys/seal-status');
  process.stdout.write(`SEALED_AFTER_SIGTERM ${status.sealed}\n`);
  await vs.close();
  await database.close();
  process.exit(0);
});
const status = await call('GET', 'sys/seal-status');
process.stdout.write(`READY sealed=${status.sealed}\n`);
