// `npm run bench`: runs every bench/<name>.ts (top level; helpers live in subfolders) in turn as
// its own process, passing its output through. Arguments narrow the run to names containing them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const scripts = readdirSync(here, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.ts') && e.name !== 'run.ts' && !e.name.endsWith('.test.ts'))
  .map((e) => e.name)
  .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
  .sort();

if (scripts.length === 0) {
  process.stderr.write('no benchmark matched\n');
  process.exit(1);
}

const failed: string[] = [];
for (const name of scripts) {
  const result = spawnSync(process.execPath, ['--conditions=development', '--import', 'tsx', join(here, name)], {
    stdio: ['ignore', 'inherit', 'inherit'],
    cwd: join(here, '..'),
  });
  if (result.status !== 0) failed.push(`${name} (exit ${result.status ?? result.signal})`);
}
if (failed.length) {
  process.stderr.write(`benchmarks failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
