// Argon2id verifications through the worker pool against the same verifications on the main
// thread (hash-wasm, as before the pool), in one process: throughput and the event loop's delay
// while a burst runs. BENCH_BURST (default 32) verifications per round, BENCH_ROUNDS (default 3).
// Run: node --conditions=development --import tsx bench/auth/argon2-pool.ts
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { argon2Verify } from 'hash-wasm';
import { hashPassword, verifyPassword } from '#functions/auth/core/passwords';

const BURST = Number(process.env.BENCH_BURST ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Figures {
  perSecond: number;
  p99Ms: number;
  maxMs: number;
}

async function measure(verify: (i: number) => Promise<boolean>): Promise<Figures> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  await Promise.all(Array.from({ length: BURST }, (_, i) => verify(i)));
  const seconds = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 20));
  h.disable();
  return { perSecond: BURST / seconds, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
}

const hash = await hashPassword('bench password');
const password = (i: number) => (i % 2 ? 'bench password' : 'wrong password');
const fmt = (f: Figures) => `${f.perSecond.toFixed(1)}/s, loop delay p99 ${f.p99Ms.toFixed(1)} ms, max ${f.maxMs.toFixed(1)} ms`;
for (let r = 1; r <= ROUNDS; r++) {
  const main = await measure((i) => argon2Verify({ hash, password: password(i) }));
  const pool = await measure((i) => verifyPassword(hash, password(i)));
  process.stdout.write(
    `round ${r}: ${BURST} verifications; main thread ${fmt(main)}; pool ${fmt(pool)}; ` +
      `throughput ×${(pool.perSecond / main.perSecond).toFixed(2)}, worst loop delay ×${(pool.maxMs / main.maxMs).toFixed(3)} (load ${loadavg()[0]!.toFixed(2)})\n`,
  );
}
process.exit(0);
