// Loaded with --import into every test process when `run-tests.mjs --times` runs: at exit, appends the
// process's start, wall time and CPU time (user + system: its own, and that of the child processes
// it waited for, where /proc tells) as one JSON line to the file named by ZENO_TEST_TIMES, so the
// runner can list where a part's time goes.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const out = process.env.ZENO_TEST_TIMES;
if (out) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const line = {
      file: process.argv[1] ? sourceOf(relative(process.cwd(), process.argv[1]).split('\\').join('/')) : '(none)',
      startMs: Math.round(performance.timeOrigin),
      wallMs: Math.round(performance.now()),
      cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
      childCpuMs: childCpuMs(),
    };
    appendFileSync(out, `${JSON.stringify(line)}\n`);
  });
}

/** The source of a compiled test file (dist/x.test.js → x.test.ts or x.test.tsx); any other path as it is. */
function sourceOf(file) {
  if (!file.startsWith('dist/') || !file.endsWith('.js')) return file;
  const ts = file.slice('dist/'.length, -'.js'.length) + '.ts';
  return existsSync(`${ts}x`) ? `${ts}x` : ts;
}

/** CPU time of the finished child processes this one waited for (cutime + cstime of proc(5), in 1/100 s). */
function childCpuMs() {
  if (!existsSync('/proc/self/stat')) return 0;
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}
