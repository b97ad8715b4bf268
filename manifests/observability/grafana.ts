// Grafana dashboards as data: the subset of the dashboard JSON model we emit (time series and
// stat panels on a Prometheus data source chosen by a variable), laid out on Grafana's 24-column grid.
// @see https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/

/** One PromQL query of a panel. `$__rate_interval` and `$namespace` are Grafana variables. */
export interface Query {
  expr: string;
  legend?: string;
}

export interface PanelSpec {
  title: string;
  description?: string;
  kind?: 'timeseries' | 'stat';
  /** Grafana unit id: `reqps`, `s`, `percentunit`, `short`, `bytes`, `dtdurations`… */
  unit?: string;
  queries: Query[];
  /** Columns of 24 (default 12). */
  width?: number;
}

interface Dashboard {
  /** Stable, so an imported dashboard is replaced rather than duplicated. */
  uid: string;
  title: string;
  description: string;
  rows: { title: string; panels: PanelSpec[] }[];
}

const PANEL_HEIGHT = 8;
const GRID_WIDTH = 24;
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** The namespace filter every query carries: the variable holds the namespaces the app runs in. */
export const NS = 'namespace=~"$namespace"';

/** The Grafana JSON of a dashboard; panels flow left to right, a row starts on a new line. */
export function dashboardJson(d: Dashboard, namespaceMetric: string): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of d.rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: GRID_WIDTH, x: 0, y }, panels: [] });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      const w = p.width ?? 12;
      if (x + w > GRID_WIDTH) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(panelJson(p, id++, { h: PANEL_HEIGHT, w, x, y }));
      x += w;
    }
    y += PANEL_HEIGHT;
  }
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['zenokube'],
    editable: false,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0 },
        {
          name: 'namespace',
          label: 'Namespace',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: `label_values(${namespaceMetric}, namespace)`, refId: 'namespace' },
          definition: `label_values(${namespaceMetric}, namespace)`,
          refresh: 2,
          multi: true,
          includeAll: true,
          current: {},
          hide: 0,
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}

function panelJson(p: PanelSpec, id: number, gridPos: { h: number; w: number; x: number; y: number }): Record<string, unknown> {
  const kind = p.kind ?? 'timeseries';
  return {
    id,
    type: kind,
    title: p.title,
    ...(p.description ? { description: p.description } : {}),
    datasource: DATASOURCE,
    gridPos,
    targets: p.queries.map((q, i) => ({ refId: String.fromCharCode(65 + i), datasource: DATASOURCE, expr: q.expr, ...(q.legend ? { legendFormat: q.legend } : {}) })),
    fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
    options:
      kind === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none' }
        : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
  };
}
