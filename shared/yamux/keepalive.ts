// Keepalive and RTT ("Ping - Used to measure RTT. It can also be used to heart-beat and do
// keep-alive over TCP"): a Ping with SYN carries an opaque value the peer echoes with ACK.
import { performance } from 'node:perf_hooks';
import { Flag, MAX_UINT32 } from './frame.js';
import { YamuxError } from './errors.js';

interface PingOwner {
  sendPing(flags: number, opaque: number): void;
  fail(error: YamuxError): void;
  readonly stats: { rttMs: number | undefined };
}

interface Outstanding {
  sentAt: number;
  resolve(rttMs: number): void;
  reject(error: Error): void;
}

/** Outstanding pings kept at most; older ones are dropped unanswered. */
const MAX_OUTSTANDING = 64;

export class Keepalive {
  readonly #owner: PingOwner;
  readonly #pings = new Map<number, Outstanding>();
  readonly #interval: NodeJS.Timeout | undefined;
  readonly #timeoutMs: number;
  #nextOpaque = 1;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(owner: PingOwner, intervalMs: number, timeoutMs: number) {
    this.#owner = owner;
    this.#timeoutMs = timeoutMs;
    if (intervalMs > 0) {
      this.#interval = setInterval(() => this.#beat(), intervalMs);
      this.#interval.unref();
    }
  }

  ping(): Promise<number> {
    const opaque = this.#nextOpaque;
    this.#nextOpaque = this.#nextOpaque >= MAX_UINT32 ? 1 : this.#nextOpaque + 1;
    if (this.#pings.size >= MAX_OUTSTANDING) {
      const [oldest, entry] = this.#pings.entries().next().value!;
      this.#pings.delete(oldest);
      entry.reject(new YamuxError('ERR_YAMUX_KEEPALIVE_TIMEOUT', 'ping dropped unanswered'));
    }
    return new Promise((resolve, reject) => {
      this.#pings.set(opaque, { sentAt: performance.now(), resolve, reject });
      this.#owner.sendPing(Flag.SYN, opaque);
    });
  }

  /** A Ping with ACK came back with `opaque`. */
  answered(opaque: number): void {
    const entry = this.#pings.get(opaque);
    if (!entry) return;
    this.#pings.delete(opaque);
    const rtt = performance.now() - entry.sentAt;
    this.#owner.stats.rttMs = rtt;
    entry.resolve(rtt);
  }

  stop(error: Error): void {
    if (this.#interval) clearInterval(this.#interval);
    if (this.#watchdog) clearTimeout(this.#watchdog);
    for (const entry of this.#pings.values()) entry.reject(error);
    this.#pings.clear();
  }

  #beat(): void {
    if (this.#watchdog) return; // the last keepalive is still out
    this.#watchdog = setTimeout(() => this.#owner.fail(new YamuxError('ERR_YAMUX_KEEPALIVE_TIMEOUT', 'keepalive ping unanswered')), this.#timeoutMs);
    this.#watchdog.unref();
    this.ping().then(
      () => {
        clearTimeout(this.#watchdog);
        this.#watchdog = undefined;
      },
      () => {},
    );
  }
}
