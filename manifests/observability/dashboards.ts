// The Grafana dashboards: one for the platform, one per product declared, one for the ingress and
// one for eventing. Every query reads metrics the code registers (shared/metrics, the products'
// *-metrics.ts, functions/ingress/proxy/observe.ts), or kube-state-metrics for pod restarts.
import type { FunctionDeclaration } from '#shared/function/define';
import { dashboardJson, NS, type PanelSpec } from './grafana.js';

const HTTP = 'zeno_http_request_duration_seconds';
/** prom-client's default metrics, under each process's prefix (shared/metrics/build.ts, functions/ingress/standalone.ts). */
const FUNCTION_PROCESS = 'zeno_';
const INGRESS_PROCESS = 'zeno_ingress_process_';
/** Probes and scrapes are not traffic. */
const NOT_PROBES = 'route!~"/healthz|/readyz|/metrics"';

const rate = (selector: string) => `rate(${selector}[$__rate_interval])`;

type Row = { title: string; panels: PanelSpec[] };

function requestPanels(fns: string): PanelSpec[] {
  const sel = `${NS}, fn=~"${fns}", ${NOT_PROBES}`;
  return [
    { title: 'Requests per second', unit: 'reqps', queries: [{ expr: `sum by (fn) (${rate(`${HTTP}_count{${sel}}`)})`, legend: '{{fn}}' }] },
    {
      title: 'Server errors (share of 5xx answers)',
      unit: 'percentunit',
      queries: [{ expr: `sum by (fn) (${rate(`${HTTP}_count{${sel}, status=~"5.."}`)}) / sum by (fn) (${rate(`${HTTP}_count{${sel}}`)})`, legend: '{{fn}}' }],
    },
    {
      title: 'Latency p99 and p50',
      unit: 's',
      queries: [
        { expr: `histogram_quantile(0.99, sum by (fn, le) (${rate(`${HTTP}_bucket{${sel}}`)}))`, legend: 'p99 {{fn}}' },
        { expr: `histogram_quantile(0.5, sum by (fn, le) (${rate(`${HTTP}_bucket{${sel}}`)}))`, legend: 'p50 {{fn}}' },
      ],
    },
    { title: 'Answers by route and status', unit: 'reqps', queries: [{ expr: `sum by (fn, route, status) (${rate(`${HTTP}_count{${sel}}`)})`, legend: '{{fn}} {{route}} {{status}}' }] },
  ];
}

function poolPanels(fns: string): PanelSpec[] {
  const sel = `${NS}, fn=~"${fns}"`;
  return [
    {
      title: 'Database connections in use / pool size',
      description: 'Summed over pods: what the functions hold against what they may open (the connection budget).',
      queries: [
        { expr: `sum by (fn) (zeno_db_pool_connections_in_use{${sel}})`, legend: 'in use {{fn}}' },
        { expr: `sum by (fn) (zeno_db_pool_connections{${sel}})`, legend: 'pool {{fn}}' },
      ],
    },
    { title: 'Callers waiting for a connection', queries: [{ expr: `sum by (fn) (zeno_db_pool_waiters{${sel}})`, legend: '{{fn}}' }] },
  ];
}

function outboxPanels(products: string): PanelSpec[] {
  const sel = `${NS}, product=~"${products}"`;
  return [
    { title: 'Outbox: events waiting for the relay', queries: [{ expr: `max by (product) (zeno_outbox_pending{${sel}})`, legend: '{{product}}' }] },
    { title: 'Outbox: age of the oldest waiting event', unit: 's', queries: [{ expr: `max by (product) (zeno_outbox_oldest_pending_seconds{${sel}})`, legend: '{{product}}' }] },
  ];
}

const deadLetterPanels: PanelSpec[] = [
  { title: 'Dead letters per second by type and subscriber', unit: 'short', queries: [{ expr: `sum by (type, subscriber) (${rate(`zeno_dead_letters_total{${NS}}`)})`, legend: '{{type}} → {{subscriber}}' }] },
  { title: 'Dead letters stored (awaiting replay)', queries: [{ expr: `max(zeno_dead_letters_stored{${NS}})`, legend: 'stored' }] },
];

