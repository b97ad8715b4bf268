// The edge's map of hostnames to live agent sessions. Several agents may serve one hostname: new
// streams go round-robin over the sessions that still take them, and a session that has said
// GoAway (draining) or closed is skipped, so traffic fails over to the others.
import type { YamuxSession, YamuxStream } from '#shared/yamux/index';
import { hostnameMatches } from '../engine/hostname.js';

export interface AgentSession {
  readonly id: number;
  readonly clientId: string;
  readonly hostnames: string[];
  readonly remote: string;
  readonly since: Date;
  readonly session: YamuxSession;
  /** The agent said GoAway: it finishes its streams and takes no new one. */
  draining: boolean;
}

export class SessionTable {
  readonly #byHost = new Map<string, AgentSession[]>();
  readonly #all = new Set<AgentSession>();
  #turn = 0;

  add(s: AgentSession): void {
    this.#all.add(s);
    for (const h of s.hostnames) {
      const list = this.#byHost.get(h);
      if (list) list.push(s);
      else this.#byHost.set(h, [s]);
    }
  }

  remove(s: AgentSession): void {
    if (!this.#all.delete(s)) return;
    for (const h of s.hostnames) {
      const list = this.#byHost.get(h)?.filter((x) => x !== s);
      if (list && list.length > 0) this.#byHost.set(h, list);
      else this.#byHost.delete(h);
    }
  }

  get sessions(): AgentSession[] {
    return [...this.#all];
  }

  /** The sessions registered for `host`: exact names first, else the longest wildcard covering it. */
  candidates(host: string): AgentSession[] {
    const exact = this.#byHost.get(host);
    if (exact) return exact;
    let best: AgentSession[] | undefined;
    let bestLength = 0;
    for (const [pattern, list] of this.#byHost) {
      if (pattern.length > bestLength && pattern.startsWith('*.') && hostnameMatches(pattern, host)) {
        best = list;
        bestLength = pattern.length;
      }
    }
    return best ?? [];
  }

  /**
   * A new stream to an agent serving `host`, trying each live session once from the next in turn;
   * undefined when none is registered or none takes a stream.
   */
  openStream(host: string): { stream: YamuxStream; agent: AgentSession } | undefined {
    const list = this.candidates(host);
    const start = this.#turn++;
    for (let i = 0; i < list.length; i++) {
      const agent = list[(start + i) % list.length]!;
      if (agent.draining || agent.session.closed) continue;
      try {
        return { stream: agent.session.open(), agent };
      } catch {
        // GoAway crossed us, or the stream limit is reached: the next session may take it.
      }
    }
    return undefined;
  }
}
