// Structural checks of the Grafana dashboards we ship: a JSON schema of the subset of Grafana's
// dashboard model the generator uses (strict: an unknown key is a typo), and the rules a schema
// cannot say (unique panel ids, panels on the 24-column grid without overlap, known variables).
// @see https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/
import { Ajv } from 'ajv';

const datasource = {
  type: 'object',
  required: ['type', 'uid'],
  additionalProperties: false,
  properties: { type: { const: 'prometheus' }, uid: { type: 'string', minLength: 1 } },
};

const gridPos = {
  type: 'object',
  required: ['h', 'w', 'x', 'y'],
  additionalProperties: false,
  properties: { h: { type: 'integer', minimum: 1 }, w: { type: 'integer', minimum: 1, maximum: 24 }, x: { type: 'integer', minimum: 0, maximum: 23 }, y: { type: 'integer', minimum: 0 } },
};

const row = {
  type: 'object',
  required: ['id', 'type', 'title', 'gridPos', 'collapsed', 'panels'],
  additionalProperties: false,
  properties: { id: { type: 'integer' }, type: { const: 'row' }, title: { type: 'string', minLength: 1 }, collapsed: { type: 'boolean' }, gridPos, panels: { type: 'array', maxItems: 0 } },
};

const panel = {
  type: 'object',
  required: ['id', 'type', 'title', 'datasource', 'gridPos', 'targets', 'fieldConfig', 'options'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer', minimum: 1 },
    type: { enum: ['timeseries', 'stat'] },
    title: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    datasource,
    gridPos,
    targets: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['refId', 'datasource', 'expr'],
        additionalProperties: false,
        properties: { refId: { type: 'string', pattern: '^[A-Z]$' }, datasource, expr: { type: 'string', minLength: 1 }, legendFormat: { type: 'string' } },
      },
    },
    fieldConfig: {
      type: 'object',
      required: ['defaults', 'overrides'],
      additionalProperties: false,
      properties: { defaults: { type: 'object', required: ['unit'], additionalProperties: false, properties: { unit: { type: 'string' } } }, overrides: { type: 'array', maxItems: 0 } },
    },
    options: { type: 'object' },
  },
};

const variable = {
  type: 'object',
  required: ['name', 'type', 'query', 'current', 'hide'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
    label: { type: 'string' },
    type: { enum: ['datasource', 'query'] },
    datasource,
    query: { anyOf: [{ type: 'string' }, { type: 'object', required: ['query', 'refId'], additionalProperties: false, properties: { query: { type: 'string' }, refId: { type: 'string' } } }] },
    definition: { type: 'string' },
    refresh: { enum: [1, 2] },
    multi: { type: 'boolean' },
    includeAll: { type: 'boolean' },
    current: { type: 'object' },
    hide: { enum: [0, 1, 2] },
  },
};

const dashboardSchema = {
  type: 'object',
  required: ['uid', 'title', 'schemaVersion', 'panels', 'templating', 'time'],
  additionalProperties: false,
  properties: {
    uid: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,40}$' },
    title: { type: 'string', minLength: 1 },
    description: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    editable: { type: 'boolean' },
    graphTooltip: { enum: [0, 1, 2] },
    schemaVersion: { type: 'integer', minimum: 36 },
    version: { type: 'integer' },
    refresh: { type: 'string' },
    time: { type: 'object', required: ['from', 'to'], additionalProperties: false, properties: { from: { type: 'string' }, to: { type: 'string' } } },
    timezone: { type: 'string' },
    templating: { type: 'object', required: ['list'], additionalProperties: false, properties: { list: { type: 'array', items: variable } } },
    annotations: { type: 'object' },
    panels: { type: 'array', minItems: 1, items: { anyOf: [row, panel] } },
  },
};

const validate = new Ajv({ allErrors: true }).compile(dashboardSchema);

/** Grafana's global variables our queries may use. */
const BUILTIN_VARIABLES = new Set(['__rate_interval', '__interval', '__range']);

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { uid: string };
  targets?: { expr: string; refId: string; datasource: { uid: string } }[];
}

/** Everything wrong with a dashboard's JSON; empty when Grafana would load it as we mean it. */
export function dashboardProblems(json: unknown): string[] {
  if (!validate(json)) return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
  const d = json as { panels: Panel[]; templating: { list: { name: string }[] } };
  const problems: string[] = [];
  const variables = new Set(d.templating.list.map((v) => v.name));
  const ids = new Set<number>();
  const cells = new Map<string, string>();
  for (const p of d.panels) {
    if (ids.has(p.id)) problems.push(`panel id ${p.id} is used twice`);
    ids.add(p.id);
    const { h, w, x, y } = p.gridPos;
    if (x + w > 24) problems.push(`panel "${p.title}" overflows the 24-column grid`);
    for (let r = y; r < y + h; r++) {
      for (let c = x; c < x + w; c++) {
        const other = cells.get(`${r}:${c}`);
        if (other) {
          problems.push(`panel "${p.title}" overlaps "${other}"`);
          r = y + h;
          break;
        }
        cells.set(`${r}:${c}`, p.title);
      }
    }
    const refIds = new Set<string>();
    for (const t of p.targets ?? []) {
      if (refIds.has(t.refId)) problems.push(`panel "${p.title}": refId ${t.refId} twice`);
      refIds.add(t.refId);
      for (const [, name] of t.expr.matchAll(/\$\{?(\w+)\}?/g)) {
        if (!variables.has(name!) && !BUILTIN_VARIABLES.has(name!)) problems.push(`panel "${p.title}": unknown variable $${name}`);
      }
    }
    for (const ds of [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]) {
      const m = ds && /^\$\{(\w+)\}$/.exec(ds.uid);
      if (ds && (!m || !variables.has(m[1]!))) problems.push(`panel "${p.title}": data source ${ds.uid} is not a dashboard variable`);
    }
  }
  return problems;
}

/** Expressions with Grafana's variables replaced by values PromQL accepts, for parsing. */
export function substituteVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?namespace\}?/g, '.*');
}
