// The unsealer's seal state as a Prometheus gauge, read at each scrape: the vault-sealed alert
// fires on it. Per process (each replica is scraped): 1 while it holds no root key.
import type { Metrics } from '#shared/metrics/index';
import { gaugeOnScrape } from '#shared/metrics/scraped';

export function sealGauge(metrics: Metrics, keyring: { isSealed(): boolean }): void {
  gaugeOnScrape(
    metrics,
    { name: 'zeno_vault_sealed', help: '1 while this unsealer holds no root key (sealed: vault-api cannot read or write secrets), 0 when unsealed.' },
    () => [{ value: keyring.isSealed() ? 1 : 0 }],
  );
}
