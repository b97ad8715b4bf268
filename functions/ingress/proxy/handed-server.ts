// An http server that is handed its connections (by the socket listening on the port once it chose
// the protocol, or by a tunnel) still needs to listen: node's http server keeps its list of
// connections, checks the head and request deadlines (headersTimeout, requestTimeout: slowloris)
// and can close idle connections only from its 'listening' on. It listens on a unix socket in a
// directory of its own, and refuses every connection that arrives there (maxConnections 0): the
// only connections it serves are those handed to it with `emit('connection')`.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Makes `server` listen where no one can connect; its directory goes when it closes. */
export async function listenForHandedConnections(server: Server): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'zeno-ingress-'));
  server.maxConnections = 0;
  server.once('close', () => void rm(dir, { recursive: true, force: true }));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(join(dir, 'h1.sock'), () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
