// Checks the event wiring of a set of declarations against the event catalog: every emitted type
// is in the catalog, and every consumed type has a producer (a function that emits it, or the
// subscriber's own schedule, which a PingSource fires).
import { ANY_EVENT_TYPE, type FunctionDeclaration } from '#shared/function/define';
import { ManifestError } from './check.js';

/** Returns every wiring problem (empty when sound). `catalogTypes`: the type names of the catalog. */
export function eventWiringProblems(decls: readonly FunctionDeclaration[], catalogTypes: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const emitted = new Set<string>();
  for (const d of decls) {
    for (const type of d.emits ?? []) {
      if (type === ANY_EVENT_TYPE) continue;
      emitted.add(type);
      if (!catalogTypes.has(type)) problems.push(`${d.name}: emits ${type}, which is not in the event catalog`);
    }
  }
  for (const d of decls) {
    for (const sub of d.subscribes ?? []) {
      if (!catalogTypes.has(sub.type)) problems.push(`${d.name}: subscribes to ${sub.type}, which is not in the event catalog`);
      const scheduled = (d.schedules ?? []).some((s) => s.type === sub.type);
      if (!scheduled && !emitted.has(sub.type)) problems.push(`${d.name}: subscribes to ${sub.type}, which no function emits and no schedule of its own fires`);
    }
  }
  return problems;
}

/** Throws a ManifestError listing every wiring problem. */
export function checkEventWiring(decls: readonly FunctionDeclaration[], catalogTypes: ReadonlySet<string>): void {
  const problems = eventWiringProblems(decls, catalogTypes);
  if (problems.length) throw new ManifestError(problems);
}
