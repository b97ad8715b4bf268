// A real PgBouncer (Debian's `pgbouncer` package) in front of the test PostgreSQL, configured from
// a generated CloudNativePG Pooler's `pgbouncer` section, for tests and benchmarks of the pooled
// path. Trust auth on the loopback, as the test server has; no TLS.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.js';
import { waitUntil } from './poll.js';

const INSTALL = 'PgBouncer is not installed: run `apt-get install -y pgbouncer` (Debian; .ci/run installs it when missing)';

/** The pgbouncer binary: on PATH, or where Debian puts it (/usr/sbin, often off a user's PATH). */
function pgbouncerBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, 'pgbouncer'), constants.X_OK);
      return join(dir, 'pgbouncer');
    } catch {
      // not in this directory
    }
  }
  throw new Error(INSTALL);
}

interface PgBouncerOptions {
  /** `poolMode` of the Pooler (`transaction`, `session`). */
  poolMode: string;
  /** The Pooler's `pgbouncer.parameters`, then overrides. */
  parameters: Record<string, string>;
  /** Roles allowed to log in (trust: no password). */
  users: string[];
  /** host:port of the PostgreSQL behind it. */
  server: { host: string; port: number };
}

export interface RunningPgBouncer {
  readonly port: number;
  /** The process id (for CPU accounting in benchmarks). */
  readonly pid: number;
  /** URL of `database` as `user` through PgBouncer. */
  url(database: string, user: string): string;
  stop(): Promise<void>;
}

/** Starts PgBouncer on a free loopback port and waits until it accepts connections. */
export async function startPgBouncer(opts: PgBouncerOptions): Promise<RunningPgBouncer> {
  const bin = pgbouncerBinary();
  const port = await freePort();
  // PgBouncer refuses to run as root: as root it is told to switch to the server's own user,
  // which must then be able to read its files.
  const dir = mkdtempSync(join(tmpdir(), 'zk-pgbouncer-'));
  chmodSync(dir, 0o755);
  const ini = [
    '[databases]',
    `* = host=${opts.server.host} port=${opts.server.port}`,
    '[pgbouncer]',
    `listen_addr = 127.0.0.1`,
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(dir, 'users.txt')}`,
    `pool_mode = ${opts.poolMode}`,
    ...Object.entries(opts.parameters).map(([k, v]) => `${k} = ${v}`),
  ].join('\n');
  writeFileSync(join(dir, 'pgbouncer.ini'), `${ini}\n`, { mode: 0o644 });
  writeFileSync(join(dir, 'users.txt'), opts.users.map((u) => `"${u}" ""\n`).join(''), { mode: 0o644 });
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn(bin, [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const accepting = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  try {
    await waitUntil('PgBouncer to accept connections', async () => {
      if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}:\n${log}`);
      return accepting();
    });
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    pid: child.pid!,
    url: (database, user) => `postgres://${user}@127.0.0.1:${port}/${database}`,
    stop: async () => {
      if (child.exitCode === null) {
        // SIGINT: "safe shutdown", waits for clients; they are all closed by now.
        child.kill('SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
