// One cross-site sync round in a process of its own, for tests that kill it mid-way (SIGKILL):
// DATABASE_URL and ZENO_AUTH_MASTER_KEY are the site's, SCIM_SYNC_PEER the peer row's id.
// Prints `round <applied> <deleted>` when the round ends.
import { eq } from 'drizzle-orm';
import { openDatabase } from '#shared/db/index';
import { createAuthRuntime } from '../core/runtime.js';
import { scimSyncPeers } from '../core/schema.js';
import scimSync from '../scim-sync/function.js';
import { runSyncRound } from '../scim-sync/round.js';
import { startAuthHarness } from './harness.js';

const database = await openDatabase({ url: process.env.DATABASE_URL!, max: 2 });
const h = await startAuthHarness(database, { functions: [scimSync], env: { ZENO_AUTH_MASTER_KEY: process.env.ZENO_AUTH_MASTER_KEY! } });
const rt = await createAuthRuntime(h.hosted[0]!.context);
const [peer] = await database.db.select().from(scimSyncPeers).where(eq(scimSyncPeers.id, process.env.SCIM_SYNC_PEER!));
const report = await runSyncRound(rt, peer!);
process.stdout.write(`round ${report?.applied ?? -1} ${report?.deleted ?? -1}\n`);
await h.close();
await database.close();
