// Runs the project's *.test.ts / *.test.tsx with node's test runner, on one or more Node versions.
// The TypeScript is compiled to dist/ first (scripts/build-tests.mjs), one module per file, and the
// test processes run that JavaScript with no loader (source maps on, so stack traces name the .ts). With no arguments it runs the supported-version matrix:
//   - the whole suite on this machine's Node (`--suite` alone: `npm test`);
//   - then the unit + smoke tests on every other supported major (22 and 24), with binaries of
//     the `node` package from the npm registry (`npx -y node@<major>`, cached by npm under ~/.npm/_npx)
//     (`--matrix` alone: `npm run test:matrix`).
// Unit + smoke: every test file outside tests/e2e/ but the checks of the source text and the
// image (STATIC, run once), plus the e2e files in SMOKE (the stack started
// as `npm start` does). A major equal to this machine's is covered by the whole suite already.
//
//   node scripts/run-tests.mjs [--typecheck] [--suite | --matrix] [--node=<spec>[,<spec>]] [--unit] [--times] [substring...]
// Substrings narrow the run to files whose path contains one of them, on this machine's Node only
// unless --node names where: a major (22), `host`, or the path of a node binary; --unit narrows it
// to the unit + smoke files. --typecheck runs `tsc --noEmit` beside the first part (npm test does).
// --times lists, after each part, its slowest files with their wall and CPU time
// (scripts/test-times.mjs).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildTests, compiledPath } from './build-tests.mjs';

/** The majors the project supports besides whatever runs this script (package.json engines: >=22.11). */
const MATRIX = ['22', '24'];
/** The e2e files in the unit + smoke set: they start the whole stack. */
const SMOKE = ['tests/e2e/start.test.ts', 'tests/e2e/start-deprecation.test.ts'];
/**
 * Checks whose outcome does not depend on the Node that runs them: of the source text (layering,
 * dead code, docs), and of the image, which runs on its base image's Node whatever runs the test.
 */
const STATIC = ['tests/layering/', 'tests/knip/', 'tests/docs/', 'tests/image/'];
/**
 * Files that take the longest, started first: run last, a long file keeps one core busy alone
 * at the end of a part while the other has nothing left to run. The image (an npm ci and a build),
 * PGlite (one WASM database for the run), knip and the layering rules (a whole-program analysis
 * each), then the end-to-end tests (whole stacks); the rest in path order.
 */
const SLOW_FIRST = ['tests/image/', 'tests/pglite/', 'tests/knip/', 'tests/layering/', 'tests/e2e/'];

/**
 * Test files run at once in a part. Most files spend most of their time waiting (on PostgreSQL, on
 * sockets, on timers their tests set), not on the CPU: over the whole suite the test processes
 * use about a seventh of the wall time they take, so two cores keep four files going.
 * ZENO_TEST_CONCURRENCY overrides it.
 */
const CONCURRENCY = Number(process.env.ZENO_TEST_CONCURRENCY) > 0 ? Math.floor(Number(process.env.ZENO_TEST_CONCURRENCY)) : 4;

const root = process.cwd();
const skip = new Set(['node_modules', 'dist', '.git', '.zenokube', 'knative']);

function find(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) find(p, out);
    else if (/\.test\.tsx?$/.test(e.name)) out.push(relative(root, p).split('\\').join('/'));
  }
  return out;
}

const slowRank = (file) => {
  const i = SLOW_FIRST.findIndex((dir) => file.startsWith(dir));
  return i < 0 ? SLOW_FIRST.length : i;
};
const bySlowFirst = (a, b) => slowRank(a) - slowRank(b) || (a < b ? -1 : a > b ? 1 : 0);

const isUnitOrSmoke = (file) => (!file.startsWith('tests/e2e/') || SMOKE.includes(file)) && !STATIC.some((dir) => file.startsWith(dir));

/** A node binary for `spec`: this one, a path, or the latest release of a major from the npm registry. */
function resolveNode(spec) {
  if (spec === 'host') return process.execPath;
  if (!/^\d+$/.test(spec)) return spec;
  // --prefer-offline: a cached release is used without asking the registry again.
  const r = spawnSync('npx', ['--prefer-offline', '-y', `node@${spec}`, '-p', 'process.execPath'], { encoding: 'utf8', shell: process.platform === 'win32' });
  const path = r.status === 0 ? r.stdout.trim() : '';
  if (!path) {
    const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-5).join('\n  ');
    throw new Error(`cannot get Node ${spec} from the npm registry (npx -y node@${spec} failed${why ? `:\n  ${why}` : ''})`);
  }
  return path;
}

