// Tunnel metrics, read from the sessions' own counters at each scrape: sessions, streams, bytes,
// window stalls and the last keepalive RTT, per link; on the edge also the user-side outcomes.
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

/** One link as the metrics see it (an agent's session on the edge, an edge's on the agent). */
interface LinkSample {
  /** The edge address (on an agent) or the client id (on the edge). */
  peer: string;
  connected: boolean;
  streams: number;
  bytesIn: number;
  bytesOut: number;
  windowStalls: number;
  rttMs: number | undefined;
}

/** Registers the tunnel's series on `registry`, sampled from `links()` (and `edge()` on an edge). */
export function registerTunnelMetrics(registry: Registry, side: 'edge' | 'agent', links: () => LinkSample[], edge?: () => Record<'requests' | 'upgrades' | 'noAgent' | 'tunnelErrors', number>): void {
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect(this: Gauge) { this.reset(); collect(this); } });
  gauge('zeno_tunnel_sessions', 'Live tunnel sessions per peer.', ['side', 'peer'], (g) => {
    for (const l of links()) g.inc({ side, peer: l.peer }, l.connected ? 1 : 0);
  });
  gauge('zeno_tunnel_streams', 'Open Yamux streams per peer.', ['side', 'peer'], (g) => {
    for (const l of links()) g.inc({ side, peer: l.peer }, l.streams);
  });
  // Counters of the live sessions: they start again from zero when a session is replaced.
  gauge('zeno_tunnel_session_bytes', 'Bytes through the live sessions, per direction.', ['side', 'peer', 'direction'], (g) => {
    for (const l of links()) {
      g.inc({ side, peer: l.peer, direction: 'in' }, l.bytesIn);
      g.inc({ side, peer: l.peer, direction: 'out' }, l.bytesOut);
    }
  });
  gauge('zeno_tunnel_session_window_stalls', 'Times a stream of the live sessions waited for the peer\'s window.', ['side', 'peer'], (g) => {
    for (const l of links()) g.inc({ side, peer: l.peer }, l.windowStalls);
  });
  gauge('zeno_tunnel_rtt_seconds', 'Round-trip time of the last keepalive ping.', ['side', 'peer'], (g) => {
    for (const l of links()) if (l.rttMs !== undefined) g.set({ side, peer: l.peer }, l.rttMs / 1000);
  });
  if (edge) {
    gauge('zeno_tunnel_edge_requests', 'Users\' requests at the edge since start, by outcome (no_agent: 503, tunnel_error: 502).', ['outcome'], (g) => {
      const c = edge();
      g.set({ outcome: 'forwarded' }, c.requests + c.upgrades - c.noAgent - c.tunnelErrors);
      g.set({ outcome: 'no_agent' }, c.noAgent);
      g.set({ outcome: 'tunnel_error' }, c.tunnelErrors);
    });
  }
}
