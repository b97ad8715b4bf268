// What `zenokube fn` imports before its first answer: a function without events must not load
// the packages the platform defers (cold start; see bench/cold-start.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';

/** A module hook that appends every URL the process loads to the file named in its data. */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function load(url, context, next) { appendFileSync(file, url + '\\\\n'); return next(url, context); }
\`), { data: { file: process.env.ZK_TRACE_FILE } });
`)}`;

const DEFERRED = ['zod', 'prom-client', 'undici', 'cloudevents', '@electric-sql/pglite'];

function packagesIn(urls: string[]): Set<string> {
  const out = new Set<string>();
  for (const u of urls) {
    const m = u.match(/node_modules\/((@[^/]+\/)?[^/]+)\//);
    if (m) out.add(m[1]!);
  }
  return out;
}

describe('zenokube fn start path', () => {
  let tdb: TestDatabase;
  let dir: string;
  before(async () => {
    tdb = await createTestDatabase({ max: 1 });
    dir = mkdtempSync(join(tmpdir(), 'zk-start-path-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await tdb.drop();
  });

  it('answers its first request without loading zod, prom-client, undici, cloudevents or PGlite', async () => {
    const trace = join(dir, 'loaded.txt');
    const root = projectRoot();
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', '--import', HOOK, 'cli/zenokube.ts', 'fn', '--dir', 'tests/fixtures/functions/bench/ping'],
      { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: tdb.url, PORT: '0', HOST: '127.0.0.1', ZK_TRACE_FILE: trace }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/"msg":"function listening".*?"port":(\d+)/);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/bench/ping`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { ok: boolean; applied: number };
      assert.equal(body.ok, true);
      assert.ok(body.applied > 0, 'the route read the migrations table');
      const loaded = packagesIn(readFileSync(trace, 'utf8').split('\n'));
      assert.ok(loaded.has('postgres') && loaded.has('hono'), 'the trace sees the packages the function does use');
      assert.deepEqual(DEFERRED.filter((p) => loaded.has(p)), []);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    }
  });
});
