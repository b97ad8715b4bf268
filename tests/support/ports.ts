// A TCP port on 127.0.0.1 that was free a moment ago, for tests and benchmarks that must name a
// port before the process that binds it starts (a child process, a Gateway listener).
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
