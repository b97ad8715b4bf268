// The local PingSource: fires each declared schedule's CloudEvent into the broker on its cron, as
// the generated PingSource does in a cluster: type `dev.knative.sources.ping`, the declared type in
// the `zenotype` extension, the schedule's name in `zenoschedule`.
import { randomUUID } from 'node:crypto';
import type { FunctionDeclaration } from '#shared/function/define';
import { jsonEvent } from '#shared/events/cloudevent';
import { PING_SOURCE_TYPE, SCHEDULE_EXTENSIONS } from '#shared/events/schedule';
import type { Logger } from '#shared/log/index';
import { nextCronTime, parseCron, type CronSchedule } from './cron.js';

interface PingSourceOptions {
  declarations: readonly FunctionDeclaration[];
  /** Hands the event to the broker (in process: the ingress acceptor). */
  send: (attributes: Record<string, string>, data: Uint8Array | undefined) => Promise<void>;
  log: Logger;
  now?: () => Date;
}

interface PingSource {
  stop(): void;
}

interface Entry {
  fn: string;
  name: string;
  cron: CronSchedule;
  type: string;
  data: Record<string, unknown>;
  timer?: NodeJS.Timeout;
}

/** Starts one timer per schedule; each fires at the next matching minute, then re-arms. */
export function startPingSource(opts: PingSourceOptions): PingSource {
  const now = opts.now ?? (() => new Date());
  const entries: Entry[] = opts.declarations.flatMap((d) =>
    (d.schedules ?? []).map((s) => ({ fn: d.name, name: s.name, cron: parseCron(s.schedule), type: s.type, data: s.data ?? { schedule: s.name } })),
  );
  let stopped = false;
  const arm = (e: Entry) => {
    if (stopped) return;
    const at = nextCronTime(e.cron, now());
    e.timer = setTimeout(() => {
      if (stopped) return;
      // PingSource events: source names the PingSource, the id is fresh per tick.
      const wire = jsonEvent(
        {
          id: randomUUID(),
          source: `/apis/v1/namespaces/default/pingsources/${e.fn}-${e.name}`,
          type: PING_SOURCE_TYPE,
          time: at.toISOString(),
          [SCHEDULE_EXTENSIONS.type]: e.type,
          [SCHEDULE_EXTENSIONS.schedule]: e.name,
        },
        e.data,
      );
      opts.send({ ...wire.attributes }, wire.data).catch((err: unknown) => opts.log.error('schedule could not fire', { schedule: e.name, fn: e.fn, err }));
      arm(e);
    }, Math.max(0, at.getTime() - now().getTime()));
    e.timer.unref();
  };
  for (const e of entries) arm(e);
  return {
    stop() {
      stopped = true;
      for (const e of entries) if (e.timer) clearTimeout(e.timer);
    },
  };
}
