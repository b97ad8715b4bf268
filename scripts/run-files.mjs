// One part of `npm test`, started by scripts/run-tests.mjs on the compiled files in dist/: node's test
// runner (run(), each file in a process of its own, with this process's flags) over the files in the order given, with the spec reporter. Unlike
// `node --test`, which sorts its files by path, run() starts them in this order, so the runner can
// start the longest first.
//   node --enable-source-maps scripts/run-files.mjs <concurrency> <dist/…test.js>...
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const [concurrency, ...files] = process.argv.slice(2);
const stream = run({ files, concurrency: Number(concurrency) });
// A failing todo test fails no run, as under `node --test`.
stream.on('test:fail', (data) => {
  if (!data.todo) process.exitCode = 1;
});
// Node 20 exports the reporter as a class, later majors as a function that makes one.
const reporter = /^class\b/.test(Function.prototype.toString.call(spec)) ? new spec() : spec;
stream.compose(reporter).pipe(process.stdout);
