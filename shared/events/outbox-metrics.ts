// A product's outbox backlog as Prometheus gauges, read at each scrape: how many events wait for
// the relay and how long the oldest has waited (the outbox-lag alert). Every pod of the product
// sees the same table, so dashboards and alerts take `max by (product)`.
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { Metrics } from '#shared/metrics/index';
import { gaugeOnScrape } from '#shared/metrics/scraped';

const SCHEMA = /^[a-z][a-z0-9_]*$/;

export function outboxGauges(metrics: Metrics, database: Database, product: string): void {
  if (!SCHEMA.test(product)) throw new TypeError(`invalid product schema name: ${product}`);
  // One query serves both gauges of a scrape: the second reader reuses the first one's answer.
  let inFlight: Promise<{ pending: number; oldest: number }> | undefined;
  const backlog = () =>
    (inFlight ??= database
      .query<{ pending: string | number; oldest: string | number }>(
        sql`select count(*) as pending, coalesce(extract(epoch from now() - min(time)), 0)::float8 as oldest from ${sql.identifier(product)}.outbox`,
      )
      .then(([row]) => ({ pending: Number(row?.pending ?? 0), oldest: Math.max(0, Number(row?.oldest ?? 0)) }))
      .finally(() => {
        inFlight = undefined;
      }));
  const labels = { product };
  gaugeOnScrape(metrics, { name: 'zeno_outbox_pending', help: 'Events in the product outbox not yet acknowledged by the sink.', labelNames: ['product'] }, async () => [
    { labels, value: (await backlog()).pending },
  ]);
  gaugeOnScrape(
    metrics,
    { name: 'zeno_outbox_oldest_pending_seconds', help: 'Age of the oldest event still in the product outbox (0 when empty).', labelNames: ['product'] },
    async () => [{ labels, value: (await backlog()).oldest }],
  );
}
