// An http server that is handed its connections (by the socket listening on the port once it chose
// the protocol, or by a tunnel) still needs to listen: node's http server keeps its list of
// connections, checks the head and request deadlines (headersTimeout, requestTimeout: slowloris)
// and can close idle connections only from its 'listening' on. It listens on a unix socket made
// in a directory of its own (mode 0700) whose path is removed as soon as it listens, so nothing can
// connect there; maxConnections 0 refuses any connection that would (node 22 and later). The only
// connections it serves are those handed to it with `emit('connection')`.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Makes `server` listen where no one can connect. */
export async function listenForHandedConnections(server: Server): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'zeno-ingress-'));
  server.maxConnections = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(join(dir, 'h1.sock'), () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    // The listening socket stays open without its path; without the path no one can reach it.
    await rm(dir, { recursive: true, force: true });
  }
}
