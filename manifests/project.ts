// What the generator reads from the checkout besides the declarations: the package version
// (the default image tag) and our custom resource definitions (crds/*.yaml).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '#shared/db/root';
import type { Manifest } from './generate.js';

/** The package version: the default image tag and the migration Job's suffix. */
export function packageVersion(root = projectRoot()): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Our custom resource definitions (crds/*.yaml), which knative/ingress/ installs. */
export function readCrds(root = projectRoot()): Manifest[] {
  const dir = join(root, 'crds');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS() as Manifest));
}