function versionOf(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} --version failed: ${(r.error?.message ?? r.stderr).trim()}`);
  return r.stdout.trim();
}

/** The parts to run: which files on which binary. */
function plan(argv) {
  const specs = argv.filter((a) => a.startsWith('--node=')).flatMap((a) => a.slice('--node='.length).split(',')).filter(Boolean);
  const filters = argv.filter((a) => !a.startsWith('--'));
  const unit = argv.includes('--unit');
  const unknown = argv.filter((a) => a.startsWith('--') && !a.startsWith('--node=') && !['--times', '--unit', '--typecheck', '--suite', '--matrix'].includes(a));
  if (unknown.length) throw new Error(`unknown option ${unknown.join(' ')}`);
  const all = find(root).sort(bySlowFirst);
  if (filters.length > 0 || specs.length > 0 || unit) {
    const files = all.filter((f) => (filters.length === 0 || filters.some((x) => f.includes(x))) && (!unit || isUnitOrSmoke(f)));
    const label = filters.length ? 'matching files' : unit ? 'unit + smoke' : 'whole suite';
    return (specs.length ? specs : ['host']).map((spec) => ({ spec, label, files }));
  }
  const hostMajor = process.versions.node.split('.')[0];
  const suite = [{ spec: 'host', label: 'whole suite', files: all }];
  const matrix = MATRIX.filter((m) => m !== hostMajor).map((spec) => ({ spec, label: 'unit + smoke', files: all.filter(isUnitOrSmoke) }));
  if (argv.includes('--suite') && !argv.includes('--matrix')) return suite;
  if (argv.includes('--matrix') && !argv.includes('--suite')) {
    if (matrix.length === 0) throw new Error(`no other supported major than this machine's (${hostMajor}) to run`);
    return matrix;
  }
  return [...suite, ...matrix];
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs one part, its output passed through; resolves to its counts, read from the runner's closing lines. */
function runPart(part, times) {
  return new Promise((resolve) => {
    const started = performance.now();
    const cpuBefore = childCpuSeconds();
    const probe = times ? ['--import', pathToFileURL(join(root, 'scripts/test-times.mjs')).href] : [];
    const timesFile = times ? join(times, `${part.spec.replace(/\W/g, '_')}.jsonl`) : undefined;
    const child = spawn(part.bin, ['--enable-source-maps', ...probe, join(root, 'scripts/run-files.mjs'), String(CONCURRENCY), ...part.files.map(compiledPath)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ZENO_LOG_LEVEL: process.env.ZENO_LOG_LEVEL ?? 'error', ...(timesFile ? { ZENO_TEST_TIMES: timesFile } : {}) },
    });
    let text = '';
    child.stdout.on('data', (d) => {
      text += d.toString();
      process.stdout.write(d);
    });
    child.on('error', (err) => process.stderr.write(`cannot run ${part.bin}: ${err.message}\n`));
    child.on('close', (code, signal) => {
      const counts = {};
      for (const m of text.replace(ANSI, '').matchAll(/^ℹ (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[m[1]] = Number(m[2]);
      const cpu = cpuBefore === undefined ? undefined : childCpuSeconds() - cpuBefore;
      resolve({ ...part, code: code ?? signal, counts, failures: failingBlock(text), seconds: (performance.now() - started) / 1000, cpu, load: loadavg()[0], timesFile });
    });
  });
}

/**
 * CPU seconds (user + system) of this script's finished children and their waited-for descendants,
 * from /proc (Linux); undefined elsewhere. The database server's share is not in it.
 */
function childCpuSeconds() {
  if (!existsSync('/proc/self/stat')) return undefined;
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  // Fields 16 and 17 of proc(5), cutime and cstime, in clock ticks (100 a second on Linux).
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** The slowest files of a part, and how long fewer files ran than the concurrency allows, from scripts/test-times.mjs. */
function timesTable(r) {
  if (!r.timesFile || !existsSync(r.timesFile)) return '';
  const rows = readFileSync(r.timesFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((x) => /\.test\.tsx?$/.test(x.file));
  rows.sort((a, b) => b.wallMs - a.wallMs);
  const cpu = (x) => x.cpuMs + x.childCpuMs;
  const sum = (f) => rows.reduce((n, x) => n + f(x), 0) / 1000;
  const lines = rows.slice(0, 30).map((x) => `${(x.wallMs / 1000).toFixed(1).padStart(7)} s ${(cpu(x) / 1000).toFixed(1).padStart(6)} s  ${x.file}`);
  // Seconds during which fewer files ran than the part's concurrency (the end of a part included).
  const edges = rows.flatMap((x) => [[x.startMs, 1], [x.startMs + x.wallMs, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let short = 0;
  for (let i = 0; i < edges.length - 1; i++) {
    running += edges[i][1];
    if (running < CONCURRENCY) short += edges[i + 1][0] - edges[i][0];
  }
  return (
    `\n━━ slowest files on Node ${r.version} (${r.label}): wall, CPU of the file's process and the children it waited for ━━\n${lines.join('\n')}\n` +
    `  ${rows.length} files: ${sum((x) => x.wallMs).toFixed(0)} s wall summed, ${sum(cpu).toFixed(0)} s CPU; fewer than ${CONCURRENCY} files running for ${(short / 1000).toFixed(0)} s; lines in ${r.timesFile}\n`
  );
}

/**
 * The spec reporter's closing "failing tests" block, cut to its first lines: repeated after the
 * summary, where a log that keeps only its tail still shows which test failed and why.
 */
function failingBlock(text) {
  const plain = text.replace(ANSI, '');
  const at = plain.lastIndexOf('✖ failing tests:');
  if (at < 0) return '';
  const lines = plain.slice(at).split('\n').filter((l) => !/^ℹ /.test(l) && !/\(node:internal\//.test(l));
  const kept = lines.slice(0, 80);
  return kept.join('\n').trimEnd() + (lines.length > kept.length ? `\n… ${lines.length - kept.length} more lines above, in the part's output\n` : '\n');
}

/** `tsc --noEmit` on the project, its output kept for the end; resolves to its exit code, output and wall time. */
function startTypecheck() {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => (output += `cannot run tsc: ${err.message}\n`));
    child.on('close', (code, signal) => resolve({ code: code ?? signal, output, seconds: (performance.now() - started) / 1000 }));
  });
}

function header(part, i, n) {
  return `\n━━ part ${i + 1}/${n}: ${part.label} (${part.files.length} files) on Node ${part.version} (${part.bin}) ━━\n`;
}

async function main() {
  const argv = process.argv.slice(2);
  const parts = plan(argv);
  const times = argv.includes('--times') ? mkdtempSync(join(tmpdir(), 'zeno-test-times-')) : undefined;
  if (parts.some((p) => p.files.length === 0)) {
    console.error('no test files matched');
    process.exit(1);
  }
  for (const part of parts) {
    part.bin = resolveNode(part.spec);
    part.version = versionOf(part.bin);
  }
  const built = await buildTests(root);
  process.stdout.write(`compiled ${built.files} files to dist/ (${built.written} changed, ${built.removed} removed)\n`);
  // The type check is single-threaded: run beside the first part, it takes a core the part would
  // leave idle at times, instead of running alone before it.
  const typecheck = argv.includes('--typecheck') ? startTypecheck() : undefined;
  // One part after another: the suite keeps both cores busy on its own.
  const results = [];
  for (const [i, part] of parts.entries()) {
    process.stdout.write(header(part, i, parts.length));
    results.push(await runPart(part, times));
  }
  const checked = typecheck && (await typecheck);
  if (checked && checked.code !== 0) process.stdout.write(`\n━━ tsc --noEmit failed (exit ${checked.code}) ━━\n${checked.output}`);
  for (const r of results) process.stdout.write(timesTable(r));

  for (const r of results) {
    if (r.failures) process.stdout.write(`\n━━ failing on Node ${r.version} (${r.label}) ━━\n${r.failures}`);
  }
  let passed = 0;
  let failed = 0;
  process.stdout.write('\n━━ summary ━━\n');
  for (const r of results) {
    const ok = r.code === 0 && r.counts.pass !== undefined;
    const fail = (r.counts.fail ?? 0) + (r.counts.cancelled ?? 0);
    passed += r.counts.pass ?? 0;
    // A part that ended without its closing lines (a crash) counts as one failure.
    failed += r.counts.pass === undefined ? Math.max(fail, 1) : fail;
    const figures = r.counts.pass === undefined ? `no closing lines (exit ${r.code})` : `${r.counts.pass} passed, ${fail} failed, ${r.counts.skipped ?? 0} skipped`;
    const cost = `${Math.round(r.seconds)} s${r.cpu === undefined ? '' : `, ${Math.round(r.cpu)} s CPU`}, load ${r.load.toFixed(2)}`;
    process.stdout.write(`${ok ? '✔' : '✖'} Node ${r.version.padEnd(9)} ${r.label.padEnd(14)} ${String(r.files.length).padStart(3)} files  ${figures}  ${cost}\n`);
  }
  if (checked) process.stdout.write(`${checked.code === 0 ? '✔' : '✖'} tsc --noEmit, beside part 1  ${Math.round(checked.seconds)} s\n`);
  const allOk = results.every((r) => r.code === 0 && r.counts.pass !== undefined) && (!checked || checked.code === 0);
  if (!allOk && failed === 0) failed = 1;
  process.stdout.write(`tests: ${passed} passed, ${failed} failed\n`);
  process.exit(allOk ? 0 : 1);
}

main().catch((err) => {
  console.error(`run-tests: ${err.message}`);
  process.exit(1);
});
