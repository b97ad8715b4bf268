// Checks a standard 5-field cron expression (minute hour day-of-month month day-of-week), the
// syntax PingSource accepts, so that a typo fails at generation rather than in the cluster.

interface Field {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function value(text: string, f: Field): number | undefined {
  const named = f.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return named + (f.name === 'month' ? 1 : 0);
  if (!/^\d{1,2}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= f.min && n <= f.max ? n : undefined;
}

function checkPart(part: string, f: Field): string | undefined {
  const [range, step, extra] = part.split('/');
  if (extra !== undefined || range === undefined || range === '') return `"${part}" is not a ${f.name} term`;
  if (step !== undefined && !(/^\d{1,2}$/.test(step) && Number(step) > 0)) return `step "${step}" in ${f.name} is not a positive number`;
  if (range === '*' || range === '?') return undefined;
  const [from, to, more] = range.split('-');
  if (more !== undefined || from === undefined) return `"${part}" is not a ${f.name} range`;
  const a = value(from, f);
  if (a === undefined) return `${f.name} "${from}" is outside ${f.min}-${f.max}`;
  if (to === undefined) return undefined;
  const b = value(to, f);
  if (b === undefined) return `${f.name} "${to}" is outside ${f.min}-${f.max}`;
  if (b < a) return `${f.name} range "${range}" runs backwards`;
  return undefined;
}

/** Returns the problems of a cron expression (empty when valid). */
export function cronProblems(expression: string): string[] {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) return [`"${expression}" has ${parts.length} fields, not 5`];
  const problems: string[] = [];
  parts.forEach((field, i) => {
    const f = FIELDS[i]!;
    for (const term of field.split(',')) {
      const p = checkPart(term, f);
      if (p) problems.push(p);
    }
  });
  return problems;
}