function processPanels(prefix: string, podFilter: string): PanelSpec[] {
  const sel = `${NS}${podFilter}`;
  return [
    { title: 'Container restarts (last hour)', description: 'From kube-state-metrics.', queries: [{ expr: `sum by (pod) (increase(kube_pod_container_status_restarts_total{${sel}}[1h])) > 0`, legend: '{{pod}}' }] },
    { title: 'Resident memory', unit: 'bytes', queries: [{ expr: `sum by (pod) (${prefix}process_resident_memory_bytes{${sel}})`, legend: '{{pod}}' }] },
    { title: 'Event loop lag p99', unit: 's', queries: [{ expr: `max by (pod) (${prefix}nodejs_eventloop_lag_p99_seconds{${sel}})`, legend: '{{pod}}' }] },
  ];
}

/** Panels only one product has, by product name. */
const PRODUCT_ROWS: Record<string, Row[]> = {
  auth: [
    {
      title: 'Sign-ins',
      panels: [
        { title: 'Failed sign-ins per second by reason', unit: 'short', queries: [{ expr: `sum by (reason) (${rate(`zeno_auth_login_failures_total{${NS}}`)})`, legend: '{{reason}}' }] },
        {
          title: 'Share of password checks that fail',
          unit: 'percentunit',
          queries: [
            {
              expr: `sum(${rate(`zeno_auth_login_failures_total{${NS}}`)}) / (sum(${rate(`zeno_auth_login_failures_total{${NS}}`)}) + sum(${rate(`zeno_auth_logins_total{${NS}}`)}))`,
              legend: 'failed',
            },
          ],
        },
      ],
    },
  ],
  vault: [
    {
      title: 'Seal',
      panels: [
        { title: 'Unsealers sealed', description: '1 while a replica holds no root key.', kind: 'stat', width: 8, queries: [{ expr: `sum(zeno_vault_sealed{${NS}})`, legend: 'sealed' }] },
        { title: 'Unsealers unsealed', kind: 'stat', width: 8, queries: [{ expr: `count(zeno_vault_sealed{${NS}} == 0) or vector(0)`, legend: 'unsealed' }] },
        { title: 'Seal state by replica', width: 8, queries: [{ expr: `max by (pod) (zeno_vault_sealed{${NS}})`, legend: '{{pod}}' }] },
      ],
    },
  ],
};

/** The dead-letter function's product: its rows join the Eventing dashboard. */
const DEAD_LETTER_PRODUCT = 'events';

/** Dashboards that exist whatever is declared (and the dead letters, shown with eventing). */
const FIXED = new Set(['platform', 'ingress', 'eventing', DEAD_LETTER_PRODUCT]);

const names = (decls: readonly FunctionDeclaration[]) => decls.map((d) => d.name).join('|');

