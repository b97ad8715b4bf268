// The connection pool as Prometheus gauges, read at each scrape from Database.health(): the
// platform dashboard shows pool use against its size, and callers queued for a connection.
import type { Metrics } from '#shared/metrics/index';
import { gaugeOnScrape } from '#shared/metrics/scraped';
import type { Database } from './database.js';

export function poolGauges(metrics: Metrics, database: Pick<Database, 'health'>, fn: string): void {
  const spec = (name: string, help: string) => ({ name, help, labelNames: ['fn'] });
  const labels = { fn };
  gaugeOnScrape(metrics, spec('zeno_db_pool_connections', 'Connections the function may open (the pool size).'), () => [{ labels, value: database.health().size }]);
  gaugeOnScrape(metrics, spec('zeno_db_pool_connections_in_use', 'Connections held by a statement or a transaction.'), () => [{ labels, value: database.health().inUse }]);
  gaugeOnScrape(metrics, spec('zeno_db_pool_waiters', 'Callers waiting for a connection.'), () => [{ labels, value: database.health().waiting }]);
}
