// The server side of bench/vault.ts, run as its own process (pinned to one core when taskset
// exists) from the tree under test: the vault api and unsealer started by the local runner as
// `npm start` starts them (ZenoIngress on a port, each function on a loopback port of its own),
// and the api's platform-wrapped app on one more port (the api alone, without the ingress).
// Migrates its database first, as npm start does. Uses only what every version of the runner
// has, so that it runs in a baseline tree too.
// Prints "PORT <ingress> <api>" on stderr once listening.
import { startStack } from '#local-cluster/index';
import { migrate } from '#shared/db/migrate';
import { bootPlatform } from '#shared/function/platform';
import { listen } from '#shared/http/serve';
import apiDecl from '#functions/vault/api/function';
import unsealerDecl from '#functions/vault/unsealer/function';

// PORT as npm start has it (a fixed one: an api without VAULT_UNSEALER_URL addresses the runner by it).
const platform = await bootPlatform({ ...process.env, HOST: '127.0.0.1', ZENO_LOG_LEVEL: 'error' });
await migrate(platform.database);
const stack = await startStack({ platform, declarations: [apiDecl, unsealerDecl], relays: false });
const api = stack.hosted.find((h) => h.declaration.name === apiDecl.name)!;
const alone = await listen(api.app.fetch, { port: 0, host: '127.0.0.1' });
process.stderr.write(`PORT ${stack.port} ${alone.port}\n`);
process.once('SIGTERM', async () => {
  await alone.close(500);
  await stack.stop();
  await platform.database.close();
  process.exit(0);
});
