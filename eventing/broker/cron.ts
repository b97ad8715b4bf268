// Standard 5-field cron (minute hour day-of-month month day-of-week), in UTC as PingSource's default.
// Supports `*`, lists, ranges and steps (names such as MON are not supported).

export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  /** Vixie cron: when both day fields are restricted, a time matches either. */
  readonly dayOr: boolean;
}

function field(text: string, min: number, max: number, what: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) throw new TypeError(`cron ${what}: "${part}" is not valid`);
    const step = m[4] === undefined ? 1 : Number(m[4]);
    let lo = min;
    let hi = max;
    if (m[1] !== '*') {
      lo = Number(m[2]);
      hi = m[3] === undefined ? (m[4] === undefined ? lo : max) : Number(m[3]);
    }
    if (step < 1 || lo < min || hi > max || lo > hi) throw new TypeError(`cron ${what}: "${part}" is out of range ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Parses a 5-field cron expression; throws a TypeError naming the bad field. */
export function parseCron(expr: string): CronSchedule {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) throw new TypeError(`cron "${expr}" does not have 5 fields`);
  const [mi, h, dom, mon, dow] = parts as [string, string, string, string, string];
  const weekdays = field(dow, 0, 7, 'day-of-week');
  if (weekdays.has(7)) weekdays.add(0);
  return {
    minutes: field(mi, 0, 59, 'minute'),
    hours: field(h, 0, 23, 'hour'),
    days: field(dom, 1, 31, 'day-of-month'),
    months: field(mon, 1, 12, 'month'),
    weekdays,
    dayOr: dom !== '*' && dow !== '*',
  };
}

/** The first minute strictly after `after` that the schedule matches (UTC). */
export function nextCronTime(s: CronSchedule, after: Date): Date {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  // Four years of minutes bounds the search (Feb 29 schedules included).
  for (let i = 0; i < 4 * 366 * 24 * 60; i++) {
    const dayOk = s.dayOr
      ? s.days.has(t.getUTCDate()) || s.weekdays.has(t.getUTCDay())
      : s.days.has(t.getUTCDate()) && s.weekdays.has(t.getUTCDay());
    if (!s.months.has(t.getUTCMonth() + 1) || !dayOk) {
      t.setUTCHours(0, 0, 0, 0);
      t.setUTCDate(t.getUTCDate() + 1);
      continue;
    }
    if (!s.hours.has(t.getUTCHours())) {
      t.setUTCMinutes(0);
      t.setUTCHours(t.getUTCHours() + 1);
      continue;
    }
    if (s.minutes.has(t.getUTCMinutes())) return t;
    t.setUTCMinutes(t.getUTCMinutes() + 1);
  }
  throw new TypeError('cron schedule never matches');
}
