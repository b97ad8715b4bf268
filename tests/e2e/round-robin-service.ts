// Test support: what a Kubernetes ClusterIP Service does to TCP, on one machine. Each new
// connection goes to the next backend address in turn (kube-proxy balances connections, not
// requests); a backend that refuses the connection drops the client's, as a dead endpoint does.
import { connect, createServer, type Socket } from 'node:net';

export interface RoundRobinService {
  readonly port: number;
  /** The endpoints, as the EndpointSlice lists them: replace to add or remove a replica. */
  backends: number[];
  /** Connections sent to each backend port so far. */
  readonly connections: Map<number, number>;
  /** Cuts every open connection (mid-request too), so that the clients' next ones are balanced afresh. */
  cutConnections(): void;
  close(): Promise<void>;
}

export async function startRoundRobinService(backends: number[]): Promise<RoundRobinService> {
  let next = 0;
  const connections = new Map<number, number>();
  const open = new Set<Socket>();
  const server = createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    const list = service.backends;
    if (list.length === 0) return void client.destroy();
    const port = list[next++ % list.length]!;
    connections.set(port, (connections.get(port) ?? 0) + 1);
    const upstream = connect({ host: '127.0.0.1', port });
    open.add(upstream);
    upstream.once('close', () => open.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const service: RoundRobinService = {
    port: (server.address() as { port: number }).port,
    backends: [...backends],
    connections,
    cutConnections: () => {
      for (const s of open) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
  return service;
}
