// A product's outbox backlog as Prometheus gauges, read at each scrape: how many events wait for
// the relay and how long the oldest has waited (the outbox-lag alert). Every pod of the product
// sees the same table, so dashboards and alerts take `max by (product)`.
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { Metrics } from '#shared/metrics/index';
import { gaugeOnScrape } from '#shared/metrics/scraped';

const SCHEMA = /^[a-z][a-z0-9_]*$/;
/** Where the pending count stops: past it the backlog is an incident whatever its size. */
const PENDING_CAP = 100_000;

export function outboxGauges(metrics: Metrics, database: Database, product: string): void {
  if (!SCHEMA.test(product)) throw new TypeError(`invalid product schema name: ${product}`);
  const table = sql`${sql.identifier(product)}.outbox`;
  // One query serves both gauges of a scrape: the second reader reuses the first one's answer.
  let inFlight: Promise<{ pending: number; oldest: number }> | undefined;
  const backlog = () =>
    (inFlight ??= database
      .query<{ pending: string | number; oldest: string | number }>(
        // Both bounded whatever the backlog (a scrape per pod every few seconds, during an outage
        // too): the count stops at PENDING_CAP rows, and the oldest row is the first by `seq`
        // (insertion order, read from the primary key) rather than a scan for min(time).
        sql`select (select count(*) from (select 1 from ${table} limit ${PENDING_CAP}) capped) as pending,
                   coalesce((select extract(epoch from now() - time) from ${table} order by seq limit 1), 0)::float8 as oldest`,
      )
      .then(([row]) => ({ pending: Number(row?.pending ?? 0), oldest: Math.max(0, Number(row?.oldest ?? 0)) }))
      .finally(() => {
        inFlight = undefined;
      }));
  const labels = { product };
  gaugeOnScrape(metrics, { name: 'zeno_outbox_pending', help: `Events in the product outbox not yet acknowledged by the sink (counted up to ${PENDING_CAP}).`, labelNames: ['product'] }, async () => [
    { labels, value: (await backlog()).pending },
  ]);
  gaugeOnScrape(
    metrics,
    { name: 'zeno_outbox_oldest_pending_seconds', help: 'Age of the oldest event still in the product outbox (0 when empty).', labelNames: ['product'] },
    async () => [{ labels, value: (await backlog()).oldest }],
  );
}