/** `uid` → dashboard JSON, for every product in `decls` plus the platform, ingress and eventing. */
export function dashboards(decls: readonly FunctionDeclaration[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const products = [...new Set(decls.map((d) => d.product))].sort();
  const fnPods = (fns: string) => `, pod=~"(${fns})-.*"`;
  out.set(
    'platform',
    dashboardJson(
      {
        uid: 'zenokube-platform',
        title: 'Zenokube / Platform',
        description: 'Every function: traffic, errors, latency, database pool, events, restarts.',
        rows: [
          { title: 'Functions', panels: requestPanels(names(decls)) },
          { title: 'Database pool', panels: poolPanels(names(decls)) },
          { title: 'Events', panels: [...outboxPanels(products.join('|')), ...deadLetterPanels] },
          { title: 'Pods', panels: processPanels(FUNCTION_PROCESS, fnPods(names(decls))).map((p) => ({ ...p, width: 8 })) },
        ],
      },
      `${HTTP}_count`,
    ),
  );
  // A product named like a fixed dashboard, and the dead-letter function's product `events`, add
  // their functions' rows to that dashboard instead of one of their own.
  const ownRows = (product: string) => {
    const own = decls.filter((d) => d.product === product);
    return own.length ? [{ title: 'Its functions', panels: requestPanels(names(own)) }, { title: 'Its database pool', panels: poolPanels(names(own)) }] : [];
  };
  for (const product of products.filter((p) => !FIXED.has(p))) {
    const own = decls.filter((d) => d.product === product);
    out.set(
      product,
      dashboardJson(
        {
          uid: `zenokube-${product}`,
          title: `Zenokube / ${product}`,
          description: `The ${product} functions: ${own.map((d) => d.name).join(', ')}.`,
          rows: [
            { title: 'Requests', panels: requestPanels(names(own)) },
            ...(PRODUCT_ROWS[product] ?? []),
            { title: 'Database and outbox', panels: [...poolPanels(names(own)), ...outboxPanels(product)] },
            { title: 'Pods', panels: processPanels(FUNCTION_PROCESS, fnPods(names(own))).map((p) => ({ ...p, width: 8 })) },
          ],
        },
        `${HTTP}_count`,
      ),
    );
  }
  out.set('ingress', ingressDashboard(ownRows('ingress')));
  out.set('eventing', eventingDashboard(decls, products, [...ownRows('eventing'), ...ownRows(DEAD_LETTER_PRODUCT)]));
  return out;
}

function ingressDashboard(extra: Row[]): Record<string, unknown> {
  const req = 'zeno_ingress_requests_total';
  const dur = 'zeno_ingress_request_duration_seconds';
  return dashboardJson(
    {
      uid: 'zenokube-ingress',
      title: 'Zenokube / Ingress',
      description: 'ZenoIngress: traffic per route rule and backend, upstream failures, circuit breakers, certificates.',
      rows: [
        {
          title: 'Traffic',
          panels: [
            { title: 'Requests per second by route', unit: 'reqps', queries: [{ expr: `sum by (route) (${rate(`${req}{${NS}}`)})`, legend: '{{route}}' }] },
            { title: 'Share of 5xx answers by backend', unit: 'percentunit', queries: [{ expr: `sum by (backend) (${rate(`${req}{${NS}, code=~"5.."}`)}) / sum by (backend) (${rate(`${req}{${NS}}`)})`, legend: '{{backend}}' }] },
            { title: 'Latency p99 by route', unit: 's', queries: [{ expr: `histogram_quantile(0.99, sum by (route, le) (${rate(`${dur}_bucket{${NS}}`)}))`, legend: '{{route}}' }] },
            { title: 'Answers by status code', unit: 'reqps', queries: [{ expr: `sum by (code) (${rate(`${req}{${NS}}`)})`, legend: '{{code}}' }] },
          ],
        },
        {
          title: 'Upstreams',
          panels: [
            { title: 'Upstream failures by backend and error', unit: 'short', queries: [{ expr: `sum by (backend, error) (${rate(`zeno_ingress_upstream_errors_total{${NS}}`)})`, legend: '{{backend}} {{error}}' }] },
            { title: 'Circuit breakers open (2) or half-open (1)', queries: [{ expr: `max by (endpoint) (zeno_ingress_circuit_state{${NS}}) > 0`, legend: '{{endpoint}}' }] },
          ],
        },
        {
          title: 'Certificates',
          panels: [
            {
              title: 'Days until each listener certificate expires',
              unit: 'd',
              width: 24,
              queries: [{ expr: `(min by (gateway, port, hostname) (zeno_ingress_certificate_expiry_timestamp_seconds{${NS}}) - time()) / 86400`, legend: '{{gateway}}:{{port}} {{hostname}}' }],
            },
          ],
        },
        { title: 'Pods', panels: processPanels(INGRESS_PROCESS, ', pod=~"zenokube-ingress-.*"').map((p) => ({ ...p, width: 8 })) },
        ...extra,
      ],
    },
    // A process metric: there from the first scrape, before any request has made a series.
    `${INGRESS_PROCESS}process_resident_memory_bytes`,
  );
}

function eventingDashboard(decls: readonly FunctionDeclaration[], products: string[], extra: Row[]): Record<string, unknown> {
  const paths = [...new Set(['/_events', ...decls.flatMap((d) => (d.subscribes ?? []).map((s) => s.path ?? '/_events'))])].sort();
  const consumers = decls.filter((d) => (d.subscribes ?? []).length > 0);
  const sel = `${NS}, fn=~"${names(consumers) || 'none'}", route=~"${paths.join('|')}"`;
  return dashboardJson(
    {
      uid: 'zenokube-eventing',
      title: 'Zenokube / Eventing',
      description: 'Events end to end: the outboxes producers write, deliveries to subscribers, dead letters.',
      rows: [
        { title: 'Producers (outbox)', panels: outboxPanels(products.join('|')) },
        {
          title: 'Deliveries to subscribers',
          panels: [
            { title: 'Deliveries per second by subscriber and status', unit: 'reqps', queries: [{ expr: `sum by (fn, status) (${rate(`${HTTP}_count{${sel}}`)})`, legend: '{{fn}} {{status}}' }] },
            { title: 'Handling time p99 by subscriber', unit: 's', queries: [{ expr: `histogram_quantile(0.99, sum by (fn, le) (${rate(`${HTTP}_bucket{${sel}}`)}))`, legend: '{{fn}}' }] },
          ],
        },
        { title: 'Dead letters', panels: deadLetterPanels },
        ...extra,
      ],
    },
    `${HTTP}_count`,
  );
}
