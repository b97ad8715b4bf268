// Configuration source (a): a directory of YAML/JSON manifests, read whole and watched.
import { readdirSync, readFileSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { join, relative } from 'node:path';
import type { ResourceSet } from '../engine/resources.js';
import { emptyResourceSet } from '../engine/resources.js';
import type { ParseProblem } from './parse.js';
import { parseManifests } from './parse.js';

const MANIFEST = /\.(ya?ml|json)$/i;
/** A bound on what one directory may hold, so a mistaken path cannot exhaust memory. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

function listFiles(dir: string, out: string[] = [], depth = 0): string[] {
  if (depth > 8) return out;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) listFiles(p, out, depth + 1);
    else if (e.isFile() && MANIFEST.test(e.name)) out.push(p);
  }
  return out.sort();
}

/** Reads every manifest under `dir` (sorted, hidden files skipped). */
export function readDirectory(dir: string): { set: ResourceSet; problems: ParseProblem[] } {
  const set = emptyResourceSet();
  const problems: ParseProblem[] = [];
  let files: string[];
  try {
    files = listFiles(dir);
  } catch (err) {
    return { set, problems: [{ source: dir, message: (err as Error).message }] };
  }
  for (const file of files) {
    const name = relative(dir, file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ source: name, message: (err as Error).message });
      continue;
    }
    if (text.length > MAX_FILE_BYTES) {
      problems.push({ source: name, message: 'file too large' });
      continue;
    }
    problems.push(...parseManifests(text, name, set).problems);
  }
  return { set, problems };
}

/** Calls `onChange` (debounced) whenever something under `dir` changes; returns a stop function. */
export function watchDirectory(dir: string, onChange: () => void, debounceMs = 150): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const fire = () => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  watcher = watch(dir, { recursive: true }, fire);
  watcher.on('error', () => {});
  return () => {
    clearTimeout(timer);
    watcher?.close();
    watcher = undefined;
  };
}
