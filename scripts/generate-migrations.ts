// Generates SQL migrations with drizzle-kit for each schema owner whose schema.ts changed:
// functions/<product>/core/schema.ts -> functions/<product>/core/migrations/,
// eventing/schema.ts -> eventing/migrations/. Usage: npm run db:generate [-- <owner> ...]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const owners: { name: string; schema: string; out: string }[] = [];
if (existsSync('eventing/schema.ts')) owners.push({ name: 'eventing', schema: 'eventing/schema.ts', out: 'eventing/migrations' });
for (const product of readdirSync('functions').sort()) {
  const schema = join('functions', product, 'core', 'schema.ts');
  if (existsSync(schema)) owners.push({ name: product, schema, out: join('functions', product, 'core', 'migrations') });
}

const only = process.argv.slice(2);
let failed = false;
for (const o of owners.filter((x) => only.length === 0 || only.includes(x.name))) {
  const r = spawnSync(
    'npx',
    ['drizzle-kit', 'generate', '--dialect=postgresql', `--schema=${o.schema}`, `--out=${o.out}`, '--casing=snake_case', '--breakpoints'],
    // Schemas import the kit through `#shared/*`, which resolves to sources only under this condition.
    { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --conditions=development`.trim() } },
  );
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
